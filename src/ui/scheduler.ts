// The redraw scheduler: a frame when something changed, at most `fps` a second, and fewer while
// the store changes fast (a load test, a browser opening a page): a frame is stale by the next
// one anyway, so the proxy keeps the CPU. The timer is unref'd: the UI never holds the process.

/** The frame-rate ceiling while the store changes fast (the issue allows 10-20 fps). */
export const BUSY_FPS = 10;
/** Store changes between two frames above which the list counts as changing fast. */
export const BUSY_CHANGES = 50;

export interface SchedulerOptions {
  /** Frames per second at most (clamped to 1-30). */
  fps: number;
  /** The store's change counter. */
  version: () => number;
  /** Something besides the store changed (a key, a message that expires…). */
  dirty: () => boolean;
  draw: () => void;
}

export interface RedrawScheduler {
  stop(): void;
}

export function scheduleRedraws(opts: SchedulerOptions): RedrawScheduler {
  const fps = Math.max(1, Math.min(30, opts.fps));
  const tickMs = Math.round(1000 / fps);
  const busyMs = Math.max(tickMs, Math.round(1000 / BUSY_FPS));
  let lastFrameVersion = opts.version();
  let lastVersion = lastFrameVersion;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const tick = (): void => {
    timer = null;
    if (stopped) return;
    let next = tickMs;
    const version = opts.version();
    if (opts.dirty() || version !== lastVersion) {
      if (version - lastFrameVersion > BUSY_CHANGES) next = busyMs;
      lastFrameVersion = version;
      lastVersion = version;
      opts.draw();
    }
    timer = setTimeout(tick, next);
    timer.unref?.();
  };
  timer = setTimeout(tick, tickMs);
  timer.unref?.();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
