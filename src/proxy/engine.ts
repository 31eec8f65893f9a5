// The engine: mitm-lab on http-mitm-proxy 1.1.0 — the only file that imports it (it relies on
// the library's internals, hence the exact pin; see ../../docs/proxy.md and ENGINE-NOTES).
// What lives here: the library wiring, start/stop, the client connections' lifecycle and the
// HTTP exchange hand-off (the library's request contexts, each an `Exchange` recorded by
// ./exchanges.ts). The rest is delegated to parts that receive what they need of the engine
// (slices of `EngineCore`, ./engine-core.ts) and the library's shapes as plain types
// (./lib-types.ts):
//  - ./conn.ts — a client connection's state and its one owner, the registry that finds it
//    by socket, id, CONNECT request and internal TLS socket;
//  - ./connect-decision.ts — the CONNECT decision (intercept, tunnel or plain HTTP);
//  - ./tunnel.ts — tunnels and their `tunnel.summary`;
//  - ./tls-handoff.ts — an intercepted client's socket handed to an internal TLS server;
//  - ./tls-outcomes.ts — `tls.client-accepted` / `tls.client-rejected`, one per attempt (it
//    alone makes and decides `conn.tls`);
//  - ./exchanges.ts — HTTP requests in flight, as `http.request` / `http.response`;
//  - ./live-wire.ts — `conn.wire` while a connection is open;
//  - ./upstream-wire.ts — with `--pcap` only: the connections to servers, as `upstream.wire`;
//  - ./websocket-flows.ts — WebSocket upgrades, messages and upstream failures;
//  - ./auto-refusals.ts — auto mode's memory, per client address + host;
//  - ./auth-throttle.ts — wrong passwords slowed per client address;
//  - ./target-guard.ts — targets on the proxy's own machine, and the proxy itself, refused;
//  - ./fair-reads.ts — client reads handed on a bounded number per loop turn (fairness);
//  - ./memory-release.ts — memory given back after a burst of connections;
//  - ./sni-contexts.ts — the SNI server's certificates, a bounded cache.
//
// What the library does for us: HTTP/1.1 proxying (absolute-form requests, and decrypted
// requests on its internal TLS server), WebSocket relaying. What we take over:
//  - CONNECT (an onConnect handler that never calls back, so the library never touches the
//    socket): validate, authenticate, answer 200, peek the ClientHello, then tunnel or hand
//    the socket itself (./tls-handoff.ts) to one of the internal TLS servers: the library's
//    SNI server (forceSNI), or one for clients without SNI (IP literals) whose certificate is
//    set per connection — the library's one server per IP literal, never closed, ran the
//    process out of descriptors (issue 13) — where the library piped it over loopback;
//  - certificates: minted with our CA, in memory (the hand-off gives them to the servers);
//  - the internal TLS servers (wrapping `_createHttpsServer` to listen on 127.0.0.1 only and
//    to see `secureConnection`, `tlsClientError` and `keylog`), whose TLS sockets lead back to
//    the client's connection through the stream they were given (./tls-handoff.ts `legOf`);
//    they refuse every connection from the network (one door: no way around --auth from a
//    local process);
//  - upgrades: checked before the library's WebSocket server sees them (authentication,
//    origin-form), and the upstream WebSocket handshake done before the client's (its
//    servers' `verifyClient`), then handed to the library's relay;
//  - running out of descriptors (EMFILE): a diag, an answer to the client that hit it, and 503
//    for new work for a moment, never a crash;
//  - upstream agents (keep-alive, resolve rules, validation, timings: ./upstream.ts);
//  - errors: every callback is guarded (a throw becomes `diag`), upstream failures answer 502
//    with a sentence instead of the library's 504, and its console output becomes `diag`.
import type * as Hmp from 'http-mitm-proxy';
import { existsSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import type tls from 'node:tls';
import type { Ca } from '../ca/index.ts';
import type { EventBus } from '../events/bus.ts';
import type { Controls } from '../events/controls.ts';
import type { ClientTlsMax, Mode, NewEvent } from '../events/types.ts';
import { LabError } from '../util/lab-error.ts';
import { WebSocket } from '../util/ws.ts';
import { forbiddenTargetResponse, PROXY_AUTH_REQUIRED, refuseDirectUpgrade } from './connect.ts';
import { ConnectDecision, noop } from './connect-decision.ts';
import { captureLibraryConsole } from './console-capture.ts';
import type { EngineCore } from './engine-core.ts';
import { ConnRegistry, type Conn } from './conn.ts';
import { FairReads } from './fair-reads.ts';
import { ExchangeRecorder } from './exchanges.ts';
import { HttpFlows } from './http-flows.ts';
import { HttpRelay } from './http-relay.ts';
import type { Cb, LibProxy, LibWsContext, LibWsServer } from './lib-types.ts';
import { LiveWire } from './live-wire.ts';
import { MemoryRelease } from './memory-release.ts';
import {
  DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_CAPTURE_LIMIT_BYTES,
  type ProxyOptions,
  type RunningProxy,
} from './options.ts';
import { Resolver } from './resolve.ts';
import { DEFAULT_TIMEOUTS, formatMs, type Timeouts } from './timeouts.ts';
import { isDescriptorShortage } from './descriptors.ts';
import { ClientLeg, keepLegLinks, legOf, TlsHandOff } from './tls-handoff.ts';
import { TlsOutcomes } from './tls-outcomes.ts';
import { nowMs } from './clock.ts';
import { emitTunnelSummary } from './tunnel.ts';
import { AuthThrottle } from './auth-throttle.ts';
import { AutoRefusals } from './auto-refusals.ts';
import { TargetGuard } from './target-guard.ts';
import { Upstream } from './upstream.ts';
import { UpstreamWire } from './upstream-wire.ts';
import { WebSocketFlows } from './websocket-flows.ts';
import type { TamperRule } from './tamper.ts';
import { tapSocket, WireTap } from './wire-tap.ts';

// require, not `import`: see util/ws.ts (an ES module importing CommonJS costs resident memory).
const { Proxy: MitmProxy } = createRequire(import.meta.url)('http-mitm-proxy') as typeof Hmp;

/** Node's default limit for a whole request, headers and body (http.Server requestTimeout). */
const NODE_REQUEST_TIMEOUT_MS = 300_000;

/**
 * After descriptors ran out (EMFILE), new CONNECTs and requests are answered 503 for this long
 * instead of failing half-way: long enough to cover a burst while the connections holding the
 * descriptors drain, short enough to recover at once.
 */
const DESCRIPTOR_SHORTAGE_BACKOFF_MS = 2_000;

/**
 * Connections the kernel may hold for the proxy before it accepts them (listen(2) backlog;
 * Node's default is 511). A room of browsers opens hundreds at once, and under load the proxy
 * accepts one per turn of its event loop (./fair-reads.ts): past the backlog the kernel drops
 * them and clients see resets. Waiting there costs nothing and starts none of the proxy's time
 * limits. Linux caps it at net.core.somaxconn (4096 by default since Linux 5.4).
 */
const LISTEN_BACKLOG = 4096;

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const engine = new Engine(opts);
  return engine.start();
}

/** The engine's state and the library wiring; the parts it delegates to receive it as `EngineCore`. */
class Engine implements EngineCore {
  private readonly bus: EventBus;
  readonly ca: Ca;
  private readonly lib: LibProxy;
  private readonly resolver: Resolver;
  readonly upstream: Upstream;
  /** The upstream leg's capture (`--pcap` only: null otherwise, and nothing is tapped). */
  readonly upstreamWire: UpstreamWire | null;
  mode: Mode;
  /** The highest TLS version offered on the forged leg, for new connections. */
  clientTlsMax: ClientTlsMax;
  readonly refusals = new AutoRefusals();
  readonly authThrottle = new AuthThrottle();
  readonly targetGuard: TargetGuard;
  /** The open client connections (./conn.ts): the one owner of their lookups. */
  readonly registry = new ConnRegistry();
  private readonly internalServers = new Set<https.Server>();
  readonly tunnelSockets = new Set<net.Socket>();
  /** What client sockets read is handed on a bounded number of chunks per loop turn. */
  private readonly fairReads = new FairReads();
  /** Memory handed back after a burst of connections (./memory-release.ts). */
  private memoryRelease: MemoryRelease | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly captureLimit: number;
  /** Body capture per HTTP message (events), bytes. */
  private readonly bodyLimit: number;
  /** `--tamper` rules (./tamper.ts), empty when off. */
  private readonly tamperRules: readonly TamperRule[];
  private readonly exchangeRecorder: ExchangeRecorder;
  /** Each HTTP request's decisions and errors (./http-flows.ts). */
  private readonly httpFlows: HttpFlows;
  readonly timeouts: Timeouts;
  private readonly liveWire: LiveWire;
  private readonly tlsOutcomes: TlsOutcomes;
  private readonly connectDecision: ConnectDecision;
  private readonly tlsHandOff: TlsHandOff;
  /** The internal TLS server for clients without SNI (IP literals), started with the proxy. */
  private noSniServer: https.Server | null = null;
  /**
   * The SNI server's twin that offers at most TLS 1.2 (`--client-tls-max 1.2`): OpenSSL takes a
   * connection's version range from the server's default context, which an SNI callback does
   * not change, so the cap needs a server of its own; its certificates come from the same cache.
   */
  private cappedSniServer: https.Server | null = null;
  /** Until when (performance ms) new work is refused: descriptors ran out (EMFILE) lately. */
  private descriptorsShortUntil = 0;
  private readonly webSockets: WebSocketFlows;
  private connSeq = 0;
  private closing: Promise<void> | null = null;
  private releaseConsole: (() => void) | null = null;
  private listenFailed: ((err: Error) => void) | null = null;
  /** Events held back until proxy.listening has gone out (null afterwards). */
  private startupDiags: NewEvent[] | null = [];

  constructor(readonly opts: ProxyOptions) {
    this.bus = opts.bus;
    this.ca = opts.ca;
    this.mode = opts.mode;
    this.clientTlsMax = opts.clientTlsMax ?? '1.3';
    this.captureLimit = opts.captureLimitBytes ?? DEFAULT_CAPTURE_LIMIT_BYTES;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.resolver = new Resolver(opts.resolve ?? [], {
      ...(opts.refuseUnknownNames !== undefined ? { refuseUnknown: opts.refuseUnknownNames } : {}),
      ...(opts.systemLookup ? { systemLookup: opts.systemLookup } : {}),
    });
    this.targetGuard = new TargetGuard(opts.host, this.resolver, opts.allowTargets ?? []);
    this.upstreamWire =
      opts.pcap === true ? new UpstreamWire((event) => this.emit(event), this.captureLimit) : null;
    this.upstream = new Upstream({
      resolver: this.resolver,
      upstreamCa: opts.upstreamCa ?? [],
      insecure: opts.insecureUpstream === true,
      keylog: opts.keylog,
      wire: this.upstreamWire,
    });
    this.bodyLimit = opts.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
    this.tamperRules = opts.tamper ?? [];
    this.exchangeRecorder = new ExchangeRecorder(
      this.bus,
      this.upstream,
      this.bodyLimit,
      this.timeouts,
      (connId) => {
        const conn = this.registry.ofId(connId);
        if (conn) this.liveWire.afterResponse(conn);
      },
    );
    this.lib = new MitmProxy() as unknown as LibProxy;
    this.httpFlows = new HttpFlows({
      registry: this.registry,
      auth: opts.auth,
      authThrottle: this.authThrottle,
      targetGuard: this.targetGuard,
      tlsOutcomes: {
        requestArrived: (conn, socket) => this.tlsOutcomes.requestArrived(conn, socket),
      },
      exchangeRecorder: this.exchangeRecorder,
      upstreamWire: this.upstreamWire,
      tamperRules: this.tamperRules,
      bodyLimit: this.bodyLimit,
      outOfDescriptors: () => this.outOfDescriptors(),
      descriptorShortage: () => this.descriptorShortage(),
      later: (ms, fn) => this.later(ms, fn),
      diag: (level, source, message, connId) => this.diag(level, source, message, connId),
    });
    this.liveWire = new LiveWire((event) => this.emit(event));
    this.tlsOutcomes = new TlsOutcomes(this, this.registry);
    this.tlsHandOff = new TlsHandOff({
      sniServer: () => this.lib.httpsServer as https.Server,
      noSniServer: () => {
        if (!this.noSniServer) throw new Error('the no-SNI internal server is not started');
        return this.noSniServer;
      },
      cappedSniServer: () => {
        if (!this.cappedSniServer) throw new Error('the TLS 1.2 internal server is not started');
        return this.cappedSniServer;
      },
      clientTlsMax: () => this.clientTlsMax,
    });
    this.connectDecision = new ConnectDecision(
      this,
      {
        plainHttp: (socket) => (this.lib.httpServer as http.Server).emit('connection', socket),
        intercept: (h, ready) => this.tlsHandOff.hand(h, ready),
        prepare: (name, leaf) => this.tlsHandOff.prepare(name, leaf),
      },
      this.tlsOutcomes,
    );
    this.webSockets = new WebSocketFlows(this, this.exchangeRecorder, this.tlsOutcomes, {
      connOf: (req, secure) =>
        secure
          ? this.registry.ofInternal(req.socket as tls.TLSSocket)
          : this.registry.ofSocket(req.socket),
      agent: (secure) => (secure ? this.upstream.httpsAgent : this.upstream.httpAgent),
      adopt: (ctx, upstream) => this.adoptUpstreamWebSocket(ctx, upstream),
    });
    this.install();
  }

  // ---- small helpers -------------------------------------------------------------------

  emit(event: NewEvent): void {
    // proxy.listening is the first event of a run: what the library logs while starting
    // waits for it.
    if (this.startupDiags && event.type !== 'proxy.listening') this.startupDiags.push(event);
    else this.bus.emit(event);
  }

  diag(
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

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Descriptors ran out somewhere (EMFILE/ENFILE): refuse new work for a moment. */
  descriptorShortage(): void {
    this.descriptorsShortUntil = nowMs() + DESCRIPTOR_SHORTAGE_BACKOFF_MS;
  }

  /** True while new connections should be refused for want of descriptors. */
  outOfDescriptors(): boolean {
    return nowMs() < this.descriptorsShortUntil;
  }

  /** One more internal TLS server (the library's, wired to its request handlers, observed). */
  private createInternalServer(extra: https.ServerOptions = {}): Promise<https.Server> {
    return new Promise((resolve, reject) => {
      try {
        // `hosts` makes the library listen on a port of its own (not the SNI server's).
        this.lib._createHttpsServer({ hosts: [], ...extra }, (_port, server) => resolve(server));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /**
   * Node's HTTP server options that enforce the request-headers limit (slow headers and
   * HTTP/0.9 lines alike: Node answers 408 and closes). Node checks every 30 s by default,
   * which made a 60 s limit 90 s; here a tenth of the limit, at most a second.
   */
  private httpServerLimits(): {
    headersTimeout: number;
    requestTimeout: number;
    connectionsCheckingInterval: number;
  } {
    const headers = this.timeouts.requestHeadersMs;
    return {
      headersTimeout: headers,
      // The whole request (a body too): Node's default, never below the headers' limit.
      requestTimeout: Math.max(NODE_REQUEST_TIMEOUT_MS, headers),
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.ceil(headers / 10))),
    };
  }

  private limitHttpServer(server: http.Server): void {
    Object.assign(server, this.httpServerLimits());
  }

  /** The library calls `listen({host, port}, cb)`: add the backlog (LISTEN_BACKLOG). */
  private deepenBacklog(server: http.Server): void {
    const listen = server.listen.bind(server) as (opts: net.ListenOptions, cb?: () => void) => void;
    server.listen = ((opts: net.ListenOptions, cb?: () => void) =>
      listen({ ...opts, backlog: LISTEN_BACKLOG }, cb)) as typeof server.listen;
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
    try {
      this.noSniServer = await this.createInternalServer();
      // Its clients send no SNI: see keepLegLinks (the SNI servers link in their SNICallback).
      keepLegLinks(this.noSniServer);
      this.cappedSniServer = await this.createInternalServer({
        maxVersion: 'TLSv1.2',
        SNICallback: this.tlsHandOff.sniCallback,
      });
    } catch (err) {
      await this.close();
      throw new LabError(
        'runtime',
        `cannot start the internal TLS server: ${String(err)}`,
        undefined,
        {
          cause: err,
        },
      );
    }
    this.memoryRelease = new MemoryRelease(() => this.fairReads.chunks);
    const server = this.lib.httpServer as http.Server;
    // The library's WebSocketServer relays the server's errors (EMFILE on accept) to its own
    // listener, which reports them; this one keeps them from crashing the process once that
    // WebSocketServer is closed, and notes a shortage of descriptors.
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (isDescriptorShortage(err)) this.descriptorShortage();
    });
    server.on(
      'connection',
      this.guard('engine', (socket: net.Socket) => this.onClientConnection(socket)),
    );
    this.gateUpgrades(server);
    if (this.lib.wsServer) this.verifyUpgrades(this.lib.wsServer, false);
    const address = server.address() as net.AddressInfo;
    this.targetGuard.listening(address.port);
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
      keylog: this.opts.keylog !== undefined,
      pcap: this.opts.pcap === true,
      tamper: [...new Set(this.tamperRules.map((r) => r.name))],
    });
    const held = this.startupDiags ?? [];
    this.startupDiags = null;
    for (const e of held) this.bus.emit(e);
    const controls: Controls = {
      getMode: () => this.mode,
      setMode: (mode: Mode) => {
        this.mode = mode;
      },
      getClientTlsMax: () => this.clientTlsMax,
      setClientTlsMax: (max: ClientTlsMax) => {
        this.clientTlsMax = max;
      },
      forgetRejected: () => this.refusals.clear(),
      resetLab: () => {
        const forgotten = this.refusals.clear();
        this.bus.emit({ type: 'lab.reset', connId: null, forgotten });
        return forgotten;
      },
    };
    return {
      host,
      port: address.port,
      url: `http://${urlHost}:${address.port}`,
      controls,
      close: () => this.close(),
      stats: () => ({
        connections: this.registry.size,
        sniContexts: this.tlsHandOff.sniContexts.size,
        internalServers: this.internalServers.size,
      }),
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
    this.memoryRelease?.stop();
    for (const socket of this.registry.sockets()) socket.destroy();
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
    // Internal TLS servers: loopback only, and observed.
    const createHttpsServer = lib._createHttpsServer.bind(lib);
    lib._createHttpsServer = (options, cb) => {
      const userHost = lib.httpHost;
      lib.httpHost = '127.0.0.1';
      try {
        // A client that sends its ClientHello and then stalls is a `timeout` outcome after
        // this, not a socket held for Node's default two minutes.
        // The proxy's own HTTP server exists (not yet listening) when the library starts its
        // SNI server: give it the same limits now — the checking interval is read on listen.
        if (lib.httpServer && !lib.httpServer.listening) {
          this.limitHttpServer(lib.httpServer);
          this.deepenBacklog(lib.httpServer);
        }
        const withTimeout = {
          handshakeTimeout: this.timeouts.handshakeMs,
          ...this.httpServerLimits(),
          // The SNI server (the one made without `hosts`): certificates from a bounded cache.
          ...(options['hosts'] ? {} : { SNICallback: this.tlsHandOff.sniCallback }),
          ...options,
        };
        createHttpsServer(withTimeout, (port, server, wss) => {
          // The library gives this WebSocketServer no 'error' listener, and it relays the
          // server's errors: one EMFILE on accept killed the process (issue 13, item 2). The
          // server's own listener (HTTPS_SERVER_ERROR) reports them.
          (wss as { on?: (ev: string, fn: (err: Error) => void) => void }).on?.('error', (err) => {
            if (isDescriptorShortage(err)) this.descriptorShortage();
          });
          this.verifyUpgrades(wss, true);
          this.observeInternalServer(server);
          cb(port, server, wss);
        });
      } finally {
        lib.httpHost = userHost;
      }
    };

    lib.onConnect((req, socket, head) => {
      // Never call back: the library must not touch the socket (it would pipe it blindly).
      this.connectDecision.handleConnect(req, socket, head).catch((err: unknown) => {
        this.diag(
          'error',
          'connect',
          `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        socket.destroy();
      });
    });
    lib.onError((_ctx, err, kind) =>
      this.guard('http-mitm-proxy', () => this.onLibError(err, kind))(),
    );
    // Every request goes through our relay, not the library's per-request path.
    const relay = new HttpRelay({
      connectRequestOf: (socket) => legOf(socket)?.req,
      agent: (secure) => (secure ? this.upstream.httpsAgent : this.upstream.httpAgent),
      onRequest: (ctx, send) =>
        this.guardCb('http', send, (next) => this.httpFlows.onRequest(ctx, next)),
      onResponse: (ctx, next) =>
        this.guardCb('http', next, (then) => this.httpFlows.onResponse(ctx, then)),
      onError: (ctx, err, kind) =>
        this.guard('http', () => this.httpFlows.onError(ctx, err, kind))(),
    });
    lib._onHttpServerRequest = (isSSL, req, res) =>
      this.guard('http', () => relay.handle(isSSL, req, res))();
    lib.onWebSocketConnection((ctx, cb) =>
      this.guardCb('websocket', cb, (next) => this.webSockets.onWebSocketConnection(ctx, next)),
    );
    lib.onWebSocketFrame((ctx, type, fromServer, data, flags, cb) =>
      // Frames pass through unchanged whatever happens here.
      this.guardCb(
        'websocket',
        () => cb(null, data, flags),
        (next) => {
          this.webSockets.onWebSocketFrame(ctx, type, fromServer, data, flags);
          next();
        },
      ),
    );
    lib.onWebSocketError((ctx, err) =>
      this.guard('websocket', () => this.webSockets.onWebSocketError(ctx, err))(),
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
    // One door (issue 13, item 12): the servers listen on loopback (the library starts them
    // so), and any local process could connect there and have decrypted requests forwarded
    // without the proxy's authentication. Only the engine's own clients come in, handed over
    // in this process (./tls-handoff.ts).
    server.on('connection', (socket: net.Socket | ClientLeg) => {
      if (socket instanceof ClientLeg) return;
      this.diag(
        'warn',
        'tls',
        `internal TLS server: a connection from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'} that did not come through CONNECT: closed without an answer`,
      );
      socket.destroy();
    });
    server.on(
      'secureConnection',
      this.guard('tls', (tlsSocket: tls.TLSSocket) =>
        this.tlsOutcomes.onSecureConnection(tlsSocket),
      ),
    );
    server.on('tlsClientError', (err: Error, tlsSocket: tls.TLSSocket) => {
      this.guard('tls', () => this.tlsOutcomes.onTlsClientError(err, tlsSocket))();
      // Node reports a handshake timeout here and leaves the socket open: the client would be
      // held for good (issue 13, item 7). Whatever the error, it is over.
      tlsSocket.destroy();
    });
    // The library listens for 'clientError' (to log it), which switches off Node's own answer
    // to a malformed decrypted request: the client would wait forever. Answer like Node does.
    server.on(
      'clientError',
      this.guard('http', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) =>
        this.tlsOutcomes.onInternalClientError(err, socket),
      ),
    );
    if (this.opts.keylog) {
      const keylog = this.opts.keylog;
      server.on('keylog', (line: Buffer) => keylog(line.toString('latin1').trimEnd()));
    }
  }

  /**
   * The library's WebSocket server takes every upgrade on the proxy's HTTP server and answers
   * 101 before any handler of ours runs (closing it afterwards crashed the library: issue 13).
   * So upgrades pass this gate first — authentication, and the origin-form refusal that keeps a
   * relayed upgrade from looping back into the proxy — and a refusal is answered in plain HTTP,
   * never becoming a WebSocket; the rest goes on to the library's listeners.
   */
  private gateUpgrades(server: http.Server): void {
    const relay = server.listeners('upgrade') as ((...args: unknown[]) => void)[];
    server.removeAllListeners('upgrade');
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const conn = this.registry.ofSocket(socket);
      try {
        // Inside a CONNECT the CONNECT itself was checked.
        const refusal = conn?.connect ? null : refuseDirectUpgrade(req, this.opts.auth);
        if (refusal) {
          this.diag(
            'info',
            'websocket',
            `${req.method ?? ''} ${req.url ?? ''} (upgrade): ${refusal.reason}`,
            conn?.id ?? null,
          );
          if (refusal.answer === PROXY_AUTH_REQUIRED) {
            const wait = this.authThrottle.failed(socket.remoteAddress ?? '');
            const answer = (): void => {
              if (!socket.destroyed) socket.end(refusal.answer);
            };
            if (wait > 0) this.later(wait, answer);
            else answer();
            return;
          }
          socket.end(refusal.answer);
          return;
        }
        if (this.opts.auth && !conn?.connect)
          this.authThrottle.succeeded(socket.remoteAddress ?? '');
        const forbidden = conn?.connect ? null : this.forbiddenUpgrade(req);
        if (forbidden) {
          this.diag(
            'warn',
            'websocket',
            `${req.method ?? ''} ${req.url ?? ''} (upgrade): refused (403): ${forbidden}`,
            conn?.id ?? null,
          );
          socket.end(forbiddenTargetResponse(forbidden));
          return;
        }
        for (const listener of relay) listener.call(server, req, socket, head);
      } catch (err) {
        this.diag(
          'error',
          'websocket',
          `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
          conn?.id ?? null,
        );
        socket.destroy();
      }
    });
  }

  /** Why an absolute-form upgrade's target may not be reached (./target-guard.ts), or null. */
  private forbiddenUpgrade(req: http.IncomingMessage): string | null {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      return null;
    }
    const secure = url.protocol === 'wss:' || url.protocol === 'https:';
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    return this.targetGuard.check(url.hostname, port);
  }

  /**
   * The library's WebSocket servers answer 101 and only then try the origin: give them a
   * `verifyClient` that tries the origin first (./websocket-flows.ts). `secure`: a server
   * behind TLS (wss://). Their `headers` event shows the 101 the client gets, for
   * `ws.handshake`.
   */
  private verifyUpgrades(wss: LibWsServer, secure: boolean): void {
    wss.options.verifyClient = (info, done) => {
      try {
        this.webSockets.verify(secure, info.req, done);
      } catch (err) {
        this.diag(
          'error',
          'websocket',
          `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        done(false, 502, 'mitm-lab: internal error while opening the WebSocket\n');
      }
    };
    wss.on(
      'headers',
      this.guard('websocket', (lines: string[], req: http.IncomingMessage) =>
        this.webSockets.answeringClient(req, lines),
      ),
    );
  }

  /**
   * Give the library's relay an upstream WebSocket that is already open, with the listeners
   * its own would have got (http-mitm-proxy 1.1.0, makeProxyToServerWebSocket), and let the
   * client's frames flow.
   */
  private adoptUpstreamWebSocket(ctx: LibWsContext, upstream: WebSocket): void {
    const lib = this.lib;
    ctx.proxyToServerWebSocket = upstream;
    upstream.on('message', (data, binary) =>
      lib._onWebSocketFrame(ctx, 'message', true, data, binary),
    );
    upstream.on('ping', (data) => lib._onWebSocketFrame(ctx, 'ping', true, data, false));
    upstream.on('pong', (data) => lib._onWebSocketFrame(ctx, 'pong', true, data, false));
    upstream.on('error', (err) => lib._onWebSocketError(ctx, err));
    upstream.on('close', (code, reason) => lib._onWebSocketClose(ctx, true, code, reason));
    const client = ctx.clientToProxyWebSocket;
    if (client?.readyState === WebSocket.OPEN) client._socket?.resume();
  }

  // ---- client connections ----------------------------------------------------------------

  private onClientConnection(socket: net.Socket): void {
    if (this.registry.has(socket)) return; // a CONNECT socket handed back for plain HTTP
    const wire = new WireTap({ limitBytes: this.captureLimit, tls: false });
    const conn: Conn = {
      id: `c${++this.connSeq}`,
      socket,
      clientAddress: socket.remoteAddress ?? '',
      openedAt: nowMs(),
      wire,
      tap: tapSocket(socket, wire),
      connect: null,
      tls: null,
      tunnel: null,
      closed: false,
      wireTimer: null,
      wireDueAt: 0,
      lastWireAt: nowMs(),
    };
    wire.onChange = () => this.liveWire.changed(conn);
    this.fairReads.add(socket);
    this.registry.add(conn);
    socket.setNoDelay(true);
    // Node's HTTP parser reads the socket's handle directly, past the tap; a 'data' listener
    // makes it fall back to JS reads. It comes off again when the socket turns into a tunnel.
    socket.on('data', noop);
    // TCP silent: a client that connects and sends nothing is let go (./timeouts.ts).
    const silentMs = this.timeouts.clientSilentMs;
    const silent = setTimeout(() => {
      this.diag(
        'info',
        'engine',
        `the client connected and sent nothing for ${formatMs(silentMs)}: closed`,
        conn.id,
      );
      socket.destroy();
    }, silentMs);
    silent.unref();
    socket.once('data', () => clearTimeout(silent));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.tlsOutcomes.noteClientError(conn, err);
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        // Node answered 408 and closed: slow headers, or an HTTP/0.9 line.
        this.diag(
          'info',
          'http',
          `no complete request headers within ${formatMs(this.timeouts.requestHeadersMs)} (a slow client, or an HTTP/0.9 request): answered 408 and closed`,
          conn.id,
        );
      }
    });
    socket.once('close', () => {
      clearTimeout(silent);
      void this.onClientClose(conn);
    });
    this.emit({
      type: 'conn.open',
      connId: conn.id,
      clientAddress: conn.clientAddress,
      clientPort: socket.remotePort ?? 0,
    });
  }

  private async onClientClose(conn: Conn): Promise<void> {
    conn.closed = true;
    this.registry.closing(conn);
    this.liveWire.stop(conn);
    const verdict = this.tlsOutcomes.verdictPending(conn);
    if (verdict) await verdict;
    this.tlsOutcomes.refuseUndecided(conn);
    emitTunnelSummary(this, conn);
    this.registry.remove(conn);
    this.emit({
      type: 'conn.close',
      connId: conn.id,
      durationMs: Math.round(nowMs() - conn.openedAt),
      wire: conn.wire.snapshot(),
    });
    // Then the server connections it used (`--pcap`): the capture lists them after it.
    this.upstreamWire?.connClosed(conn.id);
  }

  /** The library's own errors: its servers' (no request behind them). */
  private onLibError(err: Error | undefined, kind: string): void {
    const e = (err ?? new Error('unknown error')) as NodeJS.ErrnoException;
    if (isDescriptorShortage(e)) this.descriptorShortage();
    if (this.listenFailed && (kind === 'HTTP_SERVER_ERROR' || kind === 'HTTPS_SERVER_ERROR')) {
      this.listenFailed(e);
      return;
    }
    // The internal server's TLS and parse errors: already events (tls.client-rejected, the
    // 431/400 diag) and the library's own log lines; a third copy would be noise.
    if (kind === 'HTTPS_CLIENT_ERROR') return;
    if (isDescriptorShortage(e)) {
      this.diag(
        'error',
        'engine',
        `out of file descriptors (${kind}: ${e.code ?? ''}: ${e.message}): a connection was dropped ` +
          'before it could be answered, and new ones get 503 for a moment. Close some ' +
          'connections or raise the limit (ulimit -n).',
      );
      return;
    }
    const quiet = e.code === 'ECONNRESET' || e.code === 'EPIPE';
    this.diag(
      quiet ? 'info' : 'warn',
      'http-mitm-proxy',
      `${kind}: ${e.code ? `${e.code}: ` : ''}${e.message}`,
    );
  }
}
