import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BURST_CONNECTIONS, MemoryRelease, QUIET_MS } from '../../src/proxy/memory-release.ts';

describe('MemoryRelease', () => {
  let open = 0;
  let release: MemoryRelease;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'setTimeout', 'Date'] });
    open = 0;
    release = new MemoryRelease(() => open);
  });
  afterEach(() => {
    release.stop();
    vi.useRealTimers();
  });

  it('collects once after a burst has been over for QUIET_MS', () => {
    open = BURST_CONNECTIONS * 2;
    vi.advanceTimersByTime(3000);
    open = 3;
    vi.advanceTimersByTime(QUIET_MS);
    expect(release.released).toBe(0); // a lull is not yet the end
    vi.advanceTimersByTime(2000);
    expect(release.released).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(release.released).toBe(1); // once per burst
  });

  it('does not collect while the connections come back, nor after a small load', () => {
    open = BURST_CONNECTIONS * 2;
    vi.advanceTimersByTime(2000);
    for (let i = 0; i < 5; i++) {
      open = 0;
      vi.advanceTimersByTime(1000);
      open = BURST_CONNECTIONS;
      vi.advanceTimersByTime(1000);
    }
    expect(release.released).toBe(0);
    release.stop();
    release = new MemoryRelease(() => open);
    open = BURST_CONNECTIONS - 1;
    vi.advanceTimersByTime(2000);
    open = 0;
    vi.advanceTimersByTime(10_000);
    expect(release.released).toBe(0);
  });
});
