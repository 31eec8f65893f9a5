// The optional tour key (`t`, bound through startUi's `actions`), its narration in the UI
// (`ui.log`), and the start page (`guide`: the empty state, and `g` at any time), asserted from
// the rendered screen of a real blessed screen on fake terminal streams.
import { afterEach, describe, expect, it } from 'vitest';
import { FlowStore } from '../../src/store/index.ts';
import { lesson } from '../store/fixtures.ts';
import { waitFor } from '../support/wait.ts';
import { headless, type Harness } from './harness.ts';

let open: Harness[] = [];
afterEach(() => {
  for (const h of open) h.close();
  open = [];
});

const GUIDE = [
  'Proxy http://127.0.0.1:8080 (mode auto)',
  '1. Plain HTTP: the password crosses in clear',
  '   curl -x http://127.0.0.1:8080 -d user=alice http://bank.test/login',
  "Projector: mitm-lab attach 'ws://127.0.0.1:4444/?token=abc'",
];

function ui(opts: Parameters<typeof headless>[1] = {}, withFlows = false): Harness {
  const store = new FlowStore();
  if (withFlows) for (const e of lesson().events) store.apply(e);
  const h = headless(store, { rows: 40, cols: 120, ...opts });
  open.push(h);
  return h;
}

describe('the tour key', () => {
  it('t opens the tour panel and runs the tour step by step: Enter runs each step', async () => {
    let runs = 0;
    const ran: number[] = [];
    const h = ui({
      guide: GUIDE,
      actions: {
        tour: async (print, beforeStep) => {
          runs++;
          print('victim tour: a normal device');
          for (const [i, title] of ['Log in over plain HTTP', 'HTTPS'].entries()) {
            await beforeStep(i + 1, 2, title);
            ran.push(i + 1);
            print(`[${i + 1}/2] ${title} — http://bank.test/`);
            print(i === 0 ? '    ok: 200' : '    refused: unable to get local issuer certificate');
          }
          print('victim tour done (normal)');
        },
      },
    });
    expect(h.screen()).toMatch(/t tour/); // hinted in the footer where it works
    await h.press('t');
    expect(runs).toBe(1);
    await waitFor(() => h.screen().includes('Enter: run step 1/2'), 'the first step offered');
    let s = h.screen();
    expect(s).toContain('Victim tour: Enter next step'); // the tab bar names the panel
    expect(s).toContain('victim tour: a normal device');
    expect(ran).toEqual([]); // nothing runs before Enter: the room reads at its own pace
    await h.press('enter');
    await waitFor(() => h.screen().includes('Enter: run step 2/2'), 'the second step offered');
    s = h.screen();
    expect(ran).toEqual([1]);
    expect(s).toContain('[1/2] Log in over plain HTTP');
    expect(s).toContain('ok: 200'); // the current step in full
    // t again while it runs shows the same tour; it does not start another.
    await h.press('escape', 't');
    expect(runs).toBe(1);
    await h.press('C-t');
    expect(runs).toBe(1);
    await h.press('enter');
    await waitFor(() => h.screen().includes('The tour is over'), 'the end of the tour');
    s = h.screen();
    expect(ran).toEqual([1, 2]);
    expect(s).toContain('refused: unable to get local issuer certificate');
    // The start page keeps the narration, under its own heading.
    await h.press('g');
    s = h.screen();
    expect(s).toContain('Victim tour');
    expect(s).toContain('[2/2] HTTPS');
  });

  it('without a tour action, t says it is not available here and the footer does not hint it', async () => {
    const h = ui();
    expect(h.screen()).not.toMatch(/t tour/);
    await h.press('t');
    expect(h.screen()).toContain('tour: not available here');
  });

  it('is in the help overlay like every other key', async () => {
    const h = ui();
    await h.press('?');
    expect(h.screen()).toMatch(/t \/ Ctrl-T\s+the victim tour \(start only\), step by step/);
    expect(h.screen()).toMatch(/g\s+the start page/);
  });

  it('t typed in the filter line is filter text, not the tour', async () => {
    let runs = 0;
    const h = ui({ actions: { tour: () => void runs++ } }, true);
    await h.press('/', 't', 'e', 's', 't', 'escape');
    expect(runs).toBe(0);
  });
});

describe('the start page', () => {
  it('is the empty state: the caller guide, commands included, while there are no flows', () => {
    const h = ui({ guide: GUIDE });
    const s = h.screen();
    expect(s).toContain('No flows yet.');
    expect(s).toContain('curl -x http://127.0.0.1:8080 -d user=alice http://bank.test/login');
    expect(s).toContain("Projector: mitm-lab attach 'ws://127.0.0.1:4444/?token=abc'");
  });

  it('g shows it over a selected flow, g again goes back to the flow', async () => {
    const h = ui({ guide: GUIDE }, true);
    let s = h.screen();
    expect(s).not.toContain('Projector: mitm-lab attach');
    await h.press('g');
    s = h.screen();
    expect(s).toContain('Start page');
    expect(s).toContain("Projector: mitm-lab attach 'ws://127.0.0.1:4444/?token=abc'");
    expect(s).toContain('start page: g closes');
    await h.press('g');
    expect(h.screen()).not.toContain('Projector: mitm-lab attach');
  });

  it('without a guide, g shows the default hints', async () => {
    const h = ui({}, true);
    await h.press('g');
    expect(h.screen()).toContain('Point a client at the proxy');
  });
});
