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
// Wired by src/cli/proxy-options.ts (every command that runs the proxy) and by the tests' engine
// process; `node --heap-growing-percent=N bin/mitm-lab.js` keeps N throughout.
import { setFlagsFromString } from 'node:v8';

/** The old generation's growth past what survived, in per cent, while the proxy is busy. */
export const HEAP_GROWING_PERCENT = 50;
/** Open client connections from which the proxy counts as busy (a browser opens up to 6 per host). */
export const BUSY_CONNECTIONS = 8;
/** Fewer open client connections than this, and the heap may grow by CALM_GROWING_PERCENT again. */
export const CALM_CONNECTIONS = 4;

/** The old generation's growth past what survived while the proxy is calm (V8's largest). */
export const CALM_GROWING_PERCENT = 300;

/** The events that open and close client connections (a structural subset of ProxyEvent). */
interface ConnEvent {
  type: string;
}

export class HeapGrowth {
  private open = 0;
  private limited = false;
  /** False when node's own command line chose a factor: then nothing is changed. */
  readonly enabled: boolean;

  constructor(
    execArgv: readonly string[] = process.execArgv,
    private readonly setFlags: (flags: string) => void = setFlagsFromString,
  ) {
    this.enabled = !execArgv.some((a) => a.startsWith('--heap-growing-percent'));
    if (this.enabled) this.setFlags(`--heap-growing-percent=${CALM_GROWING_PERCENT}`);
  }

  /** True while HEAP_GROWING_PERCENT is applied. */
  get busy(): boolean {
    return this.limited;
  }

  /** Count the proxy's `conn.open` and `conn.close` events (other events are ignored). */
  readonly observe = (event: ConnEvent): void => {
    if (event.type === 'conn.open') this.connections(this.open + 1);
    else if (event.type === 'conn.close') this.connections(Math.max(0, this.open - 1));
  };

  /** The number of open client connections changed. */
  private connections(open: number): void {
    this.open = open;
    if (!this.enabled) return;
    if (!this.limited && open >= BUSY_CONNECTIONS) {
      this.limited = true;
      this.setFlags(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    } else if (this.limited && open < CALM_CONNECTIONS) {
      this.limited = false;
      this.setFlags(`--heap-growing-percent=${CALM_GROWING_PERCENT}`);
    }
  }
}
