import { describe, expect, it } from 'vitest';
import { CAPTURE_INITIAL_BYTES, CaptureBuffer } from '../../src/proxy/capture-buffer.ts';

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
    expect(c.view().buffer.byteLength).toBe(CAPTURE_INITIAL_BYTES);
    expect(CAPTURE_INITIAL_BYTES).toBeLessThan(Buffer.poolSize);
  });

  it('grows by doubling, never past the limit, and holds at most twice what it kept', () => {
    const limit = 64 * 1024;
    const c = new CaptureBuffer(limit);
    const capacities = new Set<number>();
    for (let i = 0; i < 300; i++) {
      c.add(Buffer.alloc(333, i % 256));
      capacities.add(c.capacity);
      expect(c.capacity).toBeLessThanOrEqual(Math.max(CAPTURE_INITIAL_BYTES, 2 * c.kept));
      expect(c.capacity).toBeLessThanOrEqual(limit);
    }
    expect([...capacities]).toEqual([1024, 2048, 4096, 8192, 16384, 32768, 65536]);
    expect(c.kept).toBe(limit);
    expect(c.size).toBe(300 * 333);
    // Every kept byte is the one that came in at its place.
    const view = c.view();
    for (let p = 0; p < limit; p += 4099) expect(view[p]).toBe(Math.floor(p / 333) % 256);
  });

  it('takes a chunk larger than twice its capacity in one step', () => {
    const c = new CaptureBuffer(64 * 1024);
    c.add(Buffer.alloc(10_000, 1));
    expect(c.capacity).toBe(10_000);
    expect(c.view().length).toBe(10_000);
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
