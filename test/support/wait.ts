// Waiting for something asynchronous to become true, always bounded: a test that waits forever
// hides its failure behind vitest's timeout instead of saying what it waited for.
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WaitOptions {
  /** Give up after this long (default 3 s). */
  timeoutMs?: number;
  /** Look again this often (default 20 ms). */
  intervalMs?: number;
}

/** Poll `cond` until it holds or time is up; resolves to whether it held (never throws). */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  opts: WaitOptions = {},
): Promise<boolean> {
  const end = Date.now() + (opts.timeoutMs ?? 3000);
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(opts.intervalMs ?? 20);
  }
}

/** Like waitUntil, but a condition that never holds is an error naming `what`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what = 'condition',
  opts: WaitOptions = {},
): Promise<void> {
  if (!(await waitUntil(cond, opts))) {
    throw new Error(`${what} not met within ${opts.timeoutMs ?? 3000} ms`);
  }
}
