// The flow store's face: what views, sinks and the feed call. It folds the event stream into
// flows a view can list (./fold.ts), kept in a bounded ring with a byte budget (./ring.ts), so
// a long workshop never grows memory without limit. Views never see events directly; they
// read flows and watch `version` (or subscribe) to know when to redraw. Events from a live
// proxy are queued and folded in a batch when the store is next read. Modelled on mitmproxy's
// eventstore/view addons: append-only ring + change signal.
import type { DiagEvent, ProxyEvent } from '../events/types.ts';
import { type FlowFilter, filterIsEmpty, matchesFilter } from './filter.ts';
import type { BadgeCounts, ConnInfo, Flow, ListeningInfo } from './flow.ts';
import { FlowFold } from './fold.ts';
import { OBJECT_BYTES, bufLen } from './retained.ts';
import { FlowRing } from './ring.ts';
import { CAPTURE_LIMITS } from '../events/limits.ts';

export interface FlowStoreOptions {
  /** Flows kept before the oldest is dropped (default 2000: a long workshop, ~tens of MB). */
  maxFlows?: number;
  /**
   * Bytes of a binary body kept, characters of a text one (default: all the engine captured,
   * CAPTURE_LIMITS.bodyBytes; a character takes at least one byte in UTF-8, so a text capture
   * always fits. The byte budget below bounds the store as a whole).
   */
  maxBodyBytes?: number;
  /** Bytes of wire capture kept per direction (default: CAPTURE_LIMITS.wireBytes). */
  maxWireBytes?: number;
  /** TLS records kept per connection (default CAPTURE_LIMITS.records). */
  maxRecords?: number;
  /** WebSocket messages kept per flow (default 200). */
  maxWsMessages?: number;
  /**
   * Bytes the store may keep, all flows and connections together (default DEFAULT_MAX_BYTES):
   * bodies, wire captures, WebSocket previews, headers, certificates and TLS records, counted as
   * V8 and Node retain them (./retained.ts). Past it, the oldest flows and connections are
   * dropped first, as when `maxFlows` is reached (`evicted` counts both).
   */
  maxBytes?: number;
}

/**
 * The default byte budget: 64 MiB. Enough for the 2000-flow ring of a workshop's browsing
 * (pages, scripts, the lab's forms), a fraction of the 1.6 GB an uncounted store reached with
 * 4,500 large responses (issue 13, item 9); when it is full, a load test's oldest flows go.
 */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Queued events (`enqueue`) folded at once when nobody has read the store for this many: about
 * a second of a load test, bounded memory for a store whose view is not reading.
 */
const MAX_PENDING = 4096;
/**
 * Queued events are folded at once when their bodies and wire bytes reach this many bytes: the
 * engine's events carry up to 256 KiB of body each, so 4096 of them could hold a gigabyte
 * until the next frame (and no frame comes while the terminal is not reading).
 */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export class FlowStore {
  readonly maxFlows: number;
  readonly maxBodyBytes: number;
  readonly maxWireBytes: number;
  readonly maxRecords: number;
  readonly maxWsMessages: number;
  readonly maxBytes: number;

  /** The kept flows and connections, bounded. */
  private readonly ring: FlowRing;
  /** Events → records in the ring. */
  private readonly folder: FlowFold;
  private readonly listeners = new Set<() => void>();
  private changes = 0;
  /** Events queued by `enqueue`, not folded yet. */
  private pending: ProxyEvent[] = [];
  private foldedCount = 0;
  /** Queued events that threw while being folded (each becomes a store diag). */
  private foldErrors = 0;
  private foldMs = 0;
  /** Bytes of the queued events' bodies and wire captures (MAX_PENDING_BYTES). */
  private pendingBytes = 0;

  constructor(opts: FlowStoreOptions = {}) {
    this.maxFlows = Math.max(1, opts.maxFlows ?? 2000);
    this.maxBodyBytes = Math.max(16, opts.maxBodyBytes ?? CAPTURE_LIMITS.bodyBytes);
    this.maxWireBytes = Math.max(16, opts.maxWireBytes ?? CAPTURE_LIMITS.wireBytes);
    this.maxRecords = Math.max(1, opts.maxRecords ?? CAPTURE_LIMITS.records);
    this.maxWsMessages = Math.max(1, opts.maxWsMessages ?? 200);
    this.maxBytes = Math.max(1024 * 1024, opts.maxBytes ?? DEFAULT_MAX_BYTES);
    this.ring = new FlowRing(this.maxFlows, this.maxBytes, (c) => this.folder.connBytes(c));
    this.folder = new FlowFold(this.ring, {
      maxBodyBytes: this.maxBodyBytes,
      maxWireBytes: this.maxWireBytes,
      maxRecords: this.maxRecords,
      maxWsMessages: this.maxWsMessages,
    });
  }

  /** Bytes counted for everything kept now (never above `maxBytes` after a fold). */
  get bytes(): number {
    this.drain();
    return this.ring.bytes;
  }

  /** Increases on every change: a view compares it with the last one it drew (dirty flag). */
  get version(): number {
    this.drain();
    return this.changes;
  }

  /** Flows dropped because the ring was full, since start or the last `clear()`. */
  get evicted(): number {
    this.drain();
    return this.ring.evicted;
  }

  get size(): number {
    this.drain();
    return this.ring.size;
  }

  /** The proxy's `proxy.listening` announcement, when it was seen. */
  get listening(): ListeningInfo | null {
    this.drain();
    return this.folder.listening;
  }

  /** The latest diag messages, oldest first. */
  get diags(): readonly DiagEvent[] {
    this.drain();
    return this.folder.diags;
  }

  /**
   * Called after a change (once per folded batch), and when `enqueue` queues the first event
   * of a batch. Keep it cheap (set a dirty flag). Returns the unsubscribe.
   */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Fold one event in now. Unknown or out-of-order events never throw; they are kept as best they can be. */
  apply(e: ProxyEvent): void {
    this.drain();
    if (this.fold(e)) this.notify();
  }

  /**
   * Queue an event, to be folded when the store is next read (any getter or query) rather than
   * now: what a live proxy's bus listener should call. A proxy under load emits thousands of
   * events a second and a view reads ten times a second; folding them in one batch at read time
   * costs about half as much as folding each between the proxy's own work, and keeps that work
   * off the proxy's request path (`npm run bench 30-ui`). Listeners hear of the first queued
   * event of a batch, so a view knows to redraw. The queue is bounded: at MAX_PENDING events it
   * folds at once, so a store nobody reads still never grows without limit.
   */
  enqueue(e: ProxyEvent): void {
    this.pending.push(e);
    this.pendingBytes += queuedBytes(e);
    if (this.pending.length === 1) this.notify();
    if (this.pending.length >= MAX_PENDING || this.pendingBytes >= MAX_PENDING_BYTES) this.drain();
  }

  /** Events folded from the queue, and the time that took in ms (the UI benchmark reports it). */
  get queueStats(): { folded: number; foldMs: number } {
    return { folded: this.foldedCount, foldMs: this.foldMs };
  }

  /** Fold the queued events, in order, then tell listeners once. */
  private drain(): void {
    if (this.pending.length === 0) return;
    const started = performance.now();
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    let changed = false;
    for (const e of batch) {
      try {
        if (this.fold(e)) changed = true;
      } catch (err) {
        // With apply() the bus turned a throw into a diag event; here the throw would reach the
        // reader (a frame) and lose the rest of the batch, every frame. Note it, fold the rest.
        this.noteFoldError(e, err);
        changed = true;
      }
    }
    this.foldedCount += batch.length;
    this.foldMs += performance.now() - started;
    if (changed) this.notify();
  }

  private noteFoldError(e: ProxyEvent, err: unknown): void {
    this.folder.noteDiag({
      type: 'diag',
      id: `store-${++this.foldErrors}`,
      at: new Date().toISOString(),
      connId: e.connId,
      level: 'error',
      source: 'flow-store',
      message: `could not fold ${e.type} ${e.id}: ${err instanceof Error ? err.message : String(err)}`,
    });
    this.changes++;
  }

  /** Fold one event, then keep the byte budget; false when it changed nothing. */
  private fold(e: ProxyEvent): boolean {
    if (!this.folder.apply(e)) return false;
    this.changes++;
    this.ring.settle(e.connId);
    return true;
  }

  /** One flow by id. */
  get(id: string): Flow | undefined {
    this.drain();
    return this.ring.flow(id);
  }

  /** One connection by id. */
  connection(connId: string): ConnInfo | undefined {
    this.drain();
    return this.ring.conn(connId);
  }

  /** Every flow, oldest first. */
  all(): Flow[] {
    this.drain();
    return this.ring.all();
  }

  /** The flows matching `filter`, oldest first. */
  query(filter: FlowFilter = {}): Flow[] {
    this.drain();
    // The usual case, every frame under load: no need to touch 2000 flows to keep them all.
    if (filterIsEmpty(filter)) return this.ring.all();
    return this.ring.select((f) => matchesFilter(f, filter));
  }

  /** How many flows carry each badge (the header's counts by visibility). */
  counts(): BadgeCounts {
    this.drain();
    return this.ring.counts();
  }

  /** Forget every flow and connection (the `c` key). The proxy's announcement is kept. */
  clear(): void {
    this.drain(); // what was queued happened before the clear
    this.ring.clear();
    this.changed();
  }

  private changed(): void {
    this.changes++;
    this.notify();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}

/**
 * Bytes of body and wire an event waiting in the queue holds (its strings' and Buffers'
 * lengths). Runs on the proxy's path for every event, before any check of the event's shape:
 * never throws.
 */
function queuedBytes(e: ProxyEvent): number {
  const x = e as {
    body?: { text?: unknown; bytes?: unknown };
    up?: { bytes?: unknown };
    down?: { bytes?: unknown };
    wire?: { up?: { bytes?: unknown }; down?: { bytes?: unknown } };
    preview?: unknown;
  };
  return (
    OBJECT_BYTES +
    2 * chars(x.body?.text) +
    bufLen(x.body?.bytes) +
    bufLen(x.up?.bytes) +
    bufLen(x.down?.bytes) +
    bufLen(x.wire?.up?.bytes) +
    bufLen(x.wire?.down?.bytes) +
    2 * chars(x.preview)
  );
}

function chars(s: unknown): number {
  return typeof s === 'string' ? s.length : 0;
}
