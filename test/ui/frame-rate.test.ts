// The redraw timer: at most the configured rate while the list changes slowly, and at most
// BUSY_FPS (10) while it changes fast, so a load test leaves the CPU to the proxy. Frames are
// counted through `onFrame` on a real blessed screen over fake TTY streams.
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import { FlowStore } from '../../src/store/index.ts';
import { startUi, type RunningUi } from '../../src/ui/index.ts';
import { plaintextLogin } from '../store/fixtures.ts';

let running: RunningUi | null = null;
afterEach(() => running?.destroy());

function start(store: FlowStore, fps: number): { frames: () => number } {
  const input = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: () => unknown };
  input.isTTY = true;
  input.setRawMode = () => input;
  const output = new Writable({
    write(_c, _e, cb) {
      cb();
    },
  }) as Writable & { isTTY: boolean; columns: number; rows: number };
  output.isTTY = true;
  output.columns = 100;
  output.rows = 30;
  let frames = 0;
  running = startUi({
    store,
    info: { listen: '127.0.0.1:8080', caName: 'test CA', caSha256: 'AB:CD' },
    stdin: input,
    stdout: output,
    fps,
    onFrame: () => frames++,
  });
  return { frames: () => frames };
}

/** Feed `perBurst` flows every 10 ms for `ms`; returns the frames drawn meanwhile. */
async function load(perBurst: number, ms: number, fps: number): Promise<number> {
  const bus = new EventBus();
  const store = new FlowStore();
  bus.on((e) => store.apply(e));
  const ui = start(store, fps);
  await new Promise((r) => setTimeout(r, 100)); // the first frame is drawn at once
  const before = ui.frames();
  let n = 0;
  const feeder = setInterval(() => {
    for (let i = 0; i < perBurst; i++, n++) plaintextLogin(bus, `c${n}`, `f${n}`);
  }, 10);
  await new Promise((r) => setTimeout(r, ms));
  clearInterval(feeder);
  expect(store.size).toBeGreaterThan(0);
  return ui.frames() - before;
}

describe('redraw rate', () => {
  it('a fast-changing list is drawn at most 10 times a second, even when 20 are allowed', async () => {
    // 10 flows (dozens of store changes) every 10 ms: far more than BUSY_CHANGES per frame.
    const frames = await load(10, 1500, 20);
    expect(frames).toBeGreaterThan(3); // it still draws
    expect(frames).toBeLessThanOrEqual(16); // 10/s over 1.5 s, a frame of slack
  });

  it('a slowly changing list is drawn at the configured rate', async () => {
    // One flow every 10 ms: a few changes per frame, under BUSY_CHANGES.
    const frames = await load(1, 1500, 20);
    // 20/s would be 30 frames; more than the busy ceiling (15) shows the normal rate applies,
    // with room for timers that slip on a busy machine.
    expect(frames).toBeGreaterThan(16);
    expect(frames).toBeLessThanOrEqual(31);
  });
});
