// The store's bounded memory: the flows in arrival order (a ring of at most `maxFlows`), the
// connections in arrival order (at most twice that), the per-badge counts the header reads
// every frame, and a byte budget over everything kept (counted as ./retained.ts says): past
// it, the oldest flow or connection goes first, as when the ring is full (`evicted` counts
// both). The fold (./fold.ts) looks records up and inserts them here; nothing here reads
// events. Modelled on mitmproxy's eventstore addon: an append-only ring.
import type { Badge, BadgeCounts, ConnInfo, Flow } from './flow.ts';
import { BADGES } from './flow.ts';
import { OBJECT_BYTES } from './retained.ts';

/** The ring's bookkeeping for one connection object (ConnInfo stays plain data). */
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

export class FlowRing {
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
  private evictedCount = 0;
  /** Flows per badge among the live ones (see setBadge). */
  private badgeCounts: BadgeCounts = zeroCounts();
  /** Bytes counted for what is kept (flows, and connections listed or kept by a flow). */
  private bytesKept = 0;
  private arrivals = 0;
  private books = new WeakMap<ConnInfo, ConnBook>();
  private flowBooks = new WeakMap<Flow, { arrival: number; charge: number }>();

  /**
   * @param maxFlows flows kept before the oldest is dropped
   * @param maxBytes the byte budget over flows and connections
   * @param connBytes what a connection retains now (its fields, capture and live buffers)
   */
  constructor(
    readonly maxFlows: number,
    readonly maxBytes: number,
    private readonly connBytes: (c: ConnInfo) => number,
  ) {}

  /** Bytes counted for everything kept now. */
  get bytes(): number {
    return this.bytesKept;
  }

  /** Flows dropped because the ring or the budget was full, since start or the last `clear()`. */
  get evicted(): number {
    return this.evictedCount;
  }

  get size(): number {
    return this.flows.size;
  }

  /** One kept flow by id. */
  flow(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  /** One listed connection by id. */
  conn(connId: string): ConnInfo | undefined {
    return this.conns.get(connId);
  }

  /** Every flow, oldest first (a new array). */
  all(): Flow[] {
    return this.order.slice(this.head);
  }

  /** The flows `keep` says yes to, oldest first. */
  select(keep: (f: Flow) => boolean): Flow[] {
    const out: Flow[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const f = this.order[i]!;
      if (keep(f)) out.push(f);
    }
    return out;
  }

  /** How many flows carry each badge (a copy). */
  counts(): BadgeCounts {
    return { ...this.badgeCounts };
  }

  /** Forget every flow and connection. */
  clear(): void {
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

  /** List a new connection (counted, and the oldest dropped past twice `maxFlows`). */
  addConn(c: ConnInfo): void {
    this.conns.set(c.connId, c);
    this.connOrder.push(c);
    this.books.set(c, { arrival: ++this.arrivals, flows: 0, listed: true, charge: 0 });
    this.chargeConn(c);
    // Connections are bounded too: twice the flows leaves room for ones still opening.
    while (this.conns.size > this.maxFlows * 2 && this.connHead < this.connOrder.length) {
      this.dropOldestConn();
    }
  }

  /** Keep a new flow (counted, and the oldest dropped past `maxFlows`). */
  insert(flow: Flow): void {
    this.flows.set(flow.id, flow);
    this.order.push(flow);
    this.badgeCounts[flow.badge]++;
    this.flowBooks.set(flow, { arrival: ++this.arrivals, charge: OBJECT_BYTES });
    this.bytesKept += OBJECT_BYTES;
    const book = this.books.get(flow.conn);
    if (book) book.flows++;
    while (this.order.length - this.head > this.maxFlows) this.dropOldestFlow();
  }

  /**
   * Change a flow's badge, keeping the counts right (the header reads them every frame, so they
   * are kept as flows come, change and go rather than counted over the whole ring).
   */
  setBadge(flow: Flow, badge: Badge): void {
    if (flow.badge === badge) return;
    if (this.flows.get(flow.id) === flow) {
      this.badgeCounts[flow.badge]--;
      this.badgeCounts[badge]++;
    }
    flow.badge = badge;
  }

  /** Add `delta` bytes to a kept flow's count. */
  chargeFlow(flow: Flow, delta: number): void {
    const book = this.flowBooks.get(flow);
    if (!book || this.flows.get(flow.id) !== flow) return;
    book.charge += delta;
    this.bytesKept += delta;
  }

  /**
   * After an event was folded: count its connection again (its wire capture grew, it
   * closed…), then keep the byte budget.
   */
  settle(connId: string | null): void {
    const c = connId === null ? undefined : this.conns.get(connId);
    if (c) this.chargeConn(c);
    if (this.bytesKept > this.maxBytes) this.keepBudget();
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
}

function zeroCounts(): BadgeCounts {
  return Object.fromEntries(BADGES.map((b) => [b, 0])) as BadgeCounts;
}
