// WebSockets: the library relays them; here each upgrade becomes an `http.request` flow (closed
// by the upstream's 101), each message a `ws.message` preview, and an upstream that cannot be
// reached (or that the security policy refuses) an `upstream.error`. The library's WebSocket
// context arrives as a plain parameter.
import type http from 'node:http';
import net from 'node:net';
import { headerPairs } from './body-capture.ts';
import { checkProxyAuth } from './connect.ts';
import type { EngineCore } from './engine-core.ts';
import type { FlowRecorder } from './flows.ts';
import type { Cb, LibWsContext } from './lib-types.ts';
import type { TlsOutcomes } from './tls-outcomes.ts';

/** WebSocket text previews keep this many characters. */
const WS_PREVIEW_CHARS = 200;

/** `ws` readyState of an open WebSocket. */
const WS_OPEN = 1;
/**
 * Close code for a client whose upstream failed: 1014 "Bad Gateway" (IANA WebSocket close code
 * registry), the WebSocket twin of the 502 a request gets.
 */
const WS_CLOSE_BAD_GATEWAY = 1014;
/** A close frame's reason is at most 123 bytes (RFC 6455 §5.5: 125-byte payload, 2-byte code). */
const WS_CLOSE_REASON_MAX = 123;

export class WebSocketFlows {
  private readonly wsFlows = new WeakMap<
    LibWsContext,
    { id: string; connId: string; visibility: 'wire' | 'proxy-only' }
  >();

  constructor(
    private readonly core: EngineCore,
    private readonly flowRecorder: FlowRecorder,
    private readonly tlsOutcomes: TlsOutcomes,
  ) {}

  onWebSocketConnection(ctx: LibWsContext, cb: Cb): void {
    const core = this.core;
    const conn = ctx.isSSL
      ? ctx.connectRequest
        ? (core.byConnectReq.get(ctx.connectRequest) ?? null)
        : null
      : ((ctx.clientToProxyWebSocket?._socket &&
          core.conns.get(ctx.clientToProxyWebSocket._socket)) ??
        null);
    const upgrade = ctx.clientToProxyWebSocket?.upgradeReq;
    if (
      !ctx.isSSL &&
      !conn?.connect &&
      core.opts.auth &&
      !checkProxyAuth(upgrade?.headers['proxy-authorization'], core.opts.auth)
    ) {
      core.diag(
        'info',
        'websocket',
        'WebSocket upgrade without proxy authentication: closed',
        conn?.id ?? null,
      );
      ctx.clientToProxyWebSocket?.close(1008, 'proxy authentication required');
      return;
    }
    const attempt = conn?.tls;
    if (conn && attempt && !attempt.decided && upgrade)
      this.tlsOutcomes.accept(conn, attempt, upgrade.socket);
    const flow = {
      id: this.flowRecorder.nextId(),
      connId: conn?.id ?? 'c0',
      visibility: ctx.isSSL ? ('proxy-only' as const) : ('wire' as const),
    };
    this.wsFlows.set(ctx, flow);
    const wsOptions = ctx.proxyToServerWebSocketOptions;
    const url = wsOptions?.url ?? '';
    const parsed = URL.canParse(url) ? new URL(url) : null;
    if (conn?.connect && wsOptions && parsed) {
      // As for requests: connect where the CONNECT pointed; the Host header (copied by the
      // library) keeps naming the site, and the TLS server name follows it.
      const target = new URL(parsed.href);
      target.hostname = net.isIPv6(conn.connect.host)
        ? `[${conn.connect.host}]`
        : conn.connect.host;
      target.port = String(conn.connect.port);
      wsOptions.url = target.href;
    }
    if (upgrade) {
      const headers = headerPairs(upgrade.rawHeaders);
      core.emit({
        type: 'http.request',
        connId: flow.connId,
        flowId: flow.id,
        scheme: ctx.isSSL ? 'https' : 'http',
        method: upgrade.method ?? 'GET',
        url,
        host: parsed?.hostname ?? '',
        path: parsed ? parsed.pathname + parsed.search : url,
        httpVersion: upgrade.httpVersion,
        headers,
        body: { text: '', size: 0, truncated: false },
        visibility: flow.visibility,
      });
    }
    const start = performance.now();
    cb();
    // The library opened the upstream WebSocket in cb(): its 101 answer closes the flow's
    // request/response pair (the messages follow as ws.message).
    ctx.proxyToServerWebSocket?.once('upgrade', (res: unknown) =>
      this.flowRecorder.switched(flow, res as http.IncomingMessage, start),
    );
  }

  onWebSocketFrame(
    ctx: LibWsContext,
    type: string,
    fromServer: boolean,
    data: unknown,
    flags: unknown,
  ): void {
    if (type !== 'message') return;
    const flow = this.wsFlows.get(ctx);
    if (!flow) return;
    const buf = toBuffer(data);
    const binary = flags === true;
    const text = binary ? null : buf.toString('utf8');
    this.core.emit({
      type: 'ws.message',
      connId: flow.connId,
      flowId: flow.id,
      direction: fromServer ? 'server-to-client' : 'client-to-server',
      kind: binary ? 'binary' : 'text',
      preview: text === null ? null : text.slice(0, WS_PREVIEW_CHARS),
      size: buf.length,
      truncated: text !== null && text.length > WS_PREVIEW_CHARS,
      visibility: flow.visibility,
    });
  }

  onWebSocketError(ctx: LibWsContext, err: Error): void {
    const flow = this.wsFlows.get(ctx);
    const e = err as NodeJS.ErrnoException;
    const upstreamOpen = ctx.proxyToServerWebSocket?.readyState === 1;
    if (flow && !upstreamOpen && e.code) {
      const wsUrl = ctx.proxyToServerWebSocketOptions?.url ?? '';
      const u = URL.canParse(wsUrl) ? new URL(wsUrl) : null;
      const host = u?.hostname ?? '';
      const port = u ? Number(u.port) || (u.protocol === 'wss:' ? 443 : 80) : 0;
      const refusal = this.core.upstream.refusal(e);
      this.core.emit({
        type: 'upstream.error',
        connId: flow.connId,
        flowId: flow.id,
        host,
        port,
        code: refusal?.code ?? e.code,
        message: refusal?.message ?? e.message,
        status: null,
      });
      // The library has already answered the client's upgrade with its own 101, and would then
      // try to close it with the upstream's 1006, which cannot be sent: the client would wait
      // forever. Close it with the reason instead, reading again (the library paused the
      // client's socket until the upstream opened) so the closing handshake can complete.
      const client = ctx.clientToProxyWebSocket;
      if (client?.readyState === WS_OPEN) {
        const reason = `mitm-lab: upstream failed: ${refusal?.code ?? e.code}`;
        client.close(WS_CLOSE_BAD_GATEWAY, reason.slice(0, WS_CLOSE_REASON_MAX));
        client._socket?.resume();
      }
      return;
    }
    this.core.diag(
      'info',
      'websocket',
      `${e.code ? `${e.code}: ` : ''}${e.message}`,
      flow?.connId ?? null,
    );
  }
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.alloc(0);
}
