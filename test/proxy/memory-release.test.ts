import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BURST_CHUNKS, MemoryRelease, QUIET_MS } from '../../src/proxy/memory-release.ts';

describe('MemoryRelease', () => {
  let reads = 0;
  let release: MemoryRelease;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'setTimeout', 'Date'] });
    reads = 0;
    release = new MemoryRelease(() => reads);
  });
  afterEach(() => {
    release.stop();
    vi.useRealTimers();
  });

  /** Clients read `perSecond` chunks a second for `seconds`. */
  function busy(perSecond: number, seconds: number): void {
    for (let i = 0; i < seconds; i++) {
      reads += perSecond;
      vi.advanceTimersByTime(1000);
    }
  }

  it('collects once the clients have been silent for QUIET_MS after a burst', () => {
    busy(BURST_CHUNKS, 3);
    vi.advanceTimersByTime(QUIET_MS);
    expect(release.released).toBe(0); // a lull is not yet the end
    vi.advanceTimersByTime(2000);
    expect(release.released).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(release.released).toBe(1); // once per burst
    busy(BURST_CHUNKS, 2);
    vi.advanceTimersByTime(QUIET_MS + 2000);
    expect(release.released).toBe(2);
  });

  it('does not collect while clients keep reading, nor after a small load', () => {
    busy(BURST_CHUNKS, 30);
    expect(release.released).toBe(0);
    release.stop();
    release = new MemoryRelease(() => reads);
    vi.advanceTimersByTime(2000);
    busy(BURST_CHUNKS / 4, 3);
    vi.advanceTimersByTime(10_000);
    expect(release.released).toBe(0);
  });
});
