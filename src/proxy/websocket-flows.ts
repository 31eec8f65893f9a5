// WebSockets: the library relays the frames; the upgrade itself is ours. The library's
// WebSocket servers answered the client 101 first and only then tried the origin, so an origin
// that is no WebSocket server (or no server at all) still looked like one (issue 13, item 5).
// Now the engine sets `verify` as the servers' `verifyClient`: the upstream handshake happens
// first, and the client gets the origin's 101, or the origin's own answer (status and body),
// or 502 with a sentence. Once both sides are open, the library's connection handler receives
// the client's WebSocket and `onWebSocketConnection` gives it the upstream one already open.
//
// Each upgrade is an `http.request` flow closed by the origin's answer (`http.response`: 101,
// or what it said instead), each message a `ws.message` preview, and an origin that cannot be
// reached an `upstream.error`. Two handshakes happen, not one — the proxy is a client to the
// origin and a server to the client, each leg with its own Sec-WebSocket-Key — so once both
// are complete `ws.handshake` carries the other two halves: the proxy's own request to the
// origin and its 101 to the client. The library's contexts arrive as plain parameters.
import type http from 'node:http';
import net from 'node:net';
import type { Header } from '../events/types.ts';
import { WebSocket } from '../util/ws.ts';
import { BodyCapturer, headerPairs } from './body-capture.ts';
import type { EngineCore } from './engine-core.ts';
import type { Conn } from './conn.ts';
import type { ExchangeRecorder } from './exchanges.ts';
import type { Cb, LibWsContext } from './lib-types.ts';
import { TARGET_REFUSED } from './resolve.ts';
import { formatMs, UPSTREAM_TIMEOUT_CODES, type Timeouts } from './timeouts.ts';
import type { TlsOutcomes } from './tls-outcomes.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamWire } from './upstream-wire.ts';

/** WebSocket text previews keep this many characters. */
const WS_PREVIEW_CHARS = 200;
/** An origin's refusal body is relayed to the client up to this size (an error page). */
const REFUSAL_BODY_BYTES = 64 * 1024;

/** ws's `verifyClient` callback: relay the upgrade, or answer `code` with `message`. */
export type VerifyDone = (
  ok: boolean,
  code?: number,
  message?: string,
  headers?: Record<string, string>,
) => void;

/** What the WebSocket flows need of the engine: events, and the upstream side's services. */
export type WebSocketCore = Pick<EngineCore, 'emit' | 'diag'> & {
  readonly upstream: Pick<Upstream, 'refusal'>;
  readonly upstreamWire: Pick<UpstreamWire, 'use'> | null;
  readonly timeouts: Pick<Timeouts, 'upstreamConnectMs' | 'upstreamFirstByteMs'>;
};

/** What the engine does for the WebSocket flows (it alone touches the library). */
export interface WebSocketHooks {
  /** The client connection an upgrade request arrived on (`secure`: on an internal TLS server). */
  connOf(req: http.IncomingMessage, secure: boolean): Conn | null;
  /** The agent the proxy's upstream requests use (keep-alive, resolve rules, validation). */
  agent(secure: boolean): http.Agent;
  /** Hand the already-open upstream WebSocket to the library's relay for `ctx`. */
  adopt(ctx: LibWsContext, upstream: WebSocket): void;
}

/** One WebSocket upgrade in flight (an `Exchange` of its own: ./exchanges.ts). */
interface WsExchange {
  id: string;
  connId: string;
  visibility: 'wire' | 'proxy-only';
}

/** What the proxy sent the server: its own upgrade request, with its own Sec-WebSocket-Key. */
interface ToServer {
  path: string;
  headers: Header[];
}

/** An upgrade whose upstream side is open, waiting for the library's client-side context. */
interface Opened {
  exchange: WsExchange;
  upstream: WebSocket;
  adopted: boolean;
  /** The proxy's upgrade request to the server (null if ws never showed it: cannot happen). */
  toServer: ToServer | null;
}

export class WebSocketFlows {
  private readonly wsExchanges = new WeakMap<LibWsContext, WsExchange>();
  private readonly opened = new WeakMap<http.IncomingMessage, Opened>();

  constructor(
    private readonly core: WebSocketCore,
    private readonly exchangeRecorder: ExchangeRecorder,
    private readonly tlsOutcomes: Pick<TlsOutcomes, 'requestArrived'>,
    private readonly hooks: WebSocketHooks,
  ) {}

  /**
   * ws's `verifyClient` for the library's WebSocket servers (`secure`: an internal TLS server):
   * called once the client's upgrade request is valid, before any answer. Opens the upstream
   * WebSocket, then lets the client's handshake complete — or answers what the origin said.
   */
  verify(secure: boolean, req: http.IncomingMessage, done: VerifyDone): void {
    const core = this.core;
    const conn = this.hooks.connOf(req, secure);
    // Whatever it asks, the client asked it over the forged certificate: it accepted it.
    this.tlsOutcomes.requestArrived(conn, req.socket);
    const exchange: WsExchange = {
      id: this.exchangeRecorder.nextId(),
      connId: conn?.id ?? 'c0',
      visibility: secure ? 'proxy-only' : 'wire',
    };
    const target = upstreamUrl(req, secure, conn);
    const host = target?.hostname.replace(/^\[|\]$/g, '') ?? '';
    const port = target ? Number(target.port) || (target.protocol === 'wss:' ? 443 : 80) : 0;
    const headers = headerPairs(req.rawHeaders);
    core.emit({
      type: 'http.request',
      connId: exchange.connId,
      flowId: exchange.id,
      scheme: secure ? 'https' : 'http',
      method: req.method ?? 'GET',
      url: target?.href ?? req.url ?? '',
      host,
      path: target ? target.pathname + target.search : (req.url ?? ''),
      httpVersion: req.httpVersion,
      headers,
      body: { text: '', size: 0, truncated: false },
      visibility: exchange.visibility,
      tampered: null,
    });
    if (!target) {
      done(
        false,
        400,
        `mitm-lab: cannot tell where the WebSocket upgrade for ${req.url ?? ''} goes\n`,
      );
      return;
    }
    // As the library did: every header but the WebSocket handshake's own (ws sets those), and
    // never the proxy's credentials. The Host header keeps naming the site.
    const forward: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || /^(?:sec-websocket-|proxy-)/i.test(name)) continue;
      forward[name] = value;
    }
    const start = performance.now();
    let settled = false;
    const t = core.timeouts;
    let toServer: ToServer | null = null;
    const upstream = new WebSocket(target.href, {
      agent: this.hooks.agent(secure),
      headers: forward,
      // Connecting and the server's answer to the upgrade, together: then 504.
      handshakeTimeout: t.upstreamConnectMs + t.upstreamFirstByteMs,
      // ws's hook for the request about to be sent: note the proxy's own handshake headers
      // (its own Sec-WebSocket-Key), then send it as ws would.
      finishRequest: (r: http.ClientRequest) => {
        toServer = { path: r.path, headers: outgoingHeaders(r) };
        r.end();
      },
    });
    let switched: http.IncomingMessage | null = null;
    upstream.once('upgrade', (res: http.IncomingMessage) => {
      switched = res;
      // `--pcap`: the server connection carries this client connection's frames from now on.
      if (conn) core.upstreamWire?.use(res.socket, conn.id);
    });
    upstream.once('open', () => {
      if (settled) return;
      settled = true;
      if (switched) this.exchangeRecorder.switched(exchange, switched, start);
      const entry: Opened = { exchange, upstream, adopted: false, toServer };
      this.opened.set(req, entry);
      // The client may be gone before its side completes: nothing would adopt the upstream.
      req.socket.once('close', () => {
        if (!entry.adopted) upstream.terminate();
      });
      done(true);
    });
    upstream.once(
      'unexpected-response',
      (_upReq: http.ClientRequest, res: http.IncomingMessage) => {
        if (settled) return;
        settled = true;
        this.relayRefusal(exchange, res, start, done, () => upstream.terminate());
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      // ws reports its handshake timeout without a code.
      const timedOut = !err.code && /timed out/i.test(err.message);
      // A server the upstream security policy refuses is named as such (a weak key, …).
      const refusal = core.upstream.refusal(err);
      const code = timedOut ? 'ETIMEDOUT' : (refusal?.code ?? err.code ?? 'ERROR');
      const message = timedOut
        ? `no answer to the WebSocket upgrade from ${host}:${port} within ${formatMs(t.upstreamConnectMs + t.upstreamFirstByteMs)}`
        : (refusal?.message ?? err.message);
      const status = code === TARGET_REFUSED ? 403 : UPSTREAM_TIMEOUT_CODES.has(code) ? 504 : 502;
      core.emit({
        type: 'upstream.error',
        connId: exchange.connId,
        flowId: exchange.id,
        host,
        port,
        code,
        message,
        status,
      });
      done(
        false,
        status,
        code === TARGET_REFUSED
          ? `mitm-lab: refused: ${message}\n`
          : `mitm-lab: could not open the WebSocket to ${host}:${port}: ${code}\n${message}\n`,
        { 'Content-Type': 'text/plain; charset=utf-8' },
      );
    });
  }

  /**
   * ws's `headers` event of the library's WebSocket servers: the proxy's `101 Switching
   * Protocols` to the client is about to be written (`lines`: its status line, then
   * `Name: value`). Both handshakes are then complete: `ws.handshake` pairs the proxy's request
   * to the server with its answer to the client.
   */
  answeringClient(req: http.IncomingMessage, lines: readonly string[]): void {
    const entry = this.opened.get(req);
    if (!entry?.toServer) return;
    const toClientHeaders: Header[] = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) toClientHeaders.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    }
    this.core.emit({
      type: 'ws.handshake',
      connId: entry.exchange.connId,
      flowId: entry.exchange.id,
      toServerPath: entry.toServer.path,
      toServerHeaders: entry.toServer.headers,
      toClientHeaders,
      visibility: entry.exchange.visibility,
    });
  }

  /** The origin answered the upgrade with something else than 101: give the client that. */
  private relayRefusal(
    exchange: WsExchange,
    res: http.IncomingMessage,
    start: number,
    done: VerifyDone,
    release: () => void,
  ): void {
    const body = new BodyCapturer(REFUSAL_BODY_BYTES);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      const headers = headerPairs(res.rawHeaders);
      const capture = body.result(headers);
      this.exchangeRecorder.answered(exchange, res, start, capture);
      const status = res.statusCode ?? 502;
      const type = res.headers['content-type'];
      const text = 'text' in capture ? capture.text : '';
      // Only what describes the body travels: framing headers are the relay's own.
      done(false, status, text || `${status}`, type ? { 'Content-Type': type } : {});
      release();
    };
    res.on('data', (c: Buffer) => {
      body.push(c);
      if (body.size >= REFUSAL_BODY_BYTES) finish();
    });
    res.once('end', finish);
    res.once('close', finish);
    res.once('error', finish);
  }

  /** The library's connection handler: the client's side is open; give it the upstream one. */
  onWebSocketConnection(ctx: LibWsContext, cb: Cb): void {
    const req = ctx.clientToProxyWebSocket?.upgradeReq;
    const entry = req ? this.opened.get(req) : undefined;
    if (!entry) {
      // Not verified here (cannot happen: every server has `verify`): the library's own way.
      cb();
      return;
    }
    this.opened.delete(req!);
    entry.adopted = true;
    this.wsExchanges.set(ctx, entry.exchange);
    // Never calling `cb`: the library would open a second upstream WebSocket.
    this.hooks.adopt(ctx, entry.upstream);
  }

  onWebSocketFrame(
    ctx: LibWsContext,
    type: string,
    fromServer: boolean,
    data: unknown,
    flags: unknown,
  ): void {
    if (type !== 'message') return;
    const exchange = this.wsExchanges.get(ctx);
    if (!exchange) return;
    const buf = toBuffer(data);
    const binary = flags === true;
    const text = binary ? null : buf.toString('utf8');
    this.core.emit({
      type: 'ws.message',
      connId: exchange.connId,
      flowId: exchange.id,
      direction: fromServer ? 'server-to-client' : 'client-to-server',
      kind: binary ? 'binary' : 'text',
      preview: text === null ? null : text.slice(0, WS_PREVIEW_CHARS),
      size: buf.length,
      truncated: text !== null && text.length > WS_PREVIEW_CHARS,
      visibility: exchange.visibility,
    });
  }

  onWebSocketError(ctx: LibWsContext, err: Error): void {
    // Failures before both sides were open were answered in `verify`; these come after.
    const exchange = this.wsExchanges.get(ctx);
    const e = err as NodeJS.ErrnoException;
    this.core.diag(
      'info',
      'websocket',
      `${e.code ? `${e.code}: ` : ''}${e.message}`,
      exchange?.connId ?? null,
    );
  }
}

/**
 * Where an upgrade goes, as the library would send it: an absolute-form target as given, an
 * origin-form one to its Host header (ws:// or wss:// by the server it arrived on) — and inside
 * a CONNECT, to where the CONNECT pointed (the Host header keeps naming the site).
 */
function upstreamUrl(req: http.IncomingMessage, secure: boolean, conn: Conn | null): URL | null {
  const raw = req.url ?? '';
  const scheme = secure ? 'wss' : 'ws';
  const text =
    raw.startsWith('/') || raw === '' ? `${scheme}://${req.headers.host ?? ''}${raw || '/'}` : raw;
  if (!URL.canParse(text)) return null;
  const url = new URL(text);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return null;
  if (conn?.connect) {
    url.hostname = net.isIPv6(conn.connect.host) ? `[${conn.connect.host}]` : conn.connect.host;
    url.port = String(conn.connect.port);
  }
  return url;
}

/** A request's headers as Node will send them: set names in their case and order, one pair per value. */
function outgoingHeaders(r: http.ClientRequest): Header[] {
  const out: Header[] = [];
  for (const name of r.getRawHeaderNames()) {
    const value = r.getHeader(name);
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push([name, String(v)]);
  }
  return out;
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.alloc(0);
}
