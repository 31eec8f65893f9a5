// WebSockets: the library relays them; here each upgrade becomes an `http.request` flow (closed
// by the upstream's 101), each message a `ws.message` preview, and an upstream that cannot be
// reached an `upstream.error`. The library's WebSocket context arrives as a plain parameter.
import type http from 'node:http';
import net from 'node:net';
import { headerPairs } from './body-capture.ts';
import type { EngineCore } from './engine-core.ts';
import type { FlowRecorder } from './flows.ts';
import type { Cb, LibWsContext } from './lib-types.ts';
import type { TlsOutcomes } from './tls-outcomes.ts';

/** WebSocket text previews keep this many characters. */
const WS_PREVIEW_CHARS = 200;

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
    // Authentication happened before the upgrade reached the library (the engine's gate).
    const upgrade = ctx.clientToProxyWebSocket?.upgradeReq;
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
      this.core.emit({
        type: 'upstream.error',
        connId: flow.connId,
        flowId: flow.id,
        host,
        port,
        code: e.code,
        message: e.message,
        status: null,
      });
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
