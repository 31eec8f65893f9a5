import { describe, expect, it } from 'vitest';
import { addBounded, shiftOldest } from '../../src/util/bounded.ts';

/** The newest `max` of `keys`, in insertion order: what a bounded set must hold. */
const newest = (keys: string[], max: number): string[] =>
  keys.slice(Math.max(0, keys.length - max));

describe('addBounded', () => {
  it('keeps at most max entries, dropping the oldest first (Set)', () => {
    const set = new Set<string>();
    const added: string[] = [];
    for (let i = 0; i < 35; i++) {
      addBounded(set, 10, `k${i}`);
      added.push(`k${i}`);
      expect(set.size).toBe(Math.min(10, i + 1));
      expect([...set]).toEqual(newest(added, 10));
    }
  });

  it('keeps the newest values of a Map, in order, over many evictions', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < 1000; i++) addBounded(map, 64, `k${i}`, i);
    expect(map.size).toBe(64);
    expect([...map.keys()]).toEqual(Array.from({ length: 64 }, (_, j) => `k${936 + j}`));
    expect(map.get('k999')).toBe(999);
    expect(map.has('k935')).toBe(false);
  });

  it('drops nothing for a key it already holds, which keeps its place', () => {
    const set = new Set(['a', 'b', 'c']);
    addBounded(set, 3, 'a');
    expect([...set]).toEqual(['a', 'b', 'c']);
    addBounded(set, 3, 'd');
    expect([...set]).toEqual(['b', 'c', 'd']);
  });

  it('drops the oldest entry still there when others were deleted in between', () => {
    const set = new Set<string>();
    for (const k of ['a', 'b', 'c', 'd']) addBounded(set, 4, k);
    addBounded(set, 4, 'e'); // drops a
    set.delete('c');
    addBounded(set, 4, 'f'); // 4 entries again (b, d, e, f): nothing dropped
    expect([...set]).toEqual(['b', 'd', 'e', 'f']);
    addBounded(set, 4, 'g'); // drops b
    addBounded(set, 4, 'h'); // drops d (c is gone already)
    expect([...set]).toEqual(['e', 'f', 'g', 'h']);
  });

  it('counts a key deleted and added again as the newest', () => {
    const set = new Set<string>();
    for (const k of ['a', 'b', 'c']) addBounded(set, 3, k);
    set.delete('a');
    addBounded(set, 3, 'a');
    addBounded(set, 3, 'd'); // drops b, the oldest now
    expect([...set]).toEqual(['c', 'a', 'd']);
  });

  it('goes on working after the set is cleared or emptied', () => {
    const map = new Map<string, number>();
    for (let i = 0; i < 20; i++) addBounded(map, 5, `x${i}`, i);
    map.clear();
    for (let i = 0; i < 8; i++) addBounded(map, 5, `y${i}`, i);
    expect([...map.keys()]).toEqual(['y3', 'y4', 'y5', 'y6', 'y7']);
    for (const k of [...map.keys()]) map.delete(k);
    for (let i = 0; i < 7; i++) addBounded(map, 5, `z${i}`, i);
    expect([...map.keys()]).toEqual(['z2', 'z3', 'z4', 'z5', 'z6']);
  });

  it('keeps separate sets apart', () => {
    const a = new Set<number>();
    const b = new Set<number>();
    for (let i = 0; i < 12; i++) {
      addBounded(a, 4, i);
      addBounded(b, 6, 100 + i);
    }
    expect([...a]).toEqual([8, 9, 10, 11]);
    expect([...b]).toEqual([106, 107, 108, 109, 110, 111]);
  });
});

describe('shiftOldest', () => {
  it('removes and returns the oldest entry with its value, undefined once empty', () => {
    const map = new Map([
      ['a', 1],
      ['b', 2],
    ]);
    expect(shiftOldest(map)).toEqual(['a', 1]);
    map.set('c', 3);
    map.delete('b');
    expect(shiftOldest(map)).toEqual(['c', 3]);
    expect(map.size).toBe(0);
    expect(shiftOldest(map)).toBeUndefined();
    map.set('d', 4);
    expect(shiftOldest(map)).toEqual(['d', 4]);
  });

  it('takes entries in insertion order however many have gone before', () => {
    const map = new Map<number, string>();
    const taken: number[] = [];
    for (let i = 0; i < 5000; i++) {
      map.set(i, `v${i}`);
      if (map.size > 100) taken.push(shiftOldest(map)![0]);
    }
    expect(taken).toEqual(Array.from({ length: 4900 }, (_, i) => i));
    expect([...map.keys()]).toEqual(Array.from({ length: 100 }, (_, i) => 4900 + i));
  });
});
