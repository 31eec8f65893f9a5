// Wrong proxy passwords are slowed per client address (issue 13, item 12: 2,000 guesses took
// 779 ms on one connection). The first FREE_FAILURES wrong answers from an address get their
// 407 at once (a user mistyping); every further one waits before its 407 goes out: BASE_DELAY_MS,
// doubled every DOUBLE_EVERY further failures, at most MAX_DELAY_MS. A right password from the
// address clears its count; so does IDLE_RESET_MS without a wrong one. Only the answer waits:
// the right password is never slowed.
import { shiftOldest } from '../util/bounded.ts';

/** Wrong passwords from one address answered at once. */
export const FREE_FAILURES = 5;
/** The wait before each further 407 at first. */
export const BASE_DELAY_MS = 20;
/** The wait doubles every this many further failures… */
export const DOUBLE_EVERY = 200;
/** …up to this. */
export const MAX_DELAY_MS = 1_000;
/** An address without a wrong password for this long starts again from zero. */
export const IDLE_RESET_MS = 10 * 60_000;
/** Addresses remembered at most (the oldest is forgotten first). */
const MAX_ADDRESSES = 10_000;

export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; last: number }>();

  /** A wrong (or missing) password from `address`: how long to wait before its 407, in ms. */
  failed(address: string, now = Date.now()): number {
    const prev = this.failures.get(address);
    const count = prev && now - prev.last < IDLE_RESET_MS ? prev.count + 1 : 1;
    this.failures.delete(address);
    this.failures.set(address, { count, last: now });
    if (this.failures.size > MAX_ADDRESSES) shiftOldest(this.failures);
    return delayFor(count);
  }

  /** The right password from `address`: its count starts again. */
  succeeded(address: string): void {
    this.failures.delete(address);
  }
}

/** The wait before the 407 for the `count`-th wrong password in a row. */
export function delayFor(count: number): number {
  const over = count - FREE_FAILURES;
  if (over <= 0) return 0;
  return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.floor((over - 1) / DOUBLE_EVERY));
}
