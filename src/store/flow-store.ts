// The flow store: folds the event stream into flows a view can list, bounded so a long
// workshop never grows memory without limit (a ring of flows, bodies and wire captures cut to a
// size with a visible mark, and a byte budget over everything it keeps: see ./retained.ts). Views never see events directly; they read flows and watch
// `version` (or subscribe) to know when to redraw. Modelled on mitmproxy's eventstore/view
// addons: append-only ring + change signal.
import type {
  BodyCapture,
  ConnWireEvent,
  DiagEvent,
  ProxyEvent,
  UpstreamErrorEvent,
  WireBytes,
  WireCapture,
  WireDelta,
} from '../events/types.ts';
import { type FlowFilter, filterIsEmpty, matchesFilter } from './filter.ts';
import type { Badge, BadgeCounts, ConnInfo, Flow, ListeningInfo, StoredBody } from './flow.ts';
import { BADGES } from './flow.ts';
import { HstsMemory } from './hsts.ts';
import {
  CERT_BYTES,
  OBJECT_BYTES,
  certsBytes,
  finalWireBytes,
  helloBytes,
  ownBase64Prefix,
  ownString,
  recordsBytes,
  requestBytes,
  responseBytes,
  upstreamErrorBytes,
  wsHandshakeBytes,
  wsMessageBytes,
} from './retained.ts';

export interface FlowStoreOptions {
  /** Flows kept before the oldest is dropped (default 2000: a long workshop, ~tens of MB). */
  maxFlows?: number;
  /** Characters of a body kept (default 64 Ki: more than a screen can show, bounded memory). */
  maxBodyChars?: number;
  /** Base64 characters of wire capture kept per direction (default 32 Ki ≈ 24 KiB of bytes). */
  maxWireChars?: number;
  /** TLS records kept per connection (default 400). */
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

/** How many diag messages the store remembers (the footer shows the latest). */
const MAX_DIAGS = 50;
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

/** The store's bookkeeping for one connection object (ConnInfo stays plain data). */
interface ConnBook {
  /** Arrival number, shared with flows: the budget drops the oldest of either first. */
  arrival: number;
  /** Kept flows riding on this object (they keep it, and its wire capture, alive). */
  flows: number;
  /** Still in the connection table (new events for its connId land on it). */
  listed: boolean;
  /** Bytes counted for it now. */
  charge: number;
}

export class FlowStore {
  readonly maxFlows: number;
  readonly maxBodyChars: number;
  readonly maxWireChars: number;
  readonly maxRecords: number;
  readonly maxWsMessages: number;
  readonly maxBytes: number;

  private readonly flows = new Map<string, Flow>();
  /**
   * Flows in arrival order, as a ring: `order[head…]` are live. Evicting from the front of a
   * Map is slow in V8 (deleted entries linger and `keys().next()` walks over them), so the
   * order is kept here and the Map only answers lookups.
   */
  private order: Flow[] = [];
  private head = 0;
  private readonly conns = new Map<string, ConnInfo>();
  /** Connections in arrival order, a ring like `order` (same reason: evicting from a Map's front is slow). */
  private connOrder: ConnInfo[] = [];
  private connHead = 0;
  private readonly listeners = new Set<() => void>();
  private seq = 0;
  private changes = 0;
  private evictedCount = 0;
  private listeningEvent: ListeningInfo | null = null;
  private readonly diagList: DiagEvent[] = [];
  /**
   * Hosts seen sending Strict-Transport-Security in a decrypted response. Kept by `clear()` (the
   * `c` key clears the list, not what was learnt); forgotten at `lab.reset`.
   */
  private readonly hsts = new HstsMemory();
  /** Per open connection: how much of its `conn.wire` deltas was folded (collected with it). */
  private readonly live = new WeakMap<ConnInfo, LiveWire>();
  /** Events queued by `enqueue`, not folded yet. */
  private pending: ProxyEvent[] = [];
  /** Flows per badge among the live ones (see setBadge). */
  private badgeCounts: BadgeCounts = zeroCounts();
  private foldedCount = 0;
  /** Queued events that threw while being folded (each becomes a store diag). */
  private foldErrors = 0;
  private foldMs = 0;
  /** Bytes counted for what is kept (flows, and connections listed or kept by a flow). */
  private bytesKept = 0;
  /** Bytes of the queued events' bodies and wire captures (MAX_PENDING_BYTES). */
  private pendingBytes = 0;
  private arrivals = 0;
  private books = new WeakMap<ConnInfo, ConnBook>();
  private flowBooks = new WeakMap<Flow, { arrival: number; charge: number }>();

  constructor(opts: FlowStoreOptions = {}) {
    this.maxFlows = Math.max(1, opts.maxFlows ?? 2000);
    this.maxBodyChars = Math.max(16, opts.maxBodyChars ?? 64 * 1024);
    this.maxWireChars = Math.max(16, opts.maxWireChars ?? 32 * 1024);
    this.maxRecords = Math.max(1, opts.maxRecords ?? 400);
    this.maxWsMessages = Math.max(1, opts.maxWsMessages ?? 200);
    this.maxBytes = Math.max(1024 * 1024, opts.maxBytes ?? DEFAULT_MAX_BYTES);
  }

  /** Bytes counted for everything kept now (never above `maxBytes` after a fold). */
  get bytes(): number {
    this.drain();
    return this.bytesKept;
  }

  /** Increases on every change: a view compares it with the last one it drew (dirty flag). */
  get version(): number {
    this.drain();
    return this.changes;
  }

  /** Flows dropped because the ring was full, since start or the last `clear()`. */
  get evicted(): number {
    this.drain();
    return this.evictedCount;
  }

  get size(): number {
    this.drain();
    return this.flows.size;
  }

  /** The proxy's `proxy.listening` announcement, when it was seen. */
  get listening(): ListeningInfo | null {
    this.drain();
    return this.listeningEvent;
  }

  /** The latest diag messages, oldest first. */
  get diags(): readonly DiagEvent[] {
    this.drain();
    return this.diagList;
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
    this.diagList.push({
      type: 'diag',
      id: `store-${++this.foldErrors}`,
      at: new Date().toISOString(),
      connId: e.connId,
      level: 'error',
      source: 'flow-store',
      message: `could not fold ${e.type} ${e.id}: ${err instanceof Error ? err.message : String(err)}`,
    });
    if (this.diagList.length > MAX_DIAGS) this.diagList.shift();
    this.changes++;
  }

  /** Fold one event, then keep the byte budget; false when it changed nothing. */
  private fold(e: ProxyEvent): boolean {
    if (!this.foldOne(e)) return false;
    const c = e.connId === null ? undefined : this.conns.get(e.connId);
    if (c) this.chargeConn(c);
    if (this.bytesKept > this.maxBytes) this.keepBudget();
    return true;
  }

  /** Fold one event; false when it changed nothing (an unknown type, a late delta). */
  private foldOne(e: ProxyEvent): boolean {
    switch (e.type) {
      case 'proxy.listening':
        this.listeningEvent = e;
        break;
      case 'conn.open': {
        const c = this.conn(e.connId, e.at);
        c.clientAddress = e.clientAddress;
        c.clientPort = e.clientPort;
        c.openedAt = e.at;
        break;
      }
      case 'conn.close': {
        const c = this.conn(e.connId, e.at);
        const wire = this.capWire(e.wire);
        c.closed = { at: e.at, durationMs: e.durationMs, wire };
        c.wire = wire;
        this.live.delete(c);
        this.refreshTlsFlowSize(e.connId);
        break;
      }
      case 'conn.wire': {
        const c = this.conn(e.connId, e.at);
        // The final capture wins; a late or duplicate delta changes nothing.
        if (c.closed) return false;
        c.wire = this.foldWire(c, e);
        break;
      }
      case 'tls.client-hello':
        this.conn(e.connId, e.at).hello = e;
        break;
      case 'tls.forged':
        this.conn(e.connId, e.at).forged = e;
        break;
      case 'tls.client-accepted':
        this.conn(e.connId, e.at).accepted = e;
        break;
      case 'tls.client-rejected': {
        const c = this.conn(e.connId, e.at);
        c.rejected = e;
        const f = this.tlsFlow(c, e.at, e.host, 'HTTPS refused');
        f.outcome = 'refused';
        f.port = f.port ?? c.hello?.port ?? null;
        f.hsts = this.hsts.lookup(e.sni ?? e.host);
        break;
      }
      case 'tunnel.summary': {
        const c = this.conn(e.connId, e.at);
        c.tunnel = e;
        const f = this.tlsFlow(c, e.at, e.host, 'HTTPS tunnelled');
        this.setBadge(f, 'HTTPS tunnelled');
        if (f.outcome !== 'upstream-error') f.outcome = 'tunnelled';
        f.port = e.port;
        f.size = e.bytesUp + e.bytesDown;
        break;
      }
      case 'http.request': {
        const c = this.conn(e.connId, e.at);
        const existing = this.flows.get(e.flowId);
        const flow: Flow = existing ?? this.newFlow(e.flowId, 'http', c, e.at);
        // The event itself is kept (no copy per request) unless its body must be cut.
        const body = this.capBody(e.body);
        const before = flow.request ? requestBytes(flow.request) : 0;
        flow.request = body === e.body ? e : { ...e, body };
        this.setBadge(flow, e.visibility === 'wire' ? 'HTTP plaintext' : 'HTTPS decrypted');
        flow.visibility = e.visibility;
        flow.host = e.host;
        flow.port = portOf(e.url, e.scheme);
        flow.method = e.method;
        flow.path = e.path;
        flow.url = e.url;
        if (!existing) {
          flow.outcome = 'pending';
          c.flowCount++;
          this.insert(flow);
        }
        this.chargeFlow(flow, requestBytes(flow.request) - before);
        break;
      }
      case 'http.response': {
        const flow = this.httpFlow(e.flowId, e.connId, e.at, e.visibility);
        const body = this.capBody(e.body);
        const before = flow.response ? responseBytes(flow.response) : 0;
        flow.response = body === e.body ? e : { ...e, body };
        this.chargeFlow(flow, responseBytes(flow.response) - before);
        flow.status = e.status;
        flow.size = e.body.size;
        if (e.visibility === 'proxy-only') this.hsts.noteResponse(flow.host, e.headers, e.at, e.id);
        if (flow.outcome !== 'upstream-error') flow.outcome = 'ok';
        break;
      }
      case 'ws.handshake': {
        const flow = this.httpFlow(e.flowId, e.connId, e.at, e.visibility);
        const before = flow.wsHandshake ? wsHandshakeBytes(flow.wsHandshake) : 0;
        flow.wsHandshake = e;
        this.chargeFlow(flow, wsHandshakeBytes(e) - before);
        break;
      }
      case 'ws.message': {
        const flow = this.httpFlow(e.flowId, e.connId, e.at, e.visibility);
        // The engine's preview may be a slice of the whole message: keep a copy of its own.
        const msg = e.preview ? { ...e, preview: ownString(e.preview) } : e;
        flow.ws.push(msg);
        let delta = wsMessageBytes(msg);
        if (flow.ws.length > this.maxWsMessages) {
          delta -= wsMessageBytes(flow.ws.shift()!);
          flow.wsDropped++;
        }
        this.chargeFlow(flow, delta);
        break;
      }
      case 'upstream.error':
        this.applyUpstreamError(e);
        break;
      case 'lab.reset':
        // The lab restarts: every view of this event stream (UI, attach, replay) empties alike.
        this.forgetAll();
        this.hsts.clear();
        break;
      case 'diag':
        this.diagList.push(e);
        if (this.diagList.length > MAX_DIAGS) this.diagList.shift();
        break;
      default:
        // A newer engine (or an attach feed) may send types this build does not know: a view
        // must survive that, so unknown events are ignored rather than thrown on.
        return false;
    }
    this.changes++;
    return true;
  }

  /** One flow by id. */
  get(id: string): Flow | undefined {
    this.drain();
    return this.flows.get(id);
  }

  /** One connection by id. */
  connection(connId: string): ConnInfo | undefined {
    this.drain();
    return this.conns.get(connId);
  }

  /** Every flow, oldest first. */
  all(): Flow[] {
    this.drain();
    return this.order.slice(this.head);
  }

  /** The flows matching `filter`, oldest first. */
  query(filter: FlowFilter = {}): Flow[] {
    this.drain();
    // The usual case, every frame under load: no need to touch 2000 flows to keep them all.
    if (filterIsEmpty(filter)) return this.order.slice(this.head);
    const out: Flow[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const f = this.order[i]!;
      if (matchesFilter(f, filter)) out.push(f);
    }
    return out;
  }

  /** How many flows carry each badge (the header's counts by visibility). */
  counts(): BadgeCounts {
    this.drain();
    return { ...this.badgeCounts };
  }

  /** Forget every flow and connection (the `c` key). The proxy's announcement is kept. */
  clear(): void {
    this.drain(); // what was queued happened before the clear
    this.forgetAll();
    this.changed();
  }

  private forgetAll(): void {
    this.flows.clear();
    this.order = [];
    this.head = 0;
    this.conns.clear();
    this.connOrder = [];
    this.connHead = 0;
    this.evictedCount = 0;
    this.badgeCounts = zeroCounts();
    this.bytesKept = 0;
    this.books = new WeakMap();
    this.flowBooks = new WeakMap();
  }

  private changed(): void {
    this.changes++;
    this.notify();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  private conn(connId: string, at: string): ConnInfo {
    let c = this.conns.get(connId);
    if (!c) {
      c = {
        connId,
        openedAt: at,
        clientAddress: null,
        clientPort: null,
        hello: null,
        forged: null,
        accepted: null,
        rejected: null,
        tunnel: null,
        upstreamErrors: [],
        wire: null,
        closed: null,
        flowCount: 0,
      };
      this.conns.set(connId, c);
      this.connOrder.push(c);
      this.books.set(c, { arrival: ++this.arrivals, flows: 0, listed: true, charge: 0 });
      this.chargeConn(c);
      // Connections are bounded too: twice the flows leaves room for ones still opening.
      while (this.conns.size > this.maxFlows * 2 && this.connHead < this.connOrder.length) {
        this.dropOldestConn();
      }
    }
    return c;
  }

  /** Take the oldest connection out of the table (its flows, if any, still show it). */
  private dropOldestConn(): void {
    const oldest = this.connOrder[this.connHead]!;
    this.connOrder[this.connHead] = undefined as unknown as ConnInfo; // let it be collected
    this.connHead++;
    if (this.conns.get(oldest.connId) === oldest) this.conns.delete(oldest.connId);
    const book = this.books.get(oldest);
    if (book) {
      book.listed = false;
      this.releaseIfUnused(oldest, book);
    }
    if (this.connHead > 1024 && this.connHead > this.connOrder.length / 2) {
      this.connOrder = this.connOrder.slice(this.connHead);
      this.connHead = 0;
    }
  }

  /** A connection neither listed nor kept by a flow is garbage: stop counting it. */
  private releaseIfUnused(c: ConnInfo, book: ConnBook): void {
    if (book.listed || book.flows > 0) return;
    this.bytesKept -= book.charge;
    book.charge = 0;
  }

  /** Count a connection again after a change (its wire capture grew, it closed…). */
  private chargeConn(c: ConnInfo): void {
    const book = this.books.get(c);
    if (!book || (!book.listed && book.flows === 0)) return;
    const n = this.connBytes(c);
    this.bytesKept += n - book.charge;
    book.charge = n;
  }

  private connBytes(c: ConnInfo): number {
    let n = OBJECT_BYTES;
    if (c.hello) n += helloBytes(c.hello);
    if (c.forged) n += OBJECT_BYTES + CERT_BYTES;
    if (c.accepted) n += OBJECT_BYTES;
    if (c.rejected) n += OBJECT_BYTES + 2 * String(c.rejected.raw ?? '').length;
    if (c.tunnel) n += OBJECT_BYTES + certsBytes(c.tunnel.serverCertificates);
    for (const e of c.upstreamErrors) n += upstreamErrorBytes(e);
    const wire = c.wire;
    if (wire) {
      n += OBJECT_BYTES + recordsBytes(wire.records) + certsBytes(wire.serverCertificates);
      const live = c.closed ? undefined : this.live.get(c);
      n += live
        ? live.up.retained() + live.down.retained()
        : finalWireBytes(wire.up) + finalWireBytes(wire.down);
    }
    return n;
  }

  /** Add `delta` bytes to a kept flow's count. */
  private chargeFlow(flow: Flow, delta: number): void {
    const book = this.flowBooks.get(flow);
    if (!book || this.flows.get(flow.id) !== flow) return;
    book.charge += delta;
    this.bytesKept += delta;
  }

  /**
   * Over budget: drop the oldest flow or connection, whichever came first, until the count fits.
   * The newest flow stays (one flow is far below any budget: its bodies and wire are capped).
   */
  private keepBudget(): void {
    while (this.bytesKept > this.maxBytes) {
      const flow = this.head < this.order.length ? this.order[this.head]! : null;
      const conn = this.connHead < this.connOrder.length ? this.connOrder[this.connHead]! : null;
      const flowArrival = flow ? (this.flowBooks.get(flow)?.arrival ?? 0) : Infinity;
      const connArrival = conn ? (this.books.get(conn)?.arrival ?? 0) : Infinity;
      if (conn && connArrival < flowArrival) this.dropOldestConn();
      else if (flow && this.order.length - this.head > 1) this.dropOldestFlow();
      else break;
    }
  }

  private newFlow(id: string, kind: Flow['kind'], conn: ConnInfo, at: string): Flow {
    return {
      id,
      seq: ++this.seq,
      kind,
      connId: conn.connId,
      at,
      badge: kind === 'http' ? 'HTTP plaintext' : 'HTTPS refused',
      outcome: 'pending',
      visibility: null,
      host: conn.hello?.sni ?? conn.hello?.host ?? '',
      port: conn.hello?.port ?? null,
      method: null,
      path: null,
      url: null,
      status: null,
      size: null,
      request: null,
      response: null,
      upstreamError: null,
      wsHandshake: null,
      ws: [],
      wsDropped: 0,
      hsts: null,
      conn,
    };
  }

  /**
   * Change a flow's badge, keeping the counts right (the header reads them every frame, so they
   * are kept as flows come, change and go rather than counted over the whole ring).
   */
  private setBadge(flow: Flow, badge: Badge): void {
    if (flow.badge === badge) return;
    if (this.flows.get(flow.id) === flow) {
      this.badgeCounts[flow.badge]--;
      this.badgeCounts[badge]++;
    }
    flow.badge = badge;
  }

  private insert(flow: Flow): void {
    this.flows.set(flow.id, flow);
    this.order.push(flow);
    this.badgeCounts[flow.badge]++;
    this.flowBooks.set(flow, { arrival: ++this.arrivals, charge: OBJECT_BYTES });
    this.bytesKept += OBJECT_BYTES;
    const book = this.books.get(flow.conn);
    if (book) book.flows++;
    while (this.order.length - this.head > this.maxFlows) this.dropOldestFlow();
  }

  private dropOldestFlow(): void {
    const oldest = this.order[this.head]!;
    this.order[this.head] = undefined as unknown as Flow; // let it be collected
    this.head++;
    this.flows.delete(oldest.id);
    this.badgeCounts[oldest.badge]--;
    this.evictedCount++;
    this.bytesKept -= this.flowBooks.get(oldest)?.charge ?? 0;
    this.flowBooks.delete(oldest);
    const book = this.books.get(oldest.conn);
    if (book) {
      book.flows--;
      this.releaseIfUnused(oldest.conn, book);
    }
    // Compact the ring once its dead front outweighs the live part.
    if (this.head > 1024 && this.head > this.order.length / 2) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** The HTTP flow for a response/ws message, created when its request was never seen. */
  private httpFlow(
    flowId: string,
    connId: string,
    at: string,
    visibility: Flow['visibility'],
  ): Flow {
    const existing = this.flows.get(flowId);
    if (existing) return existing;
    const c = this.conn(connId, at);
    const flow = this.newFlow(flowId, 'http', c, at);
    flow.visibility = visibility;
    flow.badge = visibility === 'wire' ? 'HTTP plaintext' : 'HTTPS decrypted';
    c.flowCount++;
    this.insert(flow);
    return flow;
  }

  /** The connection-level flow (`tls:<connId>`) for a TLS connection that carried no HTTP we read. */
  private tlsFlow(c: ConnInfo, at: string, host: string, badge: Badge): Flow {
    const id = `tls:${c.connId}`;
    let flow = this.flows.get(id);
    if (!flow) {
      flow = this.newFlow(id, 'tls', c, at);
      flow.badge = badge;
      flow.host = host || flow.host;
      this.insert(flow);
      this.refreshTlsFlowSize(c.connId);
    }
    return flow;
  }

  private refreshTlsFlowSize(connId: string): void {
    const flow = this.flows.get(`tls:${connId}`);
    const wire = flow?.conn.closed?.wire;
    if (flow && wire && flow.size === null) flow.size = wire.up.size + wire.down.size;
  }

  private applyUpstreamError(e: UpstreamErrorEvent): void {
    if (e.flowId !== null) {
      const flow = this.httpFlow(e.flowId, e.connId, e.at, null);
      if (!flow.host) flow.host = e.host;
      const before = flow.upstreamError ? upstreamErrorBytes(flow.upstreamError) : 0;
      this.chargeFlow(flow, upstreamErrorBytes(e) - before);
      flow.upstreamError = e;
      flow.outcome = 'upstream-error';
      if (e.status !== null) flow.status = e.status;
      return;
    }
    const c = this.conn(e.connId, e.at);
    c.upstreamErrors.push(e);
    if (c.upstreamErrors.length > 20) c.upstreamErrors.shift();
    // No HTTP flow to hang it on: the tunnel (or the CONNECT) itself failed upstream.
    const flow = this.tlsFlow(c, e.at, e.host, 'HTTPS tunnelled');
    flow.upstreamError = e;
    flow.outcome = 'upstream-error';
    flow.port = e.port;
  }

  /** The body as kept: cut to maxBodyChars, and then a copy (a slice would keep it all). */
  private capBody(body: BodyCapture): StoredBody {
    if ('text' in body) {
      if (body.text.length <= this.maxBodyChars) return body;
      return {
        text: ownString(body.text.slice(0, this.maxBodyChars)),
        size: body.size,
        truncated: true,
        storeCut: true,
      };
    }
    // Base64 is cut on a 4-character boundary so it still decodes.
    const limit = this.maxBodyChars - (this.maxBodyChars % 4);
    if (body.base64.length <= limit) return body;
    return {
      base64: ownBase64Prefix(body.base64, limit),
      size: body.size,
      truncated: true,
      storeCut: true,
    };
  }

  /**
   * Append a `conn.wire` delta to the connection's live capture. Bytes and records are taken
   * only when they continue exactly where the previous delta ended (`offset`, `recordsFrom`):
   * after a gap (e.g. an attach feed that joined late) the sizes still update, and the capture
   * is marked cut rather than shown with bytes out of place.
   */
  private foldWire(c: ConnInfo, e: ConnWireEvent): WireCapture {
    let state = this.live.get(c);
    if (!state) {
      state = { up: new LiveBytes(), down: new LiveBytes(), recordsSeen: 0 };
      this.live.set(c, state);
    }
    const prev = c.wire;
    const maxBytes = Math.floor(this.maxWireChars / 4) * 3;
    let records = prev ? prev.records : [];
    let recordsCut: boolean;
    if (e.recordsFrom === state.recordsSeen) {
      const room = this.maxRecords - records.length;
      if (e.records.length > 0 && room > 0) records = records.concat(e.records.slice(0, room));
      recordsCut = e.records.length > room;
      state.recordsSeen += e.records.length;
    } else recordsCut = e.records.length > 0 || e.recordsFrom > state.recordsSeen;
    return {
      up: state.up.add(e.up, maxBytes),
      down: state.down.add(e.down, maxBytes),
      records,
      recordsTruncated: e.recordsTruncated || recordsCut || (prev?.recordsTruncated ?? false),
      serverCertificates: e.serverCertificates ?? prev?.serverCertificates ?? null,
      tlsVersion: e.tlsVersion,
      cipherSuite: e.cipherSuite,
      keyExchangeGroup: e.keyExchangeGroup,
    };
  }

  private capWire(wire: WireCapture): WireCapture {
    const records = wire.records.length > this.maxRecords;
    return {
      ...wire,
      up: this.capWireBytes(wire.up),
      down: this.capWireBytes(wire.down),
      records: records ? wire.records.slice(0, this.maxRecords) : wire.records,
      recordsTruncated: wire.recordsTruncated || records,
    };
  }

  private capWireBytes(b: WireBytes): WireBytes {
    const limit = this.maxWireChars - (this.maxWireChars % 4);
    if (b.base64.length <= limit) return b;
    return { base64: ownBase64Prefix(b.base64, limit), size: b.size, truncated: true };
  }
}

function zeroCounts(): BadgeCounts {
  return Object.fromEntries(BADGES.map((b) => [b, 0])) as BadgeCounts;
}

/** The store's side of one connection's `conn.wire` deltas. */
interface LiveWire {
  up: LiveBytes;
  down: LiveBytes;
  /** Records the deltas announced so far (kept or not). */
  recordsSeen: number;
}

/**
 * One direction's live bytes, grown by deltas in O(delta). The kept bytes live in one buffer of
 * the store's own (doubling up to the limit, copied on growth): a delta decoded by Buffer.from
 * is a slice of Node's shared 8 KiB pool when small, and keeping such slices kept whole slabs.
 * The base64 a view reads is materialised only when it is read (a getter on the returned
 * `WireBytes`), once per change, not once per delta: under load a connection gets a delta
 * after every response while the UI reads at most one connection per frame. Once the store's
 * limit is reached a delta is not even decoded (its length gives the byte count).
 */
class LiveBytes {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes received in order (what the next delta's `offset` must be). */
  private received = 0;
  /** Bytes kept (at most the store's limit): `buf[0, kept)`. */
  private kept = 0;
  private cut = false;
  /** `buf[0, kept)` as one Buffer object while `kept` does not change (views cache by it). */
  private view: Buffer = this.buf;
  /** Its base64, once read. */
  private viewBase64: string | null = '';

  add(d: WireDelta, maxBytes: number): WireBytes {
    if (d.offset !== this.received) this.cut = true;
    else if (d.base64.length > 0) {
      const room = Math.max(0, maxBytes - this.kept);
      if (room === 0) {
        // Full: only the count matters, and base64's length gives it without decoding.
        this.received += base64Bytes(d.base64);
        this.cut = true;
      } else {
        const bytes = Buffer.from(d.base64, 'base64');
        this.received += bytes.length;
        const take = Math.min(room, bytes.length);
        if (take < bytes.length) this.cut = true;
        if (take > 0) {
          this.reserve(this.kept + take, maxBytes);
          bytes.copy(this.buf, this.kept, 0, take);
          this.kept += take;
        }
      }
    }
    return new LiveWireBytes(this, this.kept, d.size, d.truncated || this.cut);
  }

  /** Grow the buffer to hold `need` bytes (never past `max`): bytes already kept are copied. */
  private reserve(need: number, max: number): void {
    if (need <= this.buf.length) return;
    const size = Math.min(max, Math.max(need, this.buf.length * 2, 1024));
    // Memory of its own, not a slice of the shared pool (see the class comment).
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.kept);
    this.buf = next;
  }

  /** Bytes this direction may hold: its buffer, and the base64 of what it keeps once read. */
  retained(): number {
    return this.buf.length + Math.ceil(this.kept / 3) * 4;
  }

  /**
   * The first `kept` bytes (what a snapshot made at that length holds). Bytes are only ever
   * appended past `kept`, so an earlier snapshot's prefix never changes.
   */
  bytes(kept: number): Buffer {
    if (kept !== this.kept) return this.buf.subarray(0, kept);
    if (this.view.length !== kept || this.view.buffer !== this.buf.buffer) {
      this.view = this.buf.subarray(0, kept);
      this.viewBase64 = null;
    }
    return this.view;
  }

  base64(kept: number): string {
    const buf = this.bytes(kept);
    if (buf !== this.view) return buf.toString('base64');
    this.viewBase64 ??= buf.toString('base64');
    return this.viewBase64;
  }
}

/**
 * A live capture direction as the store hands it out: `base64` is encoded when first read, not
 * per delta (an object literal with a getter costs more per delta than the whole fold). The
 * getter lives on the prototype: `toJSON` gives the plain `WireBytes` for serialising, and a
 * spread (`{ ...bytes }`) or a deep-equality test must name `base64` explicitly.
 */
class LiveWireBytes implements WireBytes {
  constructor(
    private readonly live: LiveBytes,
    private readonly kept: number,
    /** Total bytes that crossed in this direction. */
    readonly size: number,
    /** True when `size` exceeds what `base64` holds. */
    readonly truncated: boolean,
  ) {}

  get base64(): string {
    return this.live.base64(this.kept);
  }

  /** The kept bytes themselves (no base64 round trip). */
  buffer(): Buffer {
    return this.live.bytes(this.kept);
  }

  toJSON(): WireBytes {
    return { base64: this.base64, size: this.size, truncated: this.truncated };
  }
}

/**
 * Bytes of body and wire an event waiting in the queue holds (its strings' lengths). Runs on the
 * proxy's path for every event, before any check of the event's shape: never throws.
 */
function queuedBytes(e: ProxyEvent): number {
  const x = e as {
    body?: { text?: unknown; base64?: unknown };
    up?: { base64?: unknown };
    down?: { base64?: unknown };
    wire?: { up?: { base64?: unknown }; down?: { base64?: unknown } };
    preview?: unknown;
  };
  return (
    OBJECT_BYTES +
    2 * chars(x.body?.text) +
    chars(x.body?.base64) +
    chars(x.up?.base64) +
    chars(x.down?.base64) +
    chars(x.wire?.up?.base64) +
    chars(x.wire?.down?.base64) +
    2 * chars(x.preview)
  );
}

function chars(s: unknown): number {
  return typeof s === 'string' ? s.length : 0;
}

/** Decoded length of a base64 string (padding aware; no decoding). */
function base64Bytes(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - pad;
}

/**
 * The bytes of a capture direction. For the store's live captures this is the kept bytes
 * themselves (no base64 round trip, and the same Buffer while they do not change); any other
 * `WireBytes` is decoded once and remembered (a view redraws the same capture every frame).
 */
export function wireBuffer(b: WireBytes): Buffer {
  if (b instanceof LiveWireBytes) return b.buffer();
  let buf = decoded.get(b);
  if (!buf) {
    buf = Buffer.from(b.base64, 'base64');
    decoded.set(b, buf);
  }
  return buf;
}

/** Captures decoded so far; collected with them. */
const decoded = new WeakMap<WireBytes, Buffer>();

/**
 * The port of an absolute URL; not `new URL()`, because this runs for every request. The common
 * shape (`http://host[:port]/…`, no userinfo, no IPv6 literal) is read by hand; anything else
 * goes to the general pattern.
 */
export function portOf(url: string, scheme: 'http' | 'https'): number | null {
  const start = url.startsWith('http://') ? 7 : url.startsWith('https://') ? 8 : -1;
  const at = start > 0 ? url.indexOf('@', start) : -1;
  const slash = start > 0 ? url.indexOf('/', start) : -1;
  // Userinfo (an @ before the path) may hide a colon anywhere: the general pattern reads it.
  if (start > 0 && (at < 0 || (slash >= 0 && slash < at))) {
    let end = start;
    let colon = -1;
    for (; end < url.length; end++) {
      const ch = url.charCodeAt(end);
      if (ch === 0x2f || ch === 0x3f || ch === 0x23) break; // / ? #
      if (ch === 0x5b) {
        end = -1; // [ (an IPv6 literal): the general pattern
        break;
      }
      if (ch === 0x3a && colon < 0) colon = end;
    }
    if (end >= 0) {
      let digits = colon < 0 ? 0 : colon + 1;
      if (colon >= 0) while (digits < end && isDigit(url.charCodeAt(digits))) digits++;
      if (colon >= 0 && digits > colon + 1) return Number(url.slice(colon + 1, digits));
      return scheme === 'https' ? 443 : 80;
    }
  }
  return portOfSlow(url, scheme);
}

function isDigit(ch: number): boolean {
  return ch >= 0x30 && ch <= 0x39;
}

function portOfSlow(url: string, scheme: 'http' | 'https'): number | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^/:?#]*)(?::(\d+))?/i.exec(url);
  if (!m) return null;
  return m[1] ? Number(m[1]) : scheme === 'https' ? 443 : 80;
}
