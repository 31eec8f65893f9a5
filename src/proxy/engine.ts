// The engine: mitm-lab on http-mitm-proxy 1.1.0 — the only file that imports it (it relies on
// the library's internals, hence the exact pin; see ../../docs/proxy.md and ENGINE-NOTES).
//
// What the library does for us: HTTP/1.1 proxying (absolute-form requests, and decrypted
// requests on its internal TLS server), WebSocket relaying. What we take over:
//  - CONNECT (an onConnect handler that never calls back, so the library never touches the
//    socket): validate, authenticate, answer 200, peek the ClientHello, then tunnel or hand
//    the socket to the library's `_onHttpServerConnectData`, which pipes it over loopback to
//    its single SNI server (forceSNI), or to a per-IP server for IP literals;
//  - certificates (onCertificateRequired/onCertificateMissing mint with our CA, in memory);
//  - the internal TLS servers (wrapping `_createHttpsServer` to listen on 127.0.0.1 only and
//    to see `secureConnection`, `tlsClientError` and `keylog`), mapped back to the client's
//    connection through the library's `connectRequests["<remotePort>:<localPort>"]`;
//  - upstream agents (keep-alive, resolve rules, validation, timings: ./upstream.ts);
//  - errors: every callback is guarded (a throw becomes `diag`), upstream failures answer 502
//    with a sentence instead of the library's 504, and its console output becomes `diag`.
import { Proxy as MitmProxy } from 'http-mitm-proxy';
import { existsSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import type { Ca, Leaf } from '../ca/index.ts';
import type { EventBus } from '../events/bus.ts';
import type { Controls } from '../events/controls.ts';
import type { Mode, NewEvent, TunnelReason } from '../events/types.ts';
import { LabError } from '../util/lab-error.ts';
import { headerPairs } from './body-capture.ts';
import { peekClientHello, type ClientHelloInfo } from './client-hello.ts';
import {
  badConnectResponse,
  checkProxyAuth,
  parseConnectTarget,
  PROXY_AUTH_REQUIRED,
} from './connect.ts';
import { captureLibraryConsole } from './console-capture.ts';
import {
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_CAPTURE_LIMIT_BYTES,
  DEFAULT_HELLO_TIMEOUT_MS,
  type ProxyOptions,
  type RunningProxy,
} from './options.ts';
import { judgeRefusal } from './refusal.ts';
import { FlowRecorder, type Flow } from './flows.ts';
import { Resolver } from './resolve.ts';
import { Upstream } from './upstream.ts';
import { tapSocket, WireTap, type SocketTap } from './wire-tap.ts';
import { nowMs } from './tls-records.ts';

/** The TLS handshake with a forged certificate may take this many ClientHello timeouts. */
const HANDSHAKE_TIMEOUT_FACTOR = 2;
/** How long to wait, after the client hung up mid-handshake, for the internal server's verdict. */
const SETTLE_MS = 150;
/** After a tunnel's server side ended cleanly, how long the client may keep its side open. */
const TUNNEL_LINGER_MS = 2_000;
/**
 * At most one `conn.wire` per connection per this many ms (plus one right after each
 * `http.response`): often enough for a live Wire view, and each carries only what is new.
 */
export const WIRE_INTERVAL_MS = 500;
/** WebSocket text previews keep this many characters. */
const WS_PREVIEW_CHARS = 200;

/** One TLS attempt against a forged certificate: exactly one outcome gets emitted. */
interface TlsAttempt {
  host: string;
  sni: string | null;
  clientHint: string | null;
  helloAt: number;
  secureAt: number | null;
  handshakeMs: number | null;
  error: unknown;
  decided: boolean;
  socket: tls.TLSSocket | null;
  settle: (() => void) | null;
}

/** Everything the engine knows about one client connection. */
interface Conn {
  id: string;
  socket: net.Socket;
  openedAt: number;
  wire: WireTap;
  tap: SocketTap;
  /** The CONNECT target, once a CONNECT was accepted on this connection. */
  connect: { host: string; port: number } | null;
  tls: TlsAttempt | null;
  tunnel: {
    reason: TunnelReason;
    host: string;
    port: number;
    sni: string | null;
    start: number;
  } | null;
  closed: boolean;
  /** The pending `conn.wire` timer, and when the last `conn.wire` went out (performance ms). */
  wireTimer: NodeJS.Timeout | null;
  lastWireAt: number;
}

/** The slice of http-mitm-proxy's request context we use (its typings are loose). */
interface LibContext {
  isSSL: boolean;
  connectRequest?: http.IncomingMessage | undefined;
  clientToProxyRequest: http.IncomingMessage;
  proxyToClientResponse: http.ServerResponse;
  proxyToServerRequestOptions?:
    | {
        host: string;
        port: number;
        path: string;
        headers: Record<string, unknown>;
        agent?: unknown;
      }
    | undefined;
  proxyToServerRequest?: http.ClientRequest | undefined;
  serverToProxyResponse?: http.IncomingMessage | undefined;
}

interface LibWsContext {
  isSSL: boolean;
  connectRequest?: http.IncomingMessage | undefined;
  clientToProxyWebSocket?:
    | {
        _socket?: net.Socket;
        close(code?: number, reason?: string): void;
        upgradeReq?: http.IncomingMessage;
      }
    | undefined;
  proxyToServerWebSocket?:
    { readyState: number; once(ev: string, fn: (...a: unknown[]) => void): void } | undefined;
  proxyToServerWebSocketOptions?: { url?: string; headers?: Record<string, unknown> } | undefined;
}

type Cb = (err?: Error | null, ...rest: unknown[]) => void;

/** The library's members we call or wrap (internals included, hence the exact version pin). */
interface LibProxy {
  httpServer: http.Server | undefined;
  httpsServer: https.Server | undefined;
  httpHost?: string | undefined;
  connectRequests: Record<string, http.IncomingMessage>;
  sslServers: Record<string, { server?: https.Server; port: number }>;
  wsServer?: { close(): void };
  wssServer?: { close(): void };
  listen(options: Record<string, unknown>, cb: (err?: Error) => void): void;
  close(): void;
  onConnect(
    fn: (req: http.IncomingMessage, socket: net.Socket, head: Buffer, cb: Cb) => void,
  ): void;
  onError(fn: (ctx: LibContext | null, err: Error | undefined, kind: string) => void): void;
  onRequest(fn: (ctx: LibContext, cb: Cb) => void): void;
  onResponse(fn: (ctx: LibContext, cb: Cb) => void): void;
  onWebSocketConnection(fn: (ctx: LibWsContext, cb: Cb) => void): void;
  onWebSocketFrame(
    fn: (
      ctx: LibWsContext,
      type: string,
      fromServer: boolean,
      data: unknown,
      flags: unknown,
      cb: Cb,
    ) => void,
  ): void;
  onWebSocketError(fn: (ctx: LibWsContext, err: Error) => void): void;
  onCertificateRequired: (hostname: string, cb: Cb) => void;
  onCertificateMissing: (ctx: { hostname: string }, files: unknown, cb: Cb) => void;
  _createHttpsServer(
    options: Record<string, unknown>,
    cb: (port: number, server: https.Server, wss: unknown) => void,
  ): void;
  _onHttpServerConnectData(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void;
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const engine = new Engine(opts);
  return engine.start();
}

class Engine {
  private readonly bus: EventBus;
  private readonly ca: Ca;
  private readonly lib: LibProxy;
  private readonly resolver: Resolver;
  private readonly upstream: Upstream;
  private mode: Mode;
  private readonly rejected = new Set<string>();
  private readonly conns = new Map<net.Socket, Conn>();
  private readonly byConnectReq = new WeakMap<http.IncomingMessage, Conn>();
  private readonly internalKeys = new WeakMap<net.Socket, string>();
  private readonly internalSockets = new Set<net.Socket>();
  private readonly internalServers = new Set<https.Server>();
  private readonly tunnelSockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Open client connections by id (for `conn.wire` after an `http.response`). */
  private readonly connsById = new Map<string, Conn>();
  private readonly originalUrls = new WeakMap<http.IncomingMessage, string>();
  private readonly captureLimit: number;
  private readonly flowRecorder: FlowRecorder;
  private readonly helloTimeout: number;
  private readonly handshakeTimeout: number;
  private connSeq = 0;
  private closing: Promise<void> | null = null;
  private releaseConsole: (() => void) | null = null;
  private listenFailed: ((err: Error) => void) | null = null;
  /** Events held back until proxy.listening has gone out (null afterwards). */
  private startupDiags: NewEvent[] | null = [];

  constructor(private readonly opts: ProxyOptions) {
    this.bus = opts.bus;
    this.ca = opts.ca;
    this.mode = opts.mode;
    this.captureLimit = opts.captureLimitBytes ?? DEFAULT_CAPTURE_LIMIT_BYTES;
    this.helloTimeout = opts.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.handshakeTimeout = this.helloTimeout * HANDSHAKE_TIMEOUT_FACTOR;
    this.resolver = new Resolver(opts.resolve ?? []);
    this.upstream = new Upstream({
      resolver: this.resolver,
      upstreamCa: opts.upstreamCa ?? [],
      insecure: opts.insecureUpstream === true,
      keylog: opts.keylog,
    });
    this.flowRecorder = new FlowRecorder(
      this.bus,
      this.upstream,
      opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
      (connId) => {
        const conn = this.connsById.get(connId);
        if (conn) this.emitWire(conn);
      },
    );
    this.lib = new MitmProxy() as unknown as LibProxy;
    this.install();
  }

  // ---- small helpers -------------------------------------------------------------------

  private emit(event: NewEvent): void {
    // proxy.listening is the first event of a run: what the library logs while starting
    // waits for it.
    if (this.startupDiags && event.type !== 'proxy.listening') this.startupDiags.push(event);
    else this.bus.emit(event);
  }

  private diag(
    level: 'info' | 'warn' | 'error',
    source: string,
    message: string,
    connId: string | null = null,
  ): void {
    this.emit({ type: 'diag', connId, level, source, message });
  }

  /** Wrap a library callback: a throw becomes a diag event instead of a crash. */
  private guard<A extends unknown[]>(
    source: string,
    fn: (...args: A) => void,
  ): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (err) {
        this.diag(
          'error',
          source,
          `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
      }
    };
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  // ---- start / stop --------------------------------------------------------------------

  async start(): Promise<RunningProxy> {
    const { ca } = this;
    for (const file of [ca.certPath, ca.keyPath, ca.publicKeyPath]) {
      // Without them the library would generate its own CA (slowly, with world-readable keys).
      if (!existsSync(file)) {
        throw new LabError(
          'config',
          `the CA folder ${ca.dir} lacks ${file}`,
          'run `mitm-lab ca init`',
        );
      }
    }
    const capture = captureLibraryConsole(
      (_level, message) => this.diag('info', 'http-mitm-proxy', message),
      () =>
        new Promise<void>((resolve, reject) => {
          this.listenFailed = reject;
          this.lib.listen(
            {
              host: this.opts.host,
              port: this.opts.port,
              sslCaDir: ca.dir,
              forceSNI: true,
              keepAlive: true,
              httpAgent: this.upstream.httpAgent,
              httpsAgent: this.upstream.httpsAgent,
            },
            (err?: Error) => (err ? reject(err) : resolve()),
          );
        }),
    );
    this.releaseConsole = capture.release;
    try {
      await capture.result;
    } catch (err) {
      await this.close();
      const e = err as NodeJS.ErrnoException;
      throw new LabError(
        'runtime',
        `cannot listen on ${this.opts.host}:${this.opts.port}: ${e.code ?? e.message}`,
        e.code === 'EADDRINUSE'
          ? 'another program uses that port: pick another with --listen HOST:PORT (port 0 = any free port)'
          : undefined,
        { cause: err },
      );
    }
    this.listenFailed = null;
    const server = this.lib.httpServer as http.Server;
    server.prependListener('request', (req: http.IncomingMessage) =>
      this.originalUrls.set(req, req.url ?? ''),
    );
    server.on(
      'connection',
      this.guard('engine', (socket: net.Socket) => this.onClientConnection(socket)),
    );
    const address = server.address() as net.AddressInfo;
    const host = this.opts.host;
    const urlHost = net.isIPv6(host) ? `[${host}]` : host;
    this.emit({
      type: 'proxy.listening',
      connId: null,
      host,
      port: address.port,
      mode: this.mode,
      caName: ca.name,
      caSha256: ca.summary.sha256,
      upstreamValidation: this.opts.insecureUpstream !== true,
    });
    const held = this.startupDiags ?? [];
    this.startupDiags = null;
    for (const e of held) this.bus.emit(e);
    const controls: Controls = {
      getMode: () => this.mode,
      setMode: (mode: Mode) => {
        this.mode = mode;
      },
      forgetRejected: () => {
        const n = this.rejected.size;
        this.rejected.clear();
        return n;
      },
    };
    return {
      host,
      port: address.port,
      url: `http://${urlHost}:${address.port}`,
      controls,
      close: () => this.close(),
    };
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const servers: (http.Server | https.Server)[] = [];
    if (this.lib.httpServer) servers.push(this.lib.httpServer);
    for (const s of this.internalServers) servers.push(s);
    const closed = servers.map(
      (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
    );
    try {
      this.lib.wsServer?.close();
      this.lib.wssServer?.close();
    } catch (err) {
      this.diag('warn', 'engine', `closing WebSocket servers: ${String(err)}`);
    }
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const socket of this.conns.keys()) socket.destroy();
    for (const socket of this.internalSockets) socket.destroy();
    for (const socket of this.tunnelSockets) socket.destroy();
    for (const s of servers) (s as http.Server).closeAllConnections?.();
    this.upstream.destroy();
    await Promise.all(closed);
    this.releaseConsole?.();
    this.releaseConsole = null;
  }

  // ---- wiring the library ----------------------------------------------------------------

  private install(): void {
    const lib = this.lib;
    // Certificates: minted in memory by our CA; nothing is ever written to disk.
    lib.onCertificateRequired = (hostname, cb) =>
      cb(null, { keyFile: '', certFile: '', hosts: [hostname] });
    lib.onCertificateMissing = (ctx, _files, cb) => {
      try {
        const leaf = this.ca.mintLeaf(ctx.hostname); // cached by the CA
        cb(null, { keyFileData: leaf.keyPem, certFileData: leaf.certPem, hosts: [ctx.hostname] });
      } catch (err) {
        cb(err instanceof Error ? err : new Error(String(err)));
      }
    };

    // Internal TLS servers: loopback only, and observed.
    const createHttpsServer = lib._createHttpsServer.bind(lib);
    lib._createHttpsServer = (options, cb) => {
      const userHost = lib.httpHost;
      lib.httpHost = '127.0.0.1';
      try {
        // A client that sends its ClientHello and then stalls is a `timeout` outcome after
        // this, not a socket held for Node's default two minutes.
        const withTimeout = { handshakeTimeout: this.handshakeTimeout, ...options };
        createHttpsServer(withTimeout, (port, server, wss) => {
          this.observeInternalServer(server);
          cb(port, server, wss);
        });
      } finally {
        lib.httpHost = userHost;
      }
    };

    lib.onConnect((req, socket, head) => {
      // Never call back: the library must not touch the socket (it would pipe it blindly).
      this.handleConnect(req, socket, head).catch((err: unknown) => {
        this.diag(
          'error',
          'connect',
          `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        socket.destroy();
      });
    });
    lib.onError((ctx, err, kind) =>
      this.guard('http-mitm-proxy', () => this.onLibError(ctx, err, kind))(),
    );
    lib.onRequest((ctx, cb) => this.guardCb('http', cb, (next) => this.onRequest(ctx, next)));
    lib.onResponse((ctx, cb) => this.guardCb('http', cb, (next) => this.onResponse(ctx, next)));
    lib.onWebSocketConnection((ctx, cb) =>
      this.guardCb('websocket', cb, (next) => this.onWebSocketConnection(ctx, next)),
    );
    lib.onWebSocketFrame((ctx, type, fromServer, data, flags, cb) =>
      // Frames pass through unchanged whatever happens here.
      this.guardCb(
        'websocket',
        () => cb(null, data, flags),
        (next) => {
          this.onWebSocketFrame(ctx, type, fromServer, data, flags);
          next();
        },
      ),
    );
    lib.onWebSocketError((ctx, err) =>
      this.guard('websocket', () => this.onWebSocketError(ctx, err))(),
    );
  }

  /**
   * Run a handler that must call back exactly once: if it throws before calling back, report
   * the throw as a diag and call back (without an error: the library would answer 504).
   */
  private guardCb(source: string, cb: Cb, fn: (next: Cb) => void): void {
    let called = false;
    const next: Cb = (...args) => {
      if (called) return;
      called = true;
      cb(...args);
    };
    try {
      fn(next);
    } catch (err) {
      this.diag(
        'error',
        source,
        `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      next();
    }
  }

  private observeInternalServer(server: https.Server): void {
    this.internalServers.add(server);
    server.on('connection', (socket: net.Socket) => {
      this.internalSockets.add(socket);
      socket.setNoDelay(true);
      socket.once('close', () => this.internalSockets.delete(socket));
      // Read the ports now: after a destroy they are gone, and they key connectRequests.
      this.internalKeys.set(socket, `${socket.remotePort}:${socket.localPort}`);
    });
    server.on(
      'secureConnection',
      this.guard('tls', (tlsSocket: tls.TLSSocket) => this.onSecureConnection(tlsSocket)),
    );
    server.on(
      'tlsClientError',
      this.guard('tls', (err: Error, tlsSocket: tls.TLSSocket) =>
        this.onTlsClientError(err, tlsSocket),
      ),
    );
    // The library listens for 'clientError' (to log it), which switches off Node's own answer
    // to a malformed decrypted request: the client would wait forever. Answer like Node does.
    server.on(
      'clientError',
      this.guard('http', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) =>
        this.onInternalClientError(err, socket),
      ),
    );
    if (this.opts.keylog) {
      const keylog = this.opts.keylog;
      server.on('keylog', (line: Buffer) => keylog(line.toString('latin1').trimEnd()));
    }
  }

  /** The client connection an internal TLS socket carries (via the library's connectRequests). */
  private connOfInternal(tlsSocket: tls.TLSSocket): Conn | null {
    const raw = (tlsSocket as unknown as { _parent?: net.Socket })._parent ?? tlsSocket;
    const key = this.internalKeys.get(raw) ?? `${raw.remotePort}:${raw.localPort}`;
    const req = this.lib.connectRequests[key];
    return req ? (this.byConnectReq.get(req) ?? null) : null;
  }

  // ---- client connections ----------------------------------------------------------------

  private onClientConnection(socket: net.Socket): void {
    if (this.conns.has(socket)) return; // a CONNECT socket handed back for plain HTTP
    const wire = new WireTap({ limitBytes: this.captureLimit, tls: false });
    const conn: Conn = {
      id: `c${++this.connSeq}`,
      socket,
      openedAt: nowMs(),
      wire,
      tap: tapSocket(socket, wire),
      connect: null,
      tls: null,
      tunnel: null,
      closed: false,
      wireTimer: null,
      lastWireAt: nowMs(),
    };
    wire.onChange = () => this.wireChanged(conn);
    this.conns.set(socket, conn);
    this.connsById.set(conn.id, conn);
    socket.setNoDelay(true);
    // Node's HTTP parser reads the socket's handle directly, past the tap; a 'data' listener
    // makes it fall back to JS reads. It comes off again when the socket turns into a tunnel.
    socket.on('data', noop);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (conn.tls && !conn.tls.decided) conn.tls.error ??= err;
    });
    socket.once('close', () => void this.onClientClose(conn));
    this.emit({
      type: 'conn.open',
      connId: conn.id,
      clientAddress: socket.remoteAddress ?? '',
      clientPort: socket.remotePort ?? 0,
    });
  }

  /** Bytes crossed: schedule a `conn.wire` (throttled to one per WIRE_INTERVAL_MS). */
  private wireChanged(conn: Conn): void {
    if (conn.wireTimer || conn.closed) return;
    const wait = Math.max(0, conn.lastWireAt + WIRE_INTERVAL_MS - nowMs());
    conn.wireTimer = setTimeout(() => {
      conn.wireTimer = null;
      this.emitWire(conn);
    }, wait);
    conn.wireTimer.unref();
  }

  /** Emit what the capture gained since the previous `conn.wire`, if anything. */
  private emitWire(conn: Conn): void {
    if (conn.closed) return;
    if (conn.wireTimer) {
      clearTimeout(conn.wireTimer);
      conn.wireTimer = null;
    }
    const delta = conn.wire.delta();
    if (!delta) return;
    conn.lastWireAt = nowMs();
    this.emit({ type: 'conn.wire', connId: conn.id, ...delta });
  }

  private async onClientClose(conn: Conn): Promise<void> {
    conn.closed = true;
    this.connsById.delete(conn.id);
    if (conn.wireTimer) {
      clearTimeout(conn.wireTimer);
      conn.wireTimer = null;
    }
    const attempt = conn.tls;
    if (attempt && !attempt.decided) {
      if (attempt.secureAt === null) {
        // The internal server's verdict (tlsClientError) may still be crossing the loopback hop.
        await new Promise<void>((resolve) => {
          attempt.settle = resolve;
          this.later(SETTLE_MS, resolve);
        });
      }
      if (!attempt.decided) this.refuse(conn, attempt, attempt.error ?? null);
    }
    if (conn.tunnel) {
      const snap = conn.wire;
      const t = conn.tunnel;
      this.emit({
        type: 'tunnel.summary',
        connId: conn.id,
        host: t.host,
        port: t.port,
        sni: t.sni,
        reason: t.reason,
        bytesUp: snap.bytesUp,
        bytesDown: snap.bytesDown,
        durationMs: Math.round(nowMs() - t.start),
        tlsVersion: snap.tlsVersion,
        serverCertificates: snap.serverCertificates,
        recordCount: snap.recordCount,
        cipherSuite: snap.cipherSuite,
        keyExchangeGroup: snap.keyExchangeGroup,
      });
    }
    this.conns.delete(conn.socket);
    this.emit({
      type: 'conn.close',
      connId: conn.id,
      durationMs: Math.round(nowMs() - conn.openedAt),
      wire: conn.wire.snapshot(),
    });
  }

  // ---- CONNECT ---------------------------------------------------------------------------

  private async handleConnect(
    req: http.IncomingMessage,
    socket: net.Socket,
    head: Buffer,
  ): Promise<void> {
    const conn = this.conns.get(socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    socket.removeListener('data', noop);
    if (this.opts.auth && !checkProxyAuth(req.headers['proxy-authorization'], this.opts.auth)) {
      this.diag(
        'info',
        'connect',
        `CONNECT ${req.url ?? ''}: proxy authentication required (407)`,
        conn.id,
      );
      socket.end(PROXY_AUTH_REQUIRED);
      return;
    }
    const target = parseConnectTarget(req.url);
    if (!target.ok) {
      this.diag('warn', 'connect', `refused CONNECT (400): ${target.reason}`, conn.id);
      socket.end(badConnectResponse(target.reason));
      return;
    }
    const { host, port } = target;
    conn.connect = { host, port };
    this.byConnectReq.set(req, conn);
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const peek = await peekClientHello(socket, this.helloTimeout);
    if (conn.closed && peek.kind !== 'tls') return;
    switch (peek.kind) {
      case 'closed':
        socket.destroy();
        return;
      case 'truncated':
        this.diag(
          'warn',
          'connect',
          `CONNECT ${host}:${port}: the client closed in the middle of its ClientHello`,
          conn.id,
        );
        socket.destroy();
        return;
      case 'timeout':
        this.diag(
          'info',
          'connect',
          `CONNECT ${host}:${port}: no ClientHello within ${this.helloTimeout} ms; tunnelling (the server may speak first)`,
          conn.id,
        );
        this.tunnel(conn, 'not-tls', host, port, null);
        return;
      case 'not-tls':
        if (
          /^[A-Z]{3,10} \S+ HTTP\/1\.[01]\r?\n/.test(
            peek.firstBytes.subarray(0, 2048).toString('latin1'),
          )
        ) {
          // Plain HTTP inside the tunnel: hand the socket to the library's HTTP server.
          this.diag(
            'info',
            'connect',
            `CONNECT ${host}:${port} carries plain HTTP: shown like any plain HTTP request`,
            conn.id,
          );
          (this.lib.httpServer as http.Server).emit('connection', socket);
          return;
        }
        this.diag(
          'info',
          'connect',
          `CONNECT ${host}:${port} carries neither TLS nor HTTP: tunnelled untouched`,
          conn.id,
        );
        this.tunnel(conn, 'not-tls', host, port, null);
        return;
      case 'tls':
        this.onClientHello(conn, req, host, port, peek.hello);
        return;
    }
  }

  private onClientHello(
    conn: Conn,
    req: http.IncomingMessage,
    host: string,
    port: number,
    hello: ClientHelloInfo,
  ): void {
    // The client left while its ClientHello was being parsed: conn.close is out already,
    // and nothing may follow it.
    if (conn.closed || conn.socket.destroyed) return;
    // TLS from here on: what the client sent since the 200 (its ClientHello, put back by the
    // peek and already counted) is handed to the record parser first.
    const pending = drainBuffered(conn.socket);
    conn.wire.beginTls(pending);
    if (pending.length > 0) conn.socket.unshift(pending);
    this.emit({
      type: 'tls.client-hello',
      connId: conn.id,
      host,
      port,
      sni: hello.sni,
      alpn: hello.alpn,
      versions: hello.versions,
      cipherSuites: hello.cipherSuites,
      ja3: hello.ja3,
      ja4: hello.ja4,
      clientHint: hello.clientHint,
    });
    const name = (hello.sni ?? host).toLowerCase();
    if (this.mode === 'eavesdrop')
      return this.tunnel(conn, 'mode-eavesdrop', host, port, hello.sni);
    if (!this.ca.permits(name))
      return this.tunnel(conn, 'outside-name-constraints', host, port, hello.sni);
    if (this.mode === 'auto' && this.rejected.has(name))
      return this.tunnel(conn, 'auto-refused-before', host, port, hello.sni);
    if (net.isIPv6(name)) {
      // The library keys its servers by `url.split(':')[0]`, which cannot hold an IPv6 literal.
      this.diag(
        'warn',
        'connect',
        `CONNECT [${name}]:${port}: IPv6 literals are tunnelled, not intercepted`,
        conn.id,
      );
      return this.tunnel(conn, 'mint-failed', host, port, hello.sni);
    }
    let leaf: Leaf;
    try {
      leaf = this.ca.mintLeaf(name);
    } catch (err) {
      this.diag(
        'warn',
        'ca',
        `cannot forge a certificate for ${name}: ${err instanceof Error ? err.message : String(err)}`,
        conn.id,
      );
      return this.tunnel(conn, 'mint-failed', host, port, hello.sni);
    }
    this.emit({
      type: 'tls.forged',
      connId: conn.id,
      host: name,
      sni: hello.sni,
      certificate: leaf.summary,
      cached: leaf.cached,
      mintMs: leaf.mintMs,
    });
    conn.tls = {
      host: name,
      sni: hello.sni,
      clientHint: hello.clientHint,
      helloAt: nowMs(),
      secureAt: null,
      handshakeMs: null,
      error: undefined,
      decided: false,
      socket: null,
      settle: null,
    };
    // The library takes the first bytes as `head` and re-emits them itself; the tap already
    // counted them when they arrived (the peek put them back without going through push).
    const head = drainBuffered(conn.socket);
    // The library forges for `url`'s host: make it the name the client asked for (SNI).
    req.url = `${name}:${port}`;
    this.lib._onHttpServerConnectData(req, conn.socket, head);
  }

  private tunnel(
    conn: Conn,
    reason: TunnelReason,
    host: string,
    port: number,
    sni: string | null,
  ): void {
    const socket = conn.socket;
    conn.tunnel = { reason, host, port, sni, start: nowMs() };
    const upstream = this.upstream.connectTunnel(host, port);
    this.tunnelSockets.add(upstream);
    upstream.once('close', (hadError: boolean) => {
      this.tunnelSockets.delete(upstream);
      // A clean end reaches the client through the pipe (its data flushed first); give a
      // client that keeps its side open a moment, then let go.
      if (hadError) socket.destroy();
      else this.later(TUNNEL_LINGER_MS, () => socket.destroy());
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      this.emit({
        type: 'upstream.error',
        connId: conn.id,
        flowId: null,
        host,
        port,
        code: err.code ?? 'ERROR',
        message: err.message,
        status: null,
      });
    });
    socket.on('error', () => upstream.destroy());
    socket.once('close', () => upstream.destroy());
    socket.pipe(upstream);
    upstream.pipe(socket);
  }

  // ---- TLS outcomes --------------------------------------------------------------------

  private onSecureConnection(tlsSocket: tls.TLSSocket): void {
    const conn = this.connOfInternal(tlsSocket);
    const attempt = conn?.tls;
    if (!conn || !attempt || attempt.decided) return;
    attempt.secureAt = nowMs();
    attempt.handshakeMs = Math.round((attempt.secureAt - attempt.helloAt) * 100) / 100;
    attempt.socket = tlsSocket;
    attempt.settle?.();
  }

  private onTlsClientError(err: Error, tlsSocket: tls.TLSSocket): void {
    const conn = this.connOfInternal(tlsSocket);
    const attempt = conn?.tls;
    if (!conn || !attempt) {
      this.diag('info', 'tls', `TLS error on an internal connection: ${err.message}`);
      return;
    }
    if (attempt.decided) return;
    this.refuse(conn, attempt, err);
    attempt.settle?.();
  }

  private onInternalClientError(err: NodeJS.ErrnoException, socket: tls.TLSSocket): void {
    if (!err.code?.startsWith('HPE_')) return; // TLS failures: tlsClientError handles them
    const conn = this.connOfInternal(socket);
    const attempt = conn?.tls;
    // Whatever it sent, the client sent it over the forged certificate: it accepted it.
    if (conn && attempt && !attempt.decided) this.accept(conn, attempt, socket);
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : '400 Bad Request';
    this.diag(
      'warn',
      'http',
      `malformed decrypted request (${err.code}): answered ${status}`,
      conn?.id ?? null,
    );
    if (socket.writable && !socket.writableEnded) {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroySoon();
  }

  private refuse(conn: Conn, attempt: TlsAttempt, error: unknown): void {
    attempt.decided = true;
    const { outcome, alert, raw, counts } = judgeRefusal({
      error,
      clientAlert: conn.wire.clientAlert(),
      secureAt: attempt.secureAt,
      handshakeMs: attempt.handshakeMs,
      now: nowMs(),
    });
    const willTunnel = this.mode === 'auto' && counts;
    if (willTunnel) this.rejected.add(attempt.host);
    this.emit({
      type: 'tls.client-rejected',
      connId: conn.id,
      host: attempt.host,
      sni: attempt.sni,
      outcome,
      alert,
      raw,
      clientHint: attempt.clientHint,
      willTunnel,
    });
  }

  private accept(conn: Conn, attempt: TlsAttempt, socket: net.Socket): void {
    attempt.decided = true;
    const s = socket as tls.TLSSocket;
    const isTls = typeof s.getProtocol === 'function';
    this.emit({
      type: 'tls.client-accepted',
      connId: conn.id,
      host: attempt.host,
      sni: attempt.sni,
      outcome: 'intercepted',
      protocol: isTls ? (s.getProtocol() ?? null) : null,
      cipher: isTls ? (s.getCipher()?.name ?? null) : null,
      alpn: isTls && typeof s.alpnProtocol === 'string' ? s.alpnProtocol : null,
      handshakeMs: attempt.handshakeMs,
    });
  }

  // ---- HTTP ----------------------------------------------------------------------------

  private connOfRequest(ctx: LibContext): Conn | null {
    if (ctx.isSSL)
      return ctx.connectRequest ? (this.byConnectReq.get(ctx.connectRequest) ?? null) : null;
    return this.conns.get(ctx.clientToProxyRequest.socket) ?? null;
  }

  private readonly flows = new WeakMap<LibContext, Flow>();

  private onRequest(ctx: LibContext, cb: Cb): void {
    const conn = this.connOfRequest(ctx);
    const req = ctx.clientToProxyRequest;
    const res = ctx.proxyToClientResponse;
    const options = ctx.proxyToServerRequestOptions;
    if (!ctx.isSSL && !conn?.connect) {
      if (this.opts.auth && !checkProxyAuth(req.headers['proxy-authorization'], this.opts.auth)) {
        req.resume();
        res.writeHead(407, {
          'Proxy-Authenticate': 'Basic realm="mitm-lab"',
          'Content-Type': 'text/plain; charset=utf-8',
        });
        res.end('mitm-lab: proxy authentication required.\n');
        this.diag(
          'info',
          'http',
          `${req.method ?? ''} ${this.originalUrls.get(req) ?? ''}: proxy authentication required (407)`,
          conn?.id ?? null,
        );
        return;
      }
      const original = this.originalUrls.get(req) ?? '';
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(original)) {
        // An origin-form request sent to the proxy itself: forwarding it would loop.
        req.resume();
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(
          "This is mitm-lab's proxy, not a web server.\n" +
            'Use it as an HTTP proxy, e.g. curl -x http://HOST:PORT http://bank.test/\n',
        );
        return;
      }
    }
    if (!options) {
      cb();
      return;
    }
    let shownHost = options.host;
    let urlPort = options.port;
    if (conn?.connect) {
      // The library aims at the Host header (port 443/80 unless it names one). The client's
      // CONNECT said where it meant to go: connect there; SNI and Host keep naming the site
      // (Node's agent takes the TLS server name from the Host header).
      const explicit = /:(\d+)$/.exec((req.headers.host ?? '').replace(/^\[[^\]]*\]/, ''));
      urlPort = explicit ? Number(explicit[1]) : conn.connect.port;
      shownHost = options.host;
      options.host = conn.connect.host;
      options.port = conn.connect.port;
    }
    const attempt = conn?.tls;
    if (conn && attempt && !attempt.decided) this.accept(conn, attempt, req.socket);
    const flow = this.flowRecorder.begin(req, {
      connId: conn?.id ?? 'c0',
      secure: ctx.isSSL,
      host: shownHost,
      port: options.port,
      urlPort,
      path: options.path,
    });
    this.flows.set(ctx, flow);
    cb();
    if (ctx.proxyToServerRequest) this.flowRecorder.watch(flow, ctx.proxyToServerRequest);
  }

  private onResponse(ctx: LibContext, cb: Cb): void {
    const flow = this.flows.get(ctx);
    if (flow && ctx.serverToProxyResponse)
      this.flowRecorder.response(flow, ctx.serverToProxyResponse);
    cb();
  }

  private onLibError(ctx: LibContext | null, err: Error | undefined, kind: string): void {
    const e = (err ?? new Error('unknown error')) as NodeJS.ErrnoException;
    if (this.listenFailed && (kind === 'HTTP_SERVER_ERROR' || kind === 'HTTPS_SERVER_ERROR')) {
      this.listenFailed(e);
      return;
    }
    if (!ctx) {
      // The internal server's TLS and parse errors: already events (tls.client-rejected, the
      // 431/400 diag) and the library's own log lines; a third copy would be noise.
      if (kind === 'HTTPS_CLIENT_ERROR') return;
      const quiet = e.code === 'ECONNRESET' || e.code === 'EPIPE' || kind === 'HTTPS_CLIENT_ERROR';
      this.diag(
        quiet ? 'info' : 'warn',
        'http-mitm-proxy',
        `${kind}: ${e.code ? `${e.code}: ` : ''}${e.message}`,
      );
      return;
    }
    const flow = this.flows.get(ctx);
    const res = ctx.proxyToClientResponse;
    const conn = this.connOfRequest(ctx);
    const connId = flow?.connId ?? conn?.id ?? 'c0';
    if (kind === 'PROXY_TO_SERVER_REQUEST_ERROR' && flow) {
      this.flowRecorder.upstreamError(flow, res, e);
      return;
    }
    const clientGone =
      e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ERR_STREAM_PREMATURE_CLOSE';
    this.diag(
      clientGone ? 'info' : 'warn',
      'http-mitm-proxy',
      `${kind}: ${e.code ? `${e.code}: ` : ''}${e.message}`,
      connId,
    );
    if (!res.headersSent && !res.writableEnded && !res.destroyed) {
      const text = `mitm-lab: proxy error ${kind}: ${e.message}\n`;
      res.writeHead(502, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
    }
  }

  // ---- WebSockets ----------------------------------------------------------------------

  private readonly wsFlows = new WeakMap<
    LibWsContext,
    { id: string; connId: string; visibility: 'wire' | 'proxy-only' }
  >();

  private onWebSocketConnection(ctx: LibWsContext, cb: Cb): void {
    const conn = ctx.isSSL
      ? ctx.connectRequest
        ? (this.byConnectReq.get(ctx.connectRequest) ?? null)
        : null
      : ((ctx.clientToProxyWebSocket?._socket &&
          this.conns.get(ctx.clientToProxyWebSocket._socket)) ??
        null);
    const upgrade = ctx.clientToProxyWebSocket?.upgradeReq;
    if (
      !ctx.isSSL &&
      !conn?.connect &&
      this.opts.auth &&
      !checkProxyAuth(upgrade?.headers['proxy-authorization'], this.opts.auth)
    ) {
      this.diag(
        'info',
        'websocket',
        'WebSocket upgrade without proxy authentication: closed',
        conn?.id ?? null,
      );
      ctx.clientToProxyWebSocket?.close(1008, 'proxy authentication required');
      return;
    }
    const attempt = conn?.tls;
    if (conn && attempt && !attempt.decided && upgrade) this.accept(conn, attempt, upgrade.socket);
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
      this.emit({
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

  private onWebSocketFrame(
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
    this.emit({
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

  private onWebSocketError(ctx: LibWsContext, err: Error): void {
    const flow = this.wsFlows.get(ctx);
    const e = err as NodeJS.ErrnoException;
    const upstreamOpen = ctx.proxyToServerWebSocket?.readyState === 1;
    if (flow && !upstreamOpen && e.code) {
      const wsUrl = ctx.proxyToServerWebSocketOptions?.url ?? '';
      const u = URL.canParse(wsUrl) ? new URL(wsUrl) : null;
      const host = u?.hostname ?? '';
      const port = u ? Number(u.port) || (u.protocol === 'wss:' ? 443 : 80) : 0;
      this.emit({
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
    this.diag(
      'info',
      'websocket',
      `${e.code ? `${e.code}: ` : ''}${e.message}`,
      flow?.connId ?? null,
    );
  }
}

/** Everything in a socket's read buffer (bytes a peek put back), without waiting for more. */
function drainBuffered(socket: net.Socket): Buffer {
  const chunks: Buffer[] = [];
  let chunk: Buffer | null;
  while ((chunk = socket.read() as Buffer | null) !== null) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function noop(): void {
  // a 'data' listener that only switches Node's HTTP parser to JS reads (see onClientConnection)
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.alloc(0);
}
