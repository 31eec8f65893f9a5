// V8 lets its old generation grow to up to four times what survived the last full collection
// before it collects again (its factor on a machine with gigabytes of memory). Under a load of
// many concurrent connections much of what a request allocates lives long enough to be promoted
// there and dies soon after, so the old generation filled with garbage: 500 concurrent HTTPS
// connections peaked at ~265 MB resident with ~50 MB alive (issue 12, item 4). A factor of 1.5
// collects it more often: ~210 MB. The pauses per request did not grow (the young collections
// get cheaper once less old garbage points into the young generation); the full collections'
// marking runs mostly on helper threads. 1.25 took ~8 MB more off for a third more full
// collections.
//
// With few connections that factor costs throughput and buys little: a 256 MiB download through
// the proxy (a heap of ~10 MB, every 64 KiB chunk a new buffer, twice) ran about three times as
// many full collections as with V8's largest factor, 4, and took about twice the CPU: a median
// of 1.0 s against 0.43 s per download, 263 against 500 MB/s (18 downloads each, three
// alternating rounds; V8's own dynamic factor did no better than 1.5 here). On a heap that small,
// four times what survived is a few tens of MB at most. So the proxy starts with V8's largest
// factor (CALM_GROWING_PERCENT), holds the heap down from BUSY_CONNECTIONS open client
// connections on, and lets it go again below CALM_CONNECTIONS (the gap keeps a count hovering at
// one line from flapping). V8 reads the setting each time it sizes the heap after a full
// collection.
//
// Four times what survived is a few tens of MB for a headless proxy (~10 MB live), but not for
// the process that draws the terminal UI: its flow store and HAR keep up to 64 MiB each, and
// with 40 MB alive and four clients its heap swung between 40 and 140 MB (RSS up to 238 MB,
// against 148 MB at 50 %). So while calm the heap may grow by CALM_SLACK_BYTES past what
// survived, as a percentage of it, between the two factors: 300 % for a headless proxy, ~80 %
// for that UI. What survived is read after each full collection (a `gc` PerformanceObserver).
//
// Wired by `governHeap` in src/cli/proxy-options.ts (every command that runs the proxy) and in the
// tests' engine process; `node --heap-growing-percent=N bin/mitm-lab.js` keeps N throughout.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The old generation's growth past what survived, in per cent, while the proxy is busy. */
export const HEAP_GROWING_PERCENT = 50;
/** Open client connections from which the proxy counts as busy (a browser opens up to 6 per host). */
export const BUSY_CONNECTIONS = 8;
/** Fewer open client connections than this, and the heap may grow by CALM_GROWING_PERCENT again. */
export const CALM_CONNECTIONS = 4;

/** The old generation's largest growth past what survived while the proxy is calm (V8's largest). */
export const CALM_GROWING_PERCENT = 300;
/** What the old generation may grow past what survived while the proxy is calm, in bytes. */
export const CALM_SLACK_BYTES = 32 * 1024 * 1024;

/** The events that open and close client connections (a structural subset of ProxyEvent). */
interface ConnEvent {
  type: string;
}

/**
 * The calm growth for an old generation of `liveBytes` after a full collection: CALM_SLACK_BYTES
 * as a percentage of it, in steps of 10, between HEAP_GROWING_PERCENT and CALM_GROWING_PERCENT.
 */
export function calmPercentFor(liveBytes: number): number {
  const percent = Math.round((10 * CALM_SLACK_BYTES) / Math.max(1, liveBytes)) * 10;
  return Math.min(CALM_GROWING_PERCENT, Math.max(HEAP_GROWING_PERCENT, percent));
}

export class HeapGrowth {
  private open = 0;
  private limited = false;
  private calmPercent = CALM_GROWING_PERCENT;
  /** The percentage last given to V8, or null before the first. */
  private applied: number | null = null;
  /** False when node's own command line chose a factor: then nothing is changed. */
  readonly enabled: boolean;

  constructor(
    execArgv: readonly string[] = process.execArgv,
    private readonly setFlags: (flags: string) => void = setFlagsFromString,
  ) {
    this.enabled = !execArgv.some((a) => a.startsWith('--heap-growing-percent'));
    this.apply();
  }

  /** True while HEAP_GROWING_PERCENT is applied. */
  get busy(): boolean {
    return this.limited;
  }

  /** The growth V8 was last given, in per cent (null when disabled). */
  get percent(): number | null {
    return this.applied;
  }

  /** Count the proxy's `conn.open` and `conn.close` events (other events are ignored). */
  readonly observe = (event: ConnEvent): void => {
    if (event.type === 'conn.open') this.connections(this.open + 1);
    else if (event.type === 'conn.close') this.connections(Math.max(0, this.open - 1));
  };

  /**
   * A full collection left `liveBytes` in the old generation: size the calm growth from it. Not
   * while busy: what survives then includes every open connection's state (after 500 HTTPS
   * connections, ~27 MB: 120 %, which slowed the next large download until the next full
   * collection), so the proxy goes back to the growth it last measured while calm.
   */
  afterFullCollection(liveBytes: number): void {
    if (this.limited) return;
    this.calmPercent = calmPercentFor(liveBytes);
    this.apply();
  }

  /** The number of open client connections changed. */
  private connections(open: number): void {
    this.open = open;
    if (!this.enabled) return;
    if (!this.limited && open >= BUSY_CONNECTIONS) this.limited = true;
    else if (this.limited && open < CALM_CONNECTIONS) this.limited = false;
    else return;
    this.apply();
  }

  private apply(): void {
    if (!this.enabled) return;
    const percent = this.limited ? HEAP_GROWING_PERCENT : this.calmPercent;
    if (percent === this.applied) return;
    this.applied = percent;
    this.setFlags(`--heap-growing-percent=${percent}`);
  }
}

/** Bytes in V8's old generation now (every space but the young generation's). */
function oldGenerationBytes(): number {
  let bytes = 0;
  for (const s of getHeapSpaceStatistics())
    if (!s.space_name.startsWith('new_')) bytes += s.space_used_size;
  return bytes;
}

/**
 * Call `onFull` with the old generation's size after each full collection V8 runs (read when
 * node reports the collection, a moment after it). Returns the function that stops it.
 */
export function watchFullCollections(onFull: (oldGenerationBytes: number) => void): () => void {
  const observer = new PerformanceObserver((list) => {
    const full = list
      .getEntries()
      .some(
        (e) =>
          (e as { detail?: { kind?: number } | null }).detail?.kind ===
          constants.NODE_PERFORMANCE_GC_MAJOR,
      );
    if (full) onFull(oldGenerationBytes());
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

/**
 * Hold the heap as above for a proxy whose events come through `bus`: its connections and V8's
 * full collections. Returns the function that stops it.
 */
export function governHeap(bus: { on(listener: (e: ConnEvent) => void): () => void }): () => void {
  const growth = new HeapGrowth();
  if (!growth.enabled) return () => undefined;
  const stopEvents = bus.on(growth.observe);
  const stopCollections = watchFullCollections((bytes) => growth.afterFullCollection(bytes));
  return () => {
    stopEvents();
    stopCollections();
  };
}
