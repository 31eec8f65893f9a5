// The engine's clock: one reading of the time for every part (connection open and close,
// handshake timings, TLS record times, live-wire pacing, tunnels), so they all agree and a part
// can take it as a dependency rather than read the time itself.

/** Epoch milliseconds with sub-millisecond precision (same epoch as Date.now()). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
