// The terminal UI's state and its pure reducer: every key turns (state, environment) into a new
// state plus the effects to run (clear the store, ask the engine to change mode…). Nothing here
// touches blessed, the store or the engine, so the whole of the UI's behaviour is tested as
// plain data (test/ui/state.test.ts); app.ts runs the effects and draws. mitmproxy's
// tools/console keeps keymap, commands and views apart the same way.
import { describeFilter, parseFilter, type Flow, type FlowFilter } from '../store/index.ts';
import { VIEWS, type Action } from './keymap.ts';

/** What fills the detail pane besides a flow's view. */
export type Panel = 'none' | 'guide' | 'lessons' | 'leaks' | 'tour';

export interface UiState {
  /** The detail view (0 = Wire … 4 = Timeline). */
  view: number;
  selectedId: string | null;
  selectedIndex: number;
  /** Keep the newest flow selected as flows arrive. */
  follow: boolean;
  /** First list row shown. */
  listTop: number;
  /** The detail pane fills the screen. */
  open: boolean;
  detailScroll: number;
  filter: FlowFilter;
  /** The filter being typed, or null. */
  editing: string | null;
  /** The list frozen by `p`: the flows as they were, and the store's size then. */
  paused: { flows: readonly Flow[]; size: number } | null;
  /** Passwords, cookies and tokens hidden. */
  redact: boolean;
  help: boolean;
  helpScroll: number;
  /** A footer message and when it goes (ms since the epoch). */
  message: { text: string; until: number } | null;
  /** The panel asked for (`none`: the flow, or the start page while nothing is listed). */
  panel: Panel;
  /** The Lessons panel: the exercise under the cursor, and whether its steps are open. */
  lesson: { index: number; open: boolean };
  /** Only the lab's hosts are listed (`o`): a browser's background traffic is hidden. */
  labOnly: boolean;
  /** The proxy's mode as last known. */
  mode: string;
}

/** What the reducer may read of the world at the moment of the key. */
export interface UiEnv {
  now: number;
  /** The rows listed now (filtered, or the paused ones). */
  rows: readonly Flow[];
  storeSize: number;
  /** Rows of the list pane (with its header line); 0 when a flow is open. */
  listRows: number;
  /** Rows of the detail pane. */
  detailRows: number;
  /** A start page exists (it shows by itself while nothing is listed). */
  hasGuide: boolean;
  /** No Controls: a viewer attached to a feed, or a replay. */
  readOnly: boolean;
  /** Why the engine's keys do nothing here, when readOnly (e.g. "when attached"). */
  readOnlyWhy: string;
  /** The tour key works here (start). */
  canTour: boolean;
  /** A tour runs and waits for Enter before its next step. */
  tourWaiting: boolean;
  /** How many exercises the Lessons panel lists (0: no lessons here). */
  lessons: number;
}

/** Side effects the reducer asks for; app.ts runs them (and reports their result). */
export type UiEffect =
  | { kind: 'clearStore' }
  | { kind: 'cycleMode' }
  | { kind: 'cycleTlsMax' }
  | { kind: 'forget' }
  | { kind: 'reset' }
  | { kind: 'export' }
  | { kind: 'tour' }
  | { kind: 'tourNext' }
  | { kind: 'saveGuide' }
  | { kind: 'quit' };

/** One input: a bound key's action, or a raw key while the filter is being typed. */
export type UiInput =
  | { type: 'action'; action: Action }
  /** A key bound to nothing: it only closes the help overlay. */
  | { type: 'unbound' }
  | { type: 'edit'; name: string; ch?: string | undefined };

export interface UiStep {
  state: UiState;
  effects: UiEffect[];
}

/** How long a footer message stays, ms. */
export const MESSAGE_MS = 4000;

export function initialState(opts: { redact?: boolean; mode?: string } = {}): UiState {
  return {
    view: 0,
    selectedId: null,
    selectedIndex: 0,
    follow: true,
    listTop: 0,
    open: false,
    detailScroll: 0,
    filter: {},
    editing: null,
    paused: null,
    redact: opts.redact ?? true,
    help: false,
    helpScroll: 0,
    message: null,
    panel: 'none',
    lesson: { index: 0, open: false },
    labOnly: false,
    mode: opts.mode ?? '?',
  };
}

/** The state with a footer message. */
export function say(s: UiState, text: string, now: number, ms = MESSAGE_MS): UiState {
  return { ...s, message: { text, until: now + ms } };
}

/** The panel the detail pane shows: the one asked for, or the start page while nothing shows. */
export function shownPanel(s: UiState, env: Pick<UiEnv, 'hasGuide' | 'storeSize'>): Panel {
  if (s.panel !== 'none') return s.panel;
  return env.hasGuide && !s.paused && env.storeSize === 0 ? 'guide' : 'none';
}

/** The index of the selected row in `rows` (-1 when empty). */
export function selectIndex(s: UiState, rows: readonly Flow[]): number {
  if (rows.length === 0) return -1;
  if (s.follow) return rows.length - 1;
  if (s.selectedId !== null) {
    const i = rows.findIndex((f) => f.id === s.selectedId);
    if (i >= 0) return i;
  }
  return Math.min(Math.max(0, s.selectedIndex), rows.length - 1);
}

/** Settle the selection and the list's scroll for a frame: `visible` list rows. */
export function settle(s: UiState, rows: readonly Flow[], visible: number): UiState {
  const selectedIndex = selectIndex(s, rows);
  const selectedId = selectedIndex >= 0 ? rows[selectedIndex]!.id : null;
  let listTop = s.listTop;
  if (visible > 0) {
    if (selectedIndex < listTop) listTop = Math.max(0, selectedIndex);
    if (selectedIndex >= listTop + visible) listTop = selectedIndex - visible + 1;
    listTop = Math.max(0, Math.min(listTop, Math.max(0, rows.length - visible)));
  }
  if (selectedIndex === s.selectedIndex && selectedId === s.selectedId && listTop === s.listTop)
    return s;
  return { ...s, selectedIndex, selectedId, listTop };
}

function move(s: UiState, env: UiEnv, delta: number): UiState {
  const rows = env.rows;
  if (rows.length === 0) return s;
  const i = Math.max(0, Math.min(rows.length - 1, selectIndex(s, rows) + delta));
  return {
    ...s,
    selectedIndex: i,
    selectedId: rows[i]!.id,
    follow: i === rows.length - 1 && delta > 0,
    detailScroll: 0,
  };
}

function scroll(s: UiState, delta: number): UiState {
  return { ...s, detailScroll: Math.max(0, s.detailScroll + delta) };
}

const SCROLL_KEYS = new Set<Action>(['up', 'down', 'pageUp', 'pageDown']);

function scrollStep(action: Action, rows: number): number {
  const page = Math.max(1, rows - 1);
  return action === 'up' ? -1 : action === 'down' ? 1 : action === 'pageUp' ? -page : page;
}

/** Open or close a panel; the same key closes it. */
function toggle(s: UiState, panel: Panel): UiState {
  return { ...s, panel: s.panel === panel ? 'none' : panel, detailScroll: 0, open: false };
}

/** The reducer: one input, the state it leads to and the effects to run. Pure. */
export function reduce(s: UiState, input: UiInput, env: UiEnv): UiStep {
  if (input.type === 'edit') return { state: edit(s, input.name, input.ch), effects: [] };
  if (input.type === 'unbound') return { state: s.help ? { ...s, help: false } : s, effects: [] };
  const action = input.action;
  const none: UiEffect[] = [];
  const done = (state: UiState, effects: UiEffect[] = none): UiStep => ({ state, effects });

  // The help overlay takes the keys while it is up: scroll keys scroll it, any other closes it.
  if (s.help) {
    if (SCROLL_KEYS.has(action))
      return done({ ...s, helpScroll: Math.max(0, s.helpScroll + scrollStep(action, 11)) });
    if (action !== 'quit') return done({ ...s, help: false });
  }

  const panel = shownPanel(s, env);
  // Panels first: each gives Up/Down/Enter/Esc their own meaning.
  if (panel === 'lessons' && env.lessons > 0) {
    const l = s.lesson;
    if (!l.open && (action === 'up' || action === 'down')) {
      const index = Math.max(0, Math.min(env.lessons - 1, l.index + (action === 'up' ? -1 : 1)));
      return done({ ...s, lesson: { index, open: false }, detailScroll: 0 });
    }
    if (action === 'open') return done({ ...s, lesson: { ...l, open: !l.open }, detailScroll: 0 });
    if (action === 'back')
      return done(
        l.open
          ? { ...s, lesson: { ...l, open: false }, detailScroll: 0 }
          : { ...s, panel: 'none', detailScroll: 0 },
      );
  }
  if (panel === 'tour') {
    if (action === 'open')
      return env.tourWaiting
        ? done({ ...s, detailScroll: 0 }, [{ kind: 'tourNext' }])
        : done(say(s, 'the tour is running this step: Enter goes on once it is done', env.now));
    if (action === 'back') return done({ ...s, panel: 'none', detailScroll: 0 });
  }
  if ((panel === 'guide' || panel === 'leaks') && action === 'back')
    return done({ ...s, panel: 'none', detailScroll: 0 });
  // A panel (and the start page) scrolls like an open flow: it may be longer than the pane.
  if (panel !== 'none' && !s.open && SCROLL_KEYS.has(action))
    return done(scroll(s, scrollStep(action, env.detailRows)));

  const page = Math.max(1, (s.open ? env.detailRows : env.listRows - 1) - 1);
  switch (action) {
    case 'up':
      return done(s.open ? scroll(s, -1) : move(s, env, -1));
    case 'down':
      return done(s.open ? scroll(s, 1) : move(s, env, 1));
    case 'pageUp':
      return done(s.open ? scroll(s, -page) : move(s, env, -page));
    case 'pageDown':
      return done(s.open ? scroll(s, page) : move(s, env, page));
    case 'home':
      return done(s.open ? { ...s, detailScroll: 0 } : move(s, env, -Number.MAX_SAFE_INTEGER));
    case 'end':
      return done(
        s.open
          ? { ...s, detailScroll: Number.MAX_SAFE_INTEGER }
          : { ...s, follow: true, detailScroll: 0 },
      );
    case 'open':
      return done({ ...s, open: !s.open, detailScroll: 0 });
    case 'back':
      if (s.open) return done({ ...s, open: false });
      if (describeFilter(s.filter))
        return done(say({ ...s, filter: {} }, 'filter cleared', env.now));
      if (s.labOnly) return done(say({ ...s, labOnly: false }, 'every host listed again', env.now));
      return done(s);
    case 'nextView':
    case 'prevView': {
      const view = (s.view + (action === 'nextView' ? 1 : VIEWS.length - 1)) % VIEWS.length;
      return done({ ...s, view, detailScroll: 0, panel: 'none' });
    }
    case 'view1':
    case 'view2':
    case 'view3':
    case 'view4':
    case 'view5':
      return done({ ...s, view: Number(action.slice(4)) - 1, detailScroll: 0, panel: 'none' });
    case 'filter':
      return done({ ...s, editing: describeFilter(s.filter) });
    case 'pause':
      return s.paused
        ? done(say({ ...s, paused: null }, 'resumed', env.now))
        : done(
            say(
              { ...s, paused: { flows: env.rows.slice(), size: env.storeSize } },
              'paused: the proxy keeps running; p resumes the list',
              env.now,
            ),
          );
    case 'clear':
      return done(
        say(
          {
            ...s,
            paused: s.paused ? { flows: [], size: 0 } : null,
            follow: true,
            selectedId: null,
            detailScroll: 0,
          },
          'cleared',
          env.now,
        ),
        [{ kind: 'clearStore' }],
      );
    case 'mode':
      if (env.readOnly) return done(say(s, `mode: not available ${env.readOnlyWhy}`, env.now));
      return done(s, [{ kind: 'cycleMode' }]);
    case 'tlsMax':
      if (env.readOnly)
        return done(say(s, `TLS version: not available ${env.readOnlyWhy}`, env.now));
      return done(s, [{ kind: 'cycleTlsMax' }]);
    case 'forget':
      if (env.readOnly) return done(say(s, `forget: not available ${env.readOnlyWhy}`, env.now));
      return done(s, [{ kind: 'forget' }]);
    case 'reset':
      if (env.readOnly) return done(say(s, `reset: not available ${env.readOnlyWhy}`, env.now));
      // The list empties when the engine's lab.reset event arrives (so every viewer agrees).
      return done(
        { ...s, paused: null, follow: true, selectedId: null, detailScroll: 0, open: false },
        [{ kind: 'reset' }],
      );
    case 'labOnly':
      return done(
        say(
          { ...s, labOnly: !s.labOnly, follow: true, detailScroll: 0 },
          s.labOnly
            ? 'every host listed again'
            : "only the lab's hosts (.test, .localhost) are listed: o lists every host again",
          env.now,
        ),
      );
    case 'redact':
      return done(
        say(
          { ...s, redact: !s.redact },
          s.redact ? 'secrets shown: r hides them again' : 'secrets hidden',
          env.now,
        ),
      );
    case 'export':
      return done(s, [{ kind: 'export' }]);
    case 'tour':
      if (!env.canTour)
        return done(
          say(s, 'tour: not available here (the victim tour runs in mitm-lab start)', env.now),
        );
      return done({ ...s, panel: 'tour', open: false, detailScroll: 0 }, [{ kind: 'tour' }]);
    case 'guide':
      return done(toggle(s, 'guide'));
    case 'saveGuide':
      return done(s, [{ kind: 'saveGuide' }]);
    case 'lessons':
      if (env.lessons === 0) return done(say(s, 'lessons: not available here', env.now));
      return done(toggle(s, 'lessons'));
    case 'leaks':
      return done(toggle(s, 'leaks'));
    case 'help':
      return done({ ...s, help: !s.help, helpScroll: 0 });
    case 'quit':
      return done(s, [{ kind: 'quit' }]);
    default: {
      const never: never = action;
      return never;
    }
  }
}

/** A key while the filter is typed. */
function edit(s: UiState, name: string, ch: string | undefined): UiState {
  const text = s.editing ?? '';
  if (name === 'enter')
    return { ...s, filter: parseFilter(text), editing: null, follow: true, detailScroll: 0 };
  if (name === 'escape') return { ...s, editing: null };
  if (name === 'backspace') return { ...s, editing: text.slice(0, -1) };
  if (name === 'C-u') return { ...s, editing: '' };
  if (ch && ch.length === 1 && ch >= ' ' && ch !== '\x7f') return { ...s, editing: text + ch };
  return s;
}
