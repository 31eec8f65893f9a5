// The HTTP relay: every request the proxy's servers parse — plain HTTP on the proxy's own port,
// decrypted HTTPS on the internal TLS servers — goes upstream and back through here. It takes
// the place of http-mitm-proxy's per-request path (`_onHttpServerRequest`), which built a
// context of fifteen handler lists, a UUID, `async` chains and two filter objects for every
// request, and wrote bodies on without backpressure; measured on the shared harness, that
// path cost about as much as a whole bare Node relay (issue 12). What the library did that
// clients can see is kept: the request's `Proxy-*` headers dropped, `Proxy-Connection:
// keep-alive` added for a kept-alive client that sent `Proxy-Connection`, `Public-Key-Pins*`
// dropped from responses, header names as Node reads them (lower case), a 400 for a request
// with no host at all. Unlike the library, hop-by-hop headers stay on their own leg.
//
// The engine decides (`onRequest`: answer here, or fill in where to go; `onResponse`: hand
// the response on, or a stand-in for it) and hears every error (`onError`, with the kind the
// library used to name it); the relay moves the bytes, with backpressure both ways.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { Exchange } from './exchanges.ts';

/** Where a request goes upstream (Node's request options, filled in by the relay). */
export interface UpstreamOptions {
  method: string;
  host: string;
  port: number;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  agent?: http.Agent | undefined;
}

/**
 * One request through the relay, from its headers to its response's end. What the engine keeps
 * per request rides on it (`exchange`), never in a WeakMap keyed by it: V8's young-generation
 * collections kept every entry's value alive (the whole request: its sockets' listeners, both
 * messages, the exchange) until the next full collection, so each request was copied and
 * promoted to the old generation. Measured, the engine alone under plain-HTTP keep-alive: 16.5 %
 * of what each scavenge met survived with the WeakMap, 0.8 % without; proxy CPU per request
 * 0.17 → 0.11 ms (issue 12).
 */
export interface RelayContext {
  /** Decrypted (from an internal TLS server), or plain HTTP on the proxy's port. */
  isSSL: boolean;
  /**
   * A plain request's target as the client sent it (`handle` rewrites an absolute-form
   * `req.url` to origin-form); undefined for a decrypted request.
   */
  originalUrl: string | undefined;
  /** The exchange the engine records for this request (./http-flows.ts), once it has begun. */
  exchange: Exchange | undefined;
  /** The CONNECT behind a decrypted request (undefined for plain HTTP). */
  connectRequest: http.IncomingMessage | undefined;
  clientToProxyRequest: http.IncomingMessage;
  proxyToClientResponse: http.ServerResponse;
  /** Where to send it; `onRequest` may change it. Undefined: the request had no host. */
  proxyToServerRequestOptions: UpstreamOptions | undefined;
  proxyToServerRequest: http.ClientRequest | undefined;
  /** The server's response (or the stand-in `onResponse` put in its place). */
  serverToProxyResponse: http.IncomingMessage | undefined;
  /** Streams the client's request body goes through on its way upstream, in order. */
  requestFilters: NodeJS.ReadWriteStream[];
  addRequestFilter(filter: NodeJS.ReadWriteStream): void;
}

/** The names the library gave its errors (the engine's diags and tests use them). */
export type RelayErrorKind =
  | 'CLIENT_TO_PROXY_REQUEST_ERROR'
  | 'PROXY_TO_CLIENT_RESPONSE_ERROR'
  | 'PROXY_TO_SERVER_REQUEST_ERROR'
  | 'SERVER_TO_PROXY_RESPONSE_ERROR'
  | 'REQUEST_FILTER_ERROR';

export interface RelayHooks {
  /** The CONNECT request behind an internal server's socket. */
  connectRequestOf(socket: net.Socket): http.IncomingMessage | undefined;
  /** The upstream agent (keep-alive pools, validation, name rules). */
  agent(secure: boolean): http.Agent;
  /** Decide: answer the client here (and never call `send`), or call `send` to go upstream. */
  onRequest(ctx: RelayContext, send: () => void): void;
  /** The server's response has begun (paused): call `next` to hand it to the client. */
  onResponse(ctx: RelayContext, next: () => void): void;
  /** Any error of the exchange; the engine answers the client (502/504) or cuts it. */
  onError(ctx: RelayContext, err: Error, kind: RelayErrorKind): void;
}

/**
 * Bytes a body may have waiting in the slower side's buffer before the relay pauses the faster
 * side, per direction and exchange. `pipe()` pauses at the stream's 16 KiB: on the HTTPS legs
 * that cut big transfers into small TLS writes and halved their speed (256 MiB down: 288 →
 * 181 MB/s on the shared harness). A stalled side still holds at most this much.
 */
export const RELAY_BUFFER_BYTES = 1024 * 1024;

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they speak of one connection, so a proxy must not
 * pass them on; each leg gets its own from Node (the agent keeps the server's connection
 * alive, the server answers the client's). Forwarding a client's `Connection: close` closed
 * the pooled server connection after every such request — a new TLS handshake upstream for
 * each one — and forwarding a server's `Connection: keep-alive` held open a client that had
 * asked to close. (`Transfer-Encoding` is hop-by-hop too, but Node frames each leg by it.)
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive']);

/** The header names a `Connection` header lists (hop-by-hop as well), lower case, or null. */
function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (!value) return null;
  const names = new Set<string>();
  for (const part of Array.isArray(value) ? value : [value])
    for (const token of part.split(',')) {
      const name = token.trim().toLowerCase();
      if (name && name !== 'close' && name !== 'keep-alive') names.add(name);
    }
  return names.size ? names : null;
}

/** The text of the 400 for a request with no absolute URL and no Host header. */
export const HOST_MISSING_TEXT = 'Bad request: Host missing...';

export class HttpRelay {
  constructor(private readonly hooks: RelayHooks) {}

  /** One request as the server parsed it. */
  handle(isSSL: boolean, req: http.IncomingMessage, res: http.ServerResponse): void {
    const ctx: RelayContext = {
      isSSL,
      originalUrl: isSSL ? undefined : req.url,
      exchange: undefined,
      connectRequest: isSSL ? this.hooks.connectRequestOf(req.socket) : undefined,
      clientToProxyRequest: req,
      proxyToClientResponse: res,
      proxyToServerRequestOptions: undefined,
      proxyToServerRequest: undefined,
      serverToProxyResponse: undefined,
      requestFilters: [],
      addRequestFilter(filter) {
        this.requestFilters.push(filter);
      },
    };
    req.on('error', (err: Error) => this.failed(ctx, err, 'CLIENT_TO_PROXY_REQUEST_ERROR'));
    res.on('error', (err: Error) => this.failed(ctx, err, 'PROXY_TO_CLIENT_RESPONSE_ERROR'));
    req.pause();
    const target = hostAndPort(req, isSSL ? 443 : 80);
    if (!target) {
      req.resume();
      res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(HOST_MISSING_TEXT);
      return;
    }
    const headers: UpstreamOptions['headers'] = {};
    const incoming = req.headers;
    const named = connectionTokens(incoming.connection);
    for (const name in incoming)
      if (!name.startsWith('proxy-') && !HOP_BY_HOP.has(name) && !named?.has(name))
        headers[name] = incoming[name];
    ctx.proxyToServerRequestOptions = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      host: target.host,
      port: target.port,
      headers,
      agent: this.hooks.agent(isSSL),
    };
    this.hooks.onRequest(ctx, () => this.send(ctx));
  }

  private send(ctx: RelayContext): void {
    const options = ctx.proxyToServerRequestOptions;
    if (!options) return;
    const up = (ctx.isSSL ? https : http).request(options, (r) => this.responded(ctx, r));
    ctx.proxyToServerRequest = up;
    up.on('error', (err: Error) => this.failed(ctx, err, 'PROXY_TO_SERVER_REQUEST_ERROR'));
    let body: Readable = ctx.clientToProxyRequest;
    for (const filter of ctx.requestFilters) {
      filter.on('error', (err: Error) => this.failed(ctx, err, 'REQUEST_FILTER_ERROR'));
      body = body.pipe(filter) as unknown as Readable;
    }
    relayBody(body, up);
  }

  private responded(ctx: RelayContext, r: http.IncomingMessage): void {
    r.on('error', (err: Error) => this.failed(ctx, err, 'SERVER_TO_PROXY_RESPONSE_ERROR'));
    r.pause();
    ctx.serverToProxyResponse = r;
    this.hooks.onResponse(ctx, () => this.answer(ctx));
  }

  private answer(ctx: RelayContext): void {
    const r = ctx.serverToProxyResponse;
    const res = ctx.proxyToClientResponse;
    if (!r || res.destroyed) {
      r?.resume(); // nobody to hand it to: read it to its end (the socket goes back to its pool)
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    const from = r.headers;
    const named = connectionTokens(from.connection);
    for (const name in from) {
      const key = name.trim();
      if (HOP_BY_HOP.has(key) || named?.has(key) || /^public-key-pins/i.test(key)) continue;
      headers[key] = from[name];
    }
    // The client's own connection: Node answers it as the client asked (kept alive unless it
    // said close); a client that spoke `Proxy-Connection` is told in those words too.
    if (ctx.clientToProxyRequest.headers['proxy-connection'] && res.shouldKeepAlive) {
      headers['proxy-connection'] = 'keep-alive';
      headers['connection'] = 'keep-alive';
    }
    res.writeHead(r.statusCode ?? 502, headers);
    relayBody(r, res);
  }

  private failed(ctx: RelayContext, err: Error, kind: RelayErrorKind): void {
    this.hooks.onError(ctx, err, kind);
    const res = ctx.proxyToClientResponse;
    // The engine answers what it can; a response it left begun but unfinished is cut, never
    // ended cleanly with an error text inside it.
    if (!res.headersSent && !res.writableEnded && !res.destroyed) {
      res.writeHead(504, 'Proxy Error');
      res.end(`${kind}: ${String(err)}`, 'utf8');
    } else if (!res.writableEnded && !res.destroyed) res.destroy();
  }
}

/**
 * The library's reading of a request's target: an absolute `http://` URL (the request line is
 * then rewritten to origin-form), else the Host header; `host:port` split at its colon.
 */
function hostAndPort(
  req: http.IncomingMessage,
  defaultPort: number,
): { host: string; port: number } | null {
  const url = req.url ?? '';
  const m = /^http:\/\/([^/]+)(.*)/.exec(url);
  if (m) {
    req.url = m[2] || '/';
    return parseHost(m[1] ?? '', defaultPort);
  }
  if (req.headers.host) return parseHost(req.headers.host, defaultPort);
  return null;
}

function parseHost(hostString: string, defaultPort: number): { host: string; port: number } {
  const parts = hostString.split(':');
  return { host: parts[0] ?? '', port: parts.length === 2 ? Number(parts[1]) : defaultPort };
}

/**
 * Move a body from `src` to `dst`, pausing `src` while `dst` has RELAY_BUFFER_BYTES or more
 * waiting, and ending `dst` with `src`. A `dst` that closes first (the client gone, the server's
 * request failed) gets nothing more, and `src` is read to its end and dropped, as the library
 * did: the exchange completes, and an upstream socket returns to its pool.
 */
function relayBody(src: Readable, dst: Writable): void {
  let paused = false;
  let open = true;
  const onDrain = (): void => {
    if (!paused) return;
    paused = false;
    src.resume();
  };
  const onClose = (): void => {
    open = false;
    dst.off('drain', onDrain);
    if (!dst.writableFinished && paused) {
      paused = false;
      src.resume();
    }
  };
  src.on('data', (chunk: Buffer) => {
    if (!open) return;
    if (!dst.write(chunk) && dst.writableLength >= RELAY_BUFFER_BYTES) {
      paused = true;
      src.pause();
    }
  });
  src.once('end', () => {
    if (open) dst.end();
  });
  dst.on('drain', onDrain);
  dst.once('close', onClose);
  src.resume();
}
