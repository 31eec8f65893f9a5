// The fold: events in, flow and connection records out. Each event updates the records it
// names (a connection by connId, a flow by flowId or `tls:<connId>`), creating them when they
// were never seen (an attach feed that joined late), and cuts bodies, WebSocket previews and
// wire captures to the store's limits with a visible mark. Nothing here does I/O, reads a
// clock or tells anyone: the records live in the ring it is given (./ring.ts, which bounds
// them), and the face (./flow-store.ts) decides when to fold and whom to tell.
import type {
  BodyCapture,
  ConnWireEvent,
  DiagEvent,
  ProxyEvent,
  UpstreamErrorEvent,
  WireCapture,
} from '../events/types.ts';
import type { Badge, ConnInfo, Flow, ListeningInfo, StoredBody } from './flow.ts';
import { HstsMemory } from './hsts.ts';
import {
  CERT_BYTES,
  OBJECT_BYTES,
  certsBytes,
  finalWireBytes,
  helloBytes,
  ownString,
  recordsBytes,
  requestBytes,
  responseBytes,
  upstreamErrorBytes,
  wsHandshakeBytes,
  wsMessageBytes,
} from './retained.ts';
import type { FlowRing } from './ring.ts';
import { portOf } from './url-port.ts';
import {
  bytesOf,
  capWire,
  foldWireDelta,
  liveRetained,
  newLiveCapture,
  ownBytes,
  type LiveCapture,
  type WireLimits,
} from './wire-capture.ts';

/** How many diag messages the store remembers (the footer shows the latest). */
const MAX_DIAGS = 50;

/** The store's limits on what one record keeps (FlowStoreOptions, after their floors). */
export interface FoldLimits extends WireLimits {
  /** Bytes of a binary body kept; characters of a text one. */
  maxBodyBytes: number;
  /** WebSocket messages kept per flow. */
  maxWsMessages: number;
}

export class FlowFold {
  /** The proxy's `proxy.listening` announcement, when it was seen. */
  listening: ListeningInfo | null = null;
  /** The latest diag messages, oldest first (at most MAX_DIAGS). */
  readonly diags: DiagEvent[] = [];
  /** Arrival number of the last flow made (never reset: `seq` keeps increasing). */
  private seq = 0;
  /**
   * Hosts seen sending Strict-Transport-Security in a decrypted response. Kept by the store's
   * `clear()` (the `c` key clears the list, not what was learnt); forgotten at `lab.reset`.
   */
  private readonly hsts = new HstsMemory();
  /** Per open connection: how much of its `conn.wire` deltas was folded (collected with it). */
  private readonly live = new WeakMap<ConnInfo, LiveCapture>();

  constructor(
    private readonly ring: FlowRing,
    private readonly limits: FoldLimits,
  ) {}

  /** Remember a diag message (the oldest forgotten past MAX_DIAGS). */
  noteDiag(d: DiagEvent): void {
    this.diags.push(d);
    if (this.diags.length > MAX_DIAGS) this.diags.shift();
  }

  /**
   * Fold one event into the records; false when it changed nothing (an unknown type, a late
   * delta). Unknown or out-of-order events never throw; they are kept as best they can be.
   */
  apply(e: ProxyEvent): boolean {
    switch (e.type) {
      case 'proxy.listening':
        this.listening = e;
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
        const wire = capWire(e.wire, this.limits);
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
        this.ring.setBadge(f, 'HTTPS tunnelled');
        if (f.outcome !== 'upstream-error') f.outcome = 'tunnelled';
        f.port = e.port;
        f.size = e.bytesUp + e.bytesDown;
        break;
      }
      case 'http.request': {
        const c = this.conn(e.connId, e.at);
        const existing = this.ring.flow(e.flowId);
        const flow: Flow = existing ?? this.newFlow(e.flowId, 'http', c, e.at);
        // The event itself is kept (no copy per request) unless its body must be cut.
        const body = this.capBody(e.body);
        const before = flow.request ? requestBytes(flow.request) : 0;
        flow.request = body === e.body ? e : { ...e, body };
        this.ring.setBadge(flow, e.visibility === 'wire' ? 'HTTP plaintext' : 'HTTPS decrypted');
        flow.visibility = e.visibility;
        flow.host = e.host;
        flow.port = portOf(e.url, e.scheme);
        flow.method = e.method;
        flow.path = e.path;
        flow.url = e.url;
        if (!existing) {
          flow.outcome = 'pending';
          c.flowCount++;
          this.ring.insert(flow);
        }
        this.ring.chargeFlow(flow, requestBytes(flow.request) - before);
        break;
      }
      case 'http.response': {
        const flow = this.httpFlow(e.flowId, e.connId, e.at, e.visibility);
        const body = this.capBody(e.body);
        const before = flow.response ? responseBytes(flow.response) : 0;
        flow.response = body === e.body ? e : { ...e, body };
        this.ring.chargeFlow(flow, responseBytes(flow.response) - before);
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
        this.ring.chargeFlow(flow, wsHandshakeBytes(e) - before);
        break;
      }
      case 'ws.message': {
        const flow = this.httpFlow(e.flowId, e.connId, e.at, e.visibility);
        // The engine's preview may be a slice of the whole message: keep a copy of its own.
        const msg = e.preview ? { ...e, preview: ownString(e.preview) } : e;
        flow.ws.push(msg);
        let delta = wsMessageBytes(msg);
        if (flow.ws.length > this.limits.maxWsMessages) {
          delta -= wsMessageBytes(flow.ws.shift()!);
          flow.wsDropped++;
        }
        this.ring.chargeFlow(flow, delta);
        break;
      }
      case 'upstream.error':
        this.applyUpstreamError(e);
        break;
      case 'lab.reset':
        // The lab restarts: every view of this event stream (UI, attach, replay) empties alike.
        this.ring.clear();
        this.hsts.clear();
        break;
      case 'diag':
        this.noteDiag(e);
        break;
      default:
        // A newer engine (or an attach feed) may send types this build does not know: a view
        // must survive that, so unknown events are ignored rather than thrown on.
        return false;
    }
    return true;
  }

  private conn(connId: string, at: string): ConnInfo {
    let c = this.ring.conn(connId);
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
      this.ring.addConn(c);
    }
    return c;
  }

  /** What a connection retains now, for the ring's byte budget (./retained.ts). */
  connBytes(c: ConnInfo): number {
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
      n += live ? liveRetained(live) : finalWireBytes(wire.up) + finalWireBytes(wire.down);
    }
    return n;
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

  /** The HTTP flow for a response/ws message, created when its request was never seen. */
  private httpFlow(
    flowId: string,
    connId: string,
    at: string,
    visibility: Flow['visibility'],
  ): Flow {
    const existing = this.ring.flow(flowId);
    if (existing) return existing;
    const c = this.conn(connId, at);
    const flow = this.newFlow(flowId, 'http', c, at);
    flow.visibility = visibility;
    flow.badge = visibility === 'wire' ? 'HTTP plaintext' : 'HTTPS decrypted';
    c.flowCount++;
    this.ring.insert(flow);
    return flow;
  }

  /** The connection-level flow (`tls:<connId>`) for a TLS connection that carried no HTTP we read. */
  private tlsFlow(c: ConnInfo, at: string, host: string, badge: Badge): Flow {
    const id = `tls:${c.connId}`;
    let flow = this.ring.flow(id);
    if (!flow) {
      flow = this.newFlow(id, 'tls', c, at);
      flow.badge = badge;
      flow.host = host || flow.host;
      this.ring.insert(flow);
      this.refreshTlsFlowSize(c.connId);
    }
    return flow;
  }

  private refreshTlsFlowSize(connId: string): void {
    const flow = this.ring.flow(`tls:${connId}`);
    const wire = flow?.conn.closed?.wire;
    if (flow && wire && flow.size === null) flow.size = wire.up.size + wire.down.size;
  }

  private applyUpstreamError(e: UpstreamErrorEvent): void {
    if (e.flowId !== null) {
      const flow = this.httpFlow(e.flowId, e.connId, e.at, null);
      if (!flow.host) flow.host = e.host;
      const before = flow.upstreamError ? upstreamErrorBytes(flow.upstreamError) : 0;
      this.ring.chargeFlow(flow, upstreamErrorBytes(e) - before);
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

  /**
   * The body as kept: cut to maxBodyBytes, and in memory of its own (a slice of a string, or a
   * Buffer carved from Node's shared pool, would keep more than is counted).
   */
  private capBody(body: BodyCapture): StoredBody {
    const max = this.limits.maxBodyBytes;
    if ('text' in body) {
      if (body.text.length <= max) return body;
      return {
        text: ownString(body.text.slice(0, max)),
        size: body.size,
        truncated: true,
        storeCut: true,
      };
    }
    const bytes = bytesOf(body);
    if (bytes.length <= max) {
      const own = ownBytes(bytes);
      return own === body.bytes ? body : { bytes: own, size: body.size, truncated: body.truncated };
    }
    return { bytes: ownBytes(bytes, max), size: body.size, truncated: true, storeCut: true };
  }

  /** Append a `conn.wire` delta to the connection's live capture (./wire-capture.ts). */
  private foldWire(c: ConnInfo, e: ConnWireEvent): WireCapture {
    let state = this.live.get(c);
    if (!state) {
      state = newLiveCapture();
      this.live.set(c, state);
    }
    return foldWireDelta(state, c.wire, e, this.limits);
  }
}
