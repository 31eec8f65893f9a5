// Bytes kept up to a limit, in memory of their own, taken in blocks as they come (issue 12,
// item 4).
//
// A capture that copied each chunk with `Buffer.from(chunk)` got small chunks carved out of
// Node's shared 8 KiB pool, and a kept piece keeps its whole slab alive: a keep-alive connection
// capturing ~1 KiB per request held one 8 KiB slab per piece, full of other requests' garbage,
// for as long as it stayed open (500 busy connections: ~110 MB of ArrayBuffers, against ~20 MB
// of captured bytes). Here the bytes go into blocks allocated outside the pool (1, 1, 2, 4, then
// 8 KiB each, up to the limit): a connection holds what it captured plus less than one block,
// and nothing is copied again as the capture grows.

/** The first block: a short connection's capture (a request or two) fits in it. */
export const CAPTURE_FIRST_BLOCK_BYTES = 1024;
/** The largest block: what a capture may hold beyond what it kept. */
export const CAPTURE_BLOCK_BYTES = 8 * 1024;

export class CaptureBuffer {
  private readonly blocks: Buffer[] = [];
  private allocated = 0;
  /** Bytes kept (at most `limit`). */
  kept = 0;
  /** Bytes seen, including those past the limit. */
  size = 0;

  constructor(readonly limit: number) {}

  /** Count `chunk` and keep what fits under the limit (a copy: the caller may reuse `chunk`). */
  add(chunk: Uint8Array): void {
    this.size += chunk.length;
    let left = Math.min(this.limit - this.kept, chunk.length);
    let from = 0;
    while (left > 0) {
      if (this.kept === this.allocated) this.addBlock();
      const block = this.blocks[this.blocks.length - 1]!;
      const at = this.kept - (this.allocated - block.length);
      const n = Math.min(left, block.length - at);
      block.set(chunk.subarray(from, from + n), at);
      from += n;
      left -= n;
      this.kept += n;
    }
  }

  /**
   * The kept bytes from `from` on: a view when they lie in one block, else a copy. Kept bytes are
   * never written again, so a view stays true; it keeps its block (at most 8 KiB) alive while
   * held (the store copies what it keeps into memory of its own).
   */
  view(from = 0): Buffer {
    const parts: Buffer[] = [];
    let start = 0;
    for (const block of this.blocks) {
      const end = Math.min(start + block.length, this.kept);
      if (end > from) parts.push(block.subarray(Math.max(0, from - start), end - start));
      start += block.length;
      if (start >= this.kept) break;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Bytes allocated (for tests: at most one block more than was kept). */
  get capacity(): number {
    return this.allocated;
  }

  private addBlock(): void {
    const size = Math.min(
      this.limit - this.allocated,
      CAPTURE_BLOCK_BYTES,
      Math.max(CAPTURE_FIRST_BLOCK_BYTES, this.allocated),
    );
    // allocUnsafeSlow: memory of its own, never a slice of the shared pool (see above).
    this.blocks.push(Buffer.allocUnsafeSlow(size));
    this.allocated += size;
  }
}
