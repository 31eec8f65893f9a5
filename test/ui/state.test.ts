// The UI's behaviour as data: the pure reducer (src/ui/state.ts) from state + key to a new state
// and the effects app.ts runs — no blessed, no store, no engine.
import { describe, expect, it } from 'vitest';
import type { Flow } from '../../src/store/index.ts';
import {
  initialState,
  reduce,
  settle,
  shownPanel,
  type UiEnv,
  type UiInput,
  type UiState,
} from '../../src/ui/state.ts';

const flows = (n: number): Flow[] =>
  Array.from({ length: n }, (_, i) => ({ id: `f${i + 1}`, host: 'bank.test' }) as unknown as Flow);

function env(over: Partial<UiEnv> = {}): UiEnv {
  return {
    now: 1_000,
    rows: flows(5),
    storeSize: 5,
    listRows: 4,
    detailRows: 10,
    hasGuide: true,
    readOnly: false,
    readOnlyWhy: 'when attached',
    canTour: true,
    tourWaiting: false,
    lessons: 5,
    ...over,
  };
}

const key = (action: Extract<UiInput, { type: 'action' }>['action']): UiInput => ({
  type: 'action',
  action,
});

/** Press keys in order from `s`; the last step (state and effects). */
function press(s: UiState, e: UiEnv, ...actions: Parameters<typeof key>[0][]) {
  let step = { state: s, effects: [] as ReturnType<typeof reduce>['effects'] };
  for (const a of actions) step = reduce(step.state, key(a), e);
  return step;
}

describe('reduce: the flow list', () => {
  it('follows the newest flow until the user moves up, and again after End', () => {
    const e = env();
    let s = settle(initialState(), e.rows, 3);
    expect(s.selectedId).toBe('f5');
    s = press(s, e, 'up', 'up').state;
    expect(s.follow).toBe(false);
    expect(s.selectedId).toBe('f3');
    // A new flow arrives: the selection stays where the user put it.
    expect(settle(s, flows(6), 3).selectedId).toBe('f3');
    s = press(s, e, 'end').state;
    expect(settle(s, flows(6), 3).selectedId).toBe('f6');
  });

  it('keeps the selected row in the visible window', () => {
    const e = env({ rows: flows(20) });
    let s = settle(initialState(), e.rows, 3);
    expect(s.listTop).toBe(17);
    s = settle(press(s, e, 'home').state, e.rows, 3);
    expect(s.selectedId).toBe('f1');
    expect(s.listTop).toBe(0);
  });

  it('Enter opens a flow and arrows then scroll its view; Esc closes, then clears the filter', () => {
    const e = env();
    let s = press(initialState(), e, 'open').state;
    expect(s.open).toBe(true);
    s = press(s, e, 'down', 'down').state;
    expect(s.detailScroll).toBe(2);
    s = reduce({ ...s, filter: { host: 'bank' } } as UiState, key('back'), e).state;
    expect(s.open).toBe(false);
    expect(s.filter).toEqual({ host: 'bank' });
    s = press(s, e, 'back').state;
    expect(s.filter).toEqual({});
    expect(s.message?.text).toBe('filter cleared');
    expect(s.message?.until).toBe(1_000 + 4000);
  });

  it('p freezes the rows as they are and says the proxy keeps running', () => {
    const e = env();
    const s = press(initialState(), e, 'pause').state;
    expect(s.paused?.flows.map((f) => f.id)).toEqual(['f1', 'f2', 'f3', 'f4', 'f5']);
    expect(s.message?.text).toMatch(/proxy keeps running/);
    expect(press(s, e, 'pause').state.paused).toBeNull();
  });

  it('typing a filter: characters, backspace, Enter applies it, Esc cancels', () => {
    const e = env();
    let s = press(initialState(), e, 'filter').state;
    expect(s.editing).toBe('');
    for (const ch of 'host:bankx') s = reduce(s, { type: 'edit', name: ch, ch }, e).state;
    s = reduce(s, { type: 'edit', name: 'backspace' }, e).state;
    s = reduce(s, { type: 'edit', name: 'enter' }, e).state;
    expect(s.editing).toBeNull();
    expect(s.filter).toMatchObject({ host: 'bank' });
  });
});

describe('reduce: effects on the engine', () => {
  it('asks for the engine only through effects, and not at all when read-only', () => {
    const e = env();
    expect(press(initialState(), e, 'mode').effects).toEqual([{ kind: 'cycleMode' }]);
    expect(press(initialState(), e, 'forget').effects).toEqual([{ kind: 'forget' }]);
    expect(press(initialState(), e, 'reset').effects).toEqual([{ kind: 'reset' }]);
    expect(press(initialState(), e, 'clear').effects).toEqual([{ kind: 'clearStore' }]);
    const ro = env({ readOnly: true, readOnlyWhy: 'in a replay' });
    for (const a of ['mode', 'forget', 'reset'] as const) {
      const step = press(initialState(), ro, a);
      expect(step.effects).toEqual([]);
      expect(step.state.message?.text).toContain('not available in a replay');
    }
  });

  it('R drops a pause and follows again, so the emptied list shows what comes next', () => {
    const e = env();
    const s = press(initialState(), e, 'up', 'pause', 'reset').state;
    expect(s.paused).toBeNull();
    expect(s.follow).toBe(true);
  });

  it('q quits through an effect; e, y ask for their files', () => {
    expect(press(initialState(), env(), 'quit').effects).toEqual([{ kind: 'quit' }]);
    expect(press(initialState(), env(), 'export').effects).toEqual([{ kind: 'export' }]);
    expect(press(initialState(), env(), 'saveGuide').effects).toEqual([{ kind: 'saveGuide' }]);
  });
});

describe('reduce: panels', () => {
  it('shows the start page by itself only while nothing is listed', () => {
    const s = initialState();
    expect(shownPanel(s, { hasGuide: true, storeSize: 0 })).toBe('guide');
    expect(shownPanel(s, { hasGuide: true, storeSize: 3 })).toBe('none');
    expect(shownPanel(s, { hasGuide: false, storeSize: 0 })).toBe('none');
  });

  it('l opens Lessons: Up/Down choose an exercise, Enter shows its steps, Esc backs out', () => {
    const e = env();
    let s = press(initialState(), e, 'lessons').state;
    expect(s.panel).toBe('lessons');
    s = press(s, e, 'down', 'down', 'down', 'down', 'down', 'down').state;
    expect(s.lesson).toEqual({ index: 4, open: false }); // five exercises: stops at the last
    s = press(s, e, 'up', 'open').state;
    expect(s.lesson).toEqual({ index: 3, open: true });
    // Open, arrows scroll the steps instead of moving the cursor.
    s = press(s, e, 'down').state;
    expect(s.lesson.index).toBe(3);
    expect(s.detailScroll).toBe(1);
    s = press(s, e, 'back').state;
    expect(s.lesson.open).toBe(false);
    expect(s.panel).toBe('lessons');
    s = press(s, e, 'back').state;
    expect(s.panel).toBe('none');
    expect(press(press(initialState(), e, 'lessons').state, e, 'lessons').state.panel).toBe('none');
  });

  it('l says so where there are no lessons', () => {
    const step = press(initialState(), env({ lessons: 0 }), 'lessons');
    expect(step.state.panel).toBe('none');
    expect(step.state.message?.text).toContain('lessons: not available');
  });

  it('t opens the tour panel; Enter runs the waiting step, and only when one waits', () => {
    let step = press(initialState(), env(), 'tour');
    expect(step.state.panel).toBe('tour');
    expect(step.effects).toEqual([{ kind: 'tour' }]);
    expect(reduce(step.state, key('open'), env({ tourWaiting: true })).effects).toEqual([
      { kind: 'tourNext' },
    ]);
    step = reduce(step.state, key('open'), env({ tourWaiting: false }));
    expect(step.effects).toEqual([]);
    expect(step.state.message?.text).toMatch(/running this step/);
    const none = press(initialState(), env({ canTour: false }), 'tour');
    expect(none.effects).toEqual([]);
    expect(none.state.message?.text).toContain('tour: not available here');
  });

  it('a view key leaves a panel for the flow', () => {
    const s = press(initialState(), env(), 'leaks', 'view4').state;
    expect(s.panel).toBe('none');
    expect(s.view).toBe(3);
  });

  it('o lists only lab hosts; Esc lists every host again', () => {
    let s = press(initialState(), env(), 'labOnly').state;
    expect(s.labOnly).toBe(true);
    s = press(s, env(), 'back').state;
    expect(s.labOnly).toBe(false);
  });

  it('the help overlay takes the keys: scroll keys scroll it, another key closes it', () => {
    let s = press(initialState(), env(), 'help').state;
    s = press(s, env(), 'down', 'pageDown').state;
    expect(s.help).toBe(true);
    expect(s.helpScroll).toBe(11);
    s = reduce(s, { type: 'unbound' }, env()).state;
    expect(s.help).toBe(false);
    // q still quits from the overlay.
    expect(press(initialState(), env(), 'help', 'quit').effects).toEqual([{ kind: 'quit' }]);
  });
});
