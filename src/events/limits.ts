// How much of the traffic is captured: one table, read by the engine (what it puts in events)
// and by the flow store (what it keeps of them), so nothing is captured only to be cut again.
// The store's memory is bounded as a whole by its byte budget (src/store/retained.ts), the
// views by what a screen shows; these bound each flow and connection.
//
// Like types.ts, this file imports nothing (test/architecture.test.ts).

export const CAPTURE_LIMITS = {
  /** Bytes of each direction of a connection's wire capture. */
  wireBytes: 64 * 1024,
  /** Bytes of each HTTP body. */
  bodyBytes: 256 * 1024,
  /** TLS records listed per connection; later ones are only counted. */
  records: 2000,
} as const;
