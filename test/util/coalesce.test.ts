// coalesceFlushes with real timers: the end of the turn after a quiet spell, then at most one
// flush per interval, and cancel() leaves nothing behind.
import { describe, expect, it } from 'vitest';
import { coalesceFlushes } from '../../src/util/coalesce.ts';

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('coalesceFlushes', () => {
  it('flushes once at the end of the turn, however often it was asked', async () => {
    let flushes = 0;
    const c = coalesceFlushes(600_000, () => flushes++);
    c.request();
    c.request();
    c.request();
    expect(flushes).toBe(0);
    await nextTurn();
    expect(flushes).toBe(1);
    c.cancel();
  });

  it('within the interval of the last flush, waits for it to pass', async () => {
    const at: number[] = [];
    const c = coalesceFlushes(40, () => at.push(performance.now()));
    c.request();
    await nextTurn();
    c.request();
    await nextTurn();
    expect(at).toHaveLength(1); // held: the interval has not passed
    await new Promise<void>((resolve) => {
      const poll = (): void => (at.length === 2 ? resolve() : void setTimeout(poll, 5));
      poll();
    });
    // libuv's timers count whole milliseconds from a cached loop time, so they may fire a
    // millisecond or two early by the performance clock: allow for that, not for a next turn.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(35);
  });

  it('cancel() drops a pending flush, and a later request still works', async () => {
    let flushes = 0;
    const c = coalesceFlushes(600_000, () => flushes++);
    c.request();
    c.cancel();
    await nextTurn();
    expect(flushes).toBe(0);
    c.request();
    await nextTurn();
    expect(flushes).toBe(1);
    c.request(); // now within the interval: a timer, which cancel() must clear too
    c.cancel();
  });
});
