// Coalesced writes: a sink that would write once per event (a line, a WebSocket message) asks
// for a flush instead, and gets one at the end of this turn of the event loop after a quiet
// spell, or, under load, at most one per interval. A write per event, or even per turn, was a
// measurable share of the proxy's CPU per request (issue 12): each is a system call, and for a
// feed, a wake-up of the process reading it.

export interface CoalescedFlush {
  /** Ask for a flush: at the end of this turn, or when `intervalMs` has passed since the last. */
  request(): void;
  /** Forget a flush that was asked for (the caller has flushed, or is stopping). */
  cancel(): void;
}

export function coalesceFlushes(intervalMs: number, flush: () => void): CoalescedFlush {
  let queued = false;
  let timer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  /** When the last scheduled flush ran (performance ms). */
  let last = -Infinity;
  const run = (): void => {
    queued = false;
    timer = null;
    immediate = null;
    last = performance.now();
    flush();
  };
  return {
    request() {
      if (queued) return;
      queued = true;
      const wait = last + intervalMs - performance.now();
      if (wait > 0) timer = setTimeout(run, wait);
      else immediate = setImmediate(run);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      timer = null;
      immediate = null;
      queued = false;
    },
  };
}
