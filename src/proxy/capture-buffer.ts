// Bytes kept up to a limit in one buffer of their own, grown as they come (issue 12, item 4).
//
// A capture that copied each chunk with `Buffer.from(chunk)` got small chunks carved out of
// Node's shared 8 KiB pool, and a kept piece keeps its whole slab alive: a keep-alive connection
// capturing ~1 KiB per request held one 8 KiB slab per piece, full of other requests' garbage,
// for as long as it stayed open (500 busy connections: ~110 MB of ArrayBuffers, against ~20 MB
// of captured bytes). Here the bytes go into one buffer allocated outside the pool, doubled when
// full (up to the limit), so a connection holds at most twice what it captured, in one piece.
export const CAPTURE_INITIAL_BYTES = 1024;

const EMPTY = Buffer.alloc(0);

export class CaptureBuffer {
  private buf: Buffer = EMPTY;
  /** Bytes kept (at most `limit`). */
  kept = 0;
  /** Bytes seen, including those past the limit. */
  size = 0;

  constructor(readonly limit: number) {}

  /** Count `chunk` and keep what fits under the limit (a copy: the caller may reuse `chunk`). */
  add(chunk: Uint8Array): void {
    this.size += chunk.length;
    const take = Math.min(this.limit - this.kept, chunk.length);
    if (take <= 0) return;
    if (this.kept + take > this.buf.length) this.grow(this.kept + take);
    this.buf.set(take === chunk.length ? chunk : chunk.subarray(0, take), this.kept);
    this.kept += take;
  }

  /** The kept bytes from `from` on, without a copy: read it now, do not keep it. */
  view(from = 0): Buffer {
    return this.buf.subarray(from, this.kept);
  }

  /** Bytes allocated (for tests: the capture's memory stays within twice what it kept). */
  get capacity(): number {
    return this.buf.length;
  }

  private grow(need: number): void {
    const size = Math.min(this.limit, Math.max(need, this.buf.length * 2, CAPTURE_INITIAL_BYTES));
    // allocUnsafeSlow: memory of its own, never a slice of the shared pool (see above).
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.kept);
    this.buf = next;
  }
}
