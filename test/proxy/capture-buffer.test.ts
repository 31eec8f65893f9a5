import { describe, expect, it } from 'vitest';
import {
  CAPTURE_BLOCK_BYTES,
  CAPTURE_FIRST_BLOCK_BYTES,
  CaptureBuffer,
} from '../../src/proxy/capture-buffer.ts';

describe('CaptureBuffer', () => {
  it('keeps the first `limit` bytes in order and counts the rest', () => {
    const c = new CaptureBuffer(10);
    c.add(Buffer.from('0123456'));
    c.add(Buffer.from('789abcdef'));
    c.add(Buffer.from('more'));
    expect(c.view().toString()).toBe('0123456789');
    expect(c.view(7).toString()).toBe('789');
    expect({ kept: c.kept, size: c.size }).toEqual({ kept: 10, size: 20 });
  });

  it('copies what it keeps (a chunk the caller reuses does not change the capture)', () => {
    const c = new CaptureBuffer(100);
    const chunk = Buffer.from('abc');
    c.add(chunk);
    chunk.fill('x');
    expect(c.view().toString()).toBe('abc');
  });

  it('keeps small captures out of the shared pool: no 8 KiB slab stays alive for them', () => {
    const c = new CaptureBuffer(64 * 1024);
    c.add(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(c.view().buffer.byteLength).toBe(CAPTURE_FIRST_BLOCK_BYTES);
    expect(CAPTURE_FIRST_BLOCK_BYTES).toBeLessThan(Buffer.poolSize);
  });

  it('takes memory in blocks: never past the limit, less than one block more than it kept', () => {
    const limit = 64 * 1024;
    const c = new CaptureBuffer(limit);
    const capacities = new Set<number>();
    for (let i = 0; i < 300; i++) {
      c.add(Buffer.alloc(333, i % 256));
      capacities.add(c.capacity);
      expect(c.capacity).toBeLessThanOrEqual(limit);
      expect(c.capacity - c.kept).toBeLessThan(CAPTURE_BLOCK_BYTES);
      expect(c.capacity).toBeLessThanOrEqual(Math.max(CAPTURE_FIRST_BLOCK_BYTES, 2 * c.kept));
    }
    expect([...capacities].map((b) => b / 1024)).toEqual([1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64]);
    expect(c.kept).toBe(limit);
    expect(c.size).toBe(300 * 333);
    // Every kept byte is the one that came in at its place, across the blocks.
    const all = c.view();
    expect(all.length).toBe(limit);
    for (let p = 0; p < limit; p += 1021) expect(all[p]).toBe(Math.floor(p / 333) % 256);
    expect(c.view(limit - 5000)).toEqual(all.subarray(limit - 5000));
  });

  it('splits a chunk larger than a block across blocks, in order', () => {
    const c = new CaptureBuffer(20_000);
    const chunk = Buffer.from(Array.from({ length: 30_000 }, (_, i) => i % 251));
    c.add(chunk);
    expect(c.kept).toBe(20_000);
    expect(c.capacity).toBe(20_000);
    expect(c.view()).toEqual(chunk.subarray(0, 20_000));
    expect(c.view(1000)).toEqual(chunk.subarray(1000, 20_000));
  });

  it('keeps nothing with a limit of 0, and still counts', () => {
    const c = new CaptureBuffer(0);
    c.add(Buffer.from('abc'));
    expect({ kept: c.kept, size: c.size, capacity: c.capacity }).toEqual({
      kept: 0,
      size: 3,
      capacity: 0,
    });
  });
});
