// The lab reset (the UI's R, `lab.reset` in the events): from real curl runs through the real
// proxy in front of the real lab, progress and the flow list count only what came after it, and
// auto mode intercepts a refused host again.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import { foldProgress, LessonProgress } from '../../src/lessons/index.ts';
import { FlowStore } from '../../src/store/index.ts';
import { startLabProxy } from '../lab/support/lab-proxy.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-reset-');
let lab: RunningLab;
let ca: Ca;

beforeAll(async () => {
  ca = await openCa({ dir: path.join(tmp, 'ca') });
  lab = await startLab({ dir: path.join(tmp, 'lab') });
});
afterAll(async () => {
  await lab?.close();
  cleanup();
});

const LOGIN = ['-d', 'user=alice', '-d', 'password=correct-horse-battery-staple'];

describe.skipIf(!hasTool('curl'))('lab.reset', () => {
  it('restarts lesson progress and the flow list, and forgets refused hosts', async () => {
    const p = await startLabProxy(ca, lab);
    const store = new FlowStore();
    p.bus.on((e) => store.enqueue(e));
    const live = new LessonProgress();
    let resets = 0;
    live.onReset = () => resets++;
    p.bus.on((e) => live.apply(e));
    const curl = (...args: string[]) =>
      runTool('curl', ['-sS', '-o', '/dev/null', '--max-time', '10', '-x', p.proxy.url, ...args]);
    try {
      await curl(...LOGIN, 'http://bank.test/login');
      await curl('https://bank.test/'); // refused: auto mode now tunnels bank.test for curl
      await waitFor(
        () => p.events.some((e) => e.type === 'tls.client-rejected'),
        'the refusal of the forgery',
      );
      const before = live.exercises().find((e) => e.id === '1')!;
      expect(before.checkpoints.filter((c) => c.done).map((c) => c.id)).toContain(
        '1.password-over-http',
      );
      expect(store.size).toBeGreaterThan(0);

      expect(p.proxy.controls.resetLab()).toBe(1);
      await waitFor(() => p.events.some((e) => e.type === 'lab.reset'), 'the lab.reset event');
      expect(resets).toBe(1);
      expect(
        live
          .exercises()
          .flatMap((e) => e.checkpoints)
          .filter((c) => c.done),
      ).toEqual([]);
      expect(store.size).toBe(0);
      // The whole file folds the same way: nothing before the reset counts.
      expect(
        foldProgress(p.events)
          .flatMap((e) => e.checkpoints)
          .filter((c) => c.done),
      ).toEqual([]);

      // Forgotten: the next HTTPS connection to bank.test is intercepted (refused) again, not
      // tunnelled.
      await curl('https://bank.test/');
      const reset = p.events.findIndex((e) => e.type === 'lab.reset');
      await waitFor(
        () => p.events.slice(reset).some((e) => e.type === 'tls.client-rejected'),
        'a second refusal after the reset',
      );
      expect(
        p.events.slice(reset).some((e) => e.type === 'tunnel.summary' && e.host === 'bank.test'),
      ).toBe(false);
      await curl(...LOGIN, 'http://bank.test/login');
      await waitFor(
        () =>
          live
            .exercises()
            .find((e) => e.id === '1')!
            .checkpoints.some((c) => c.id === '1.password-over-http' && c.done),
        'the password checkpoint ticked again after the reset',
      );
    } finally {
      await p.proxy.close();
    }
  });
});
