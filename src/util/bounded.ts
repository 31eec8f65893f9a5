// Sets and maps that keep at most a number of entries, the oldest going first.
//
// The obvious eviction, `set.delete(set.keys().next().value)`, is slow in V8 once it runs on
// every insertion: a deleted entry stays in the table as a hole until the table is rebuilt, and
// a fresh iterator walks over every hole from the front. With 10,000 entries kept, inserting
// with that eviction cost ~5 µs against ~0.3 µs without it (issue 12: the lessons' fold ran it
// for every request of a load, in the terminal UI and in every viewer). Here one iterator per
// set stays open across evictions: Map and Set iterators are live (they see entries added after
// them and move over entries deleted before they get there), so each hole is walked over once.
// ../store/ring.ts keeps its order in an array for the same reason.

/** The iterator that has reached each set's oldest entry, kept while the set lives. */
const cursors = new WeakMap<Set<unknown> | Map<unknown, unknown>, Iterator<unknown>>();

/**
 * The oldest key of `set` (the first inserted of those still in it), which the caller deletes at
 * once: the cursor has moved past it. Done when `set` is empty.
 */
function nextOldest<K>(set: Set<K> | Map<K, unknown>): IteratorResult<K> {
  let oldest: IteratorResult<K> = { done: true, value: undefined };
  for (let attempt = 0; attempt < 2; attempt++) {
    let cursor = cursors.get(set) as Iterator<K> | undefined;
    if (!cursor) {
      cursor = set.keys();
      cursors.set(set, cursor);
    }
    oldest = cursor.next();
    if (!oldest.done) return oldest;
    // A finished iterator stays finished (the set was emptied past it): start a new one.
    cursors.delete(set);
  }
  return oldest;
}

/** Remove the oldest entry of `map` and return it, or undefined when `map` is empty. */
export function shiftOldest<K, V>(map: Map<K, V>): [K, V] | undefined {
  const oldest = nextOldest(map);
  if (oldest.done) return undefined;
  const value = map.get(oldest.value) as V;
  map.delete(oldest.value);
  return [oldest.value, value];
}

/**
 * Add `key` to `set` (with `value`, for a Map), first dropping the oldest entry when `set` already
 * holds `max` and `key` is new. A key already there keeps its place (as Map and Set do), and
 * nothing is dropped for it.
 */
export function addBounded<K>(set: Set<K>, max: number, key: K): void;
export function addBounded<K, V>(set: Map<K, V>, max: number, key: K, value: V): void;
export function addBounded<K, V>(set: Set<K> | Map<K, V>, max: number, key: K, value?: V): void {
  if (set.size >= max && !set.has(key)) {
    const oldest = nextOldest(set);
    if (!oldest.done) set.delete(oldest.value);
  }
  if (set instanceof Map) set.set(key, value as V);
  else set.add(key);
}
