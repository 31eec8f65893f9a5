// The proxy's leg to real servers: keep-alive agents that apply the name-resolution rules,
// validate certificates (system roots plus `--upstream-ca`) under the security policy of
// ./upstream-policy.ts, record connection timings, and report the server's certificate and
// negotiated TLS parameters. A MITM proxy must not make the student less safe than a direct
// connection, so validation is on unless the user says `--insecure-upstream` — the only place
// in mitm-lab where `rejectUnauthorized: false` exists. Every TLS connection to a server goes
// through `httpsAgent` (requests, and WebSocket upstreams: http-mitm-proxy hands the same agent
// to `ws`); tunnels open plain TCP and leave TLS to the client.
import type { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { summarize } from '../ca/index.ts';
import type { CertSummary, Timings } from '../events/types.ts';
import type { Resolver } from './resolve.ts';
import type { UpstreamWire } from './upstream-wire.ts';
import { policyRefusal, upstreamPolicyOptions, type PolicyRefusal } from './upstream-policy.ts';
import { negotiated } from './tls-names.ts';
import { shiftOldest } from '../util/bounded.ts';

/** When each phase of opening one upstream connection ended (performance.now() ms). */
interface SocketTimes {
  start: number;
  lookup: number | null;
  connect: number | null;
  secure: number | null;
}

export interface UpstreamOptions {
  resolver: Resolver;
  /** Extra trusted roots (PEM). */
  upstreamCa: readonly string[];
  /** No certificate validation (`--insecure-upstream`). */
  insecure: boolean;
  /** SSLKEYLOGFILE lines of the proxy→server leg. */
  keylog?: ((line: string) => void) | undefined;
  /** Capture every connection to a server (`--pcap`); null or absent: no capture, no cost. */
  wire?: UpstreamWire | null;
}

export interface TlsDetails {
  certificate: CertSummary | null;
  protocol: string | null;
  cipher: string | null;
}

/**
 * TLS sessions kept for resumption, one per server name and port (Node's https.Agent keys them
 * by host, port and SNI, so a session is only ever offered to the server it came from; Node
 * checks the name on full handshakes only, which is safe for that reason). A resumed handshake
 * skips the server's certificate chain and its verification: measured, proxy CPU per new
 * upstream connection to an RSA-2048 server, three alternating rounds of 300 each, TLS 1.3
 * 7.6-8.1 ms resumed against 8.2-9.8 ms without, TLS 1.2 6.2-6.9 against 6.8-7.3 ms (issue 12,
 * item 3). Node's default (100), written here: a workshop reaches tens of servers; past this
 * many the oldest session is dropped, so a crawl holds at most ~100 sessions of a few KB.
 */
export const UPSTREAM_TLS_SESSIONS_MAX = 100;

const times = new WeakMap<net.Socket, SocketTimes>();

/** `tcp`: the plain socket under a TLS socket made over one (it sees the lookup and connect). */
function track(socket: net.Socket, tcp: net.Socket = socket): net.Socket {
  const t: SocketTimes = { start: performance.now(), lookup: null, connect: null, secure: null };
  times.set(socket, t);
  tcp.once('lookup', () => (t.lookup = performance.now()));
  tcp.once('connect', () => (t.connect = performance.now()));
  socket.once('secureConnect', () => (t.secure = performance.now()));
  return socket;
}

type CreateConnection = (options: Record<string, unknown>, cb?: unknown) => net.Socket;

/** The options of Node's agents that a plain TCP connect takes (not `path`: that is the URL's). */
const TCP_OPTIONS = [
  'family',
  'hints',
  'localAddress',
  'localPort',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelay',
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
] as const;

/**
 * Rewrites the connection options by the resolve rules (and adds `added()`), then lets Node
 * connect as usual; `opened` sees each new socket. With `wire` (`--pcap`), each connection is
 * captured: a TLS one (`tls`) is made over a plain socket connected here, whose bytes are the
 * TLS records.
 */
function resolving(
  resolver: Resolver,
  original: CreateConnection,
  opened: (socket: net.Socket, options: Record<string, unknown>) => void = () => {},
  added: () => Record<string, unknown> = () => ({}),
  wire: { capture: UpstreamWire; tls: boolean } | null = null,
  claim: (options: Record<string, unknown>) => net.Socket | null = () => null,
): CreateConnection {
  return function createConnection(this: unknown, options, cb) {
    // A connection opened ahead for this very key (Upstream.preconnect): it went through this
    // function when it was opened, so through the same rules, validation and capture.
    const ready = claim(options);
    if (ready) return ready;
    const host = typeof options['host'] === 'string' ? options['host'] : 'localhost';
    const port = Number(options['port']);
    const realPort = Number.isInteger(port) ? resolver.portFor(host, port) : 0;
    const lookup = resolver.lookupFor(realPort);
    const rewritten = {
      ...options,
      ...added(),
      lookup,
      port: Number.isInteger(port) ? realPort : options['port'],
    };
    let socket: net.Socket;
    if (wire?.tls) {
      // Not connected yet, so Node runs TLS over it as a stream (through the tap) instead of
      // taking over its handle; connected right after, then tapped (connect resets `write`).
      const tcp = new net.Socket();
      socket = track(original.call(this, { ...rewritten, socket: tcp }, cb), tcp);
      const connect: net.TcpSocketConnectOpts = { host, port: realPort, lookup };
      for (const k of TCP_OPTIONS)
        if (options[k] !== undefined) Object.assign(connect, { [k]: options[k] });
      tcp.connect(connect);
      wire.capture.capture(tcp, 'https', socket);
    } else {
      socket = track(original.call(this, rewritten, cb));
      wire?.capture.capture(socket, 'http');
    }
    // The agent's `noDelay` reaches a plain socket, not the TCP under a TLS one (Node 20's
    // tls.connect drops it): without this, a request written on a connection that is already up
    // (opened ahead, preconnect) waited for the server's delayed ACK of its session tickets
    // (Nagle): ~40 ms on every first request to a known host, measured.
    socket.setNoDelay(true);
    opened(socket, rewritten);
    return socket;
  };
}

/**
 * How long a connection opened ahead for an intercepted CONNECT (Upstream.preconnect) waits for
 * the request it was opened for. The client's TLS handshake with the proxy and its first request
 * take milliseconds; a browser may hold a connection it opened speculatively for up to 10 s
 * (Chromium's unused idle socket timeout) before sending anything, and the server has not
 * seen a request either: after that, the first request opens its own connection, as it would
 * have without this.
 */
export const PRECONNECT_WAIT_MS = 10_000;

/**
 * How long a connection to a server waits unused in the pool before the proxy closes it (the
 * agents' `timeout`: Node destroys a pooled socket idle that long; a socket in use only hears
 * of it, and the exchange's own limits apply). A client's next request on a kept-alive
 * connection, or a browser's next connection to the same site, comes within it; and the pool
 * stays bounded by the rate of new servers times this, as a proxy that keeps connections alive
 * across a client's `Connection: close` must (./http-relay.ts): 3,000 names one after another
 * had left hundreds of idle TLS connections behind (~40 KB of native memory each) with a 4 s
 * limit. Well under Node's default server keep-alive (5 s): the proxy lets go first, rather
 * than reuse a connection the server is closing.
 */
export const UPSTREAM_POOL_IDLE_MS = 1_000;

/**
 * Connections opened ahead and not yet taken, at most (all names together): a room of browsers
 * opens tens of connections at once; past this many, new CONNECTs simply do not open ahead.
 */
export const PRECONNECT_MAX = 64;

/** What Node's https.Agent has that its types do not show (Node 20's lib/_http_agent.js). */
interface AgentInternals {
  options: Record<string, unknown>;
  keepAlive: boolean;
  keepAliveMsecs: number;
  freeSockets: Record<string, net.Socket[] | undefined>;
  getName(options: Record<string, unknown>): string;
  createConnection: CreateConnection;
}

/** A connection opened ahead, waiting for its first request. */
interface Parked {
  socket: net.Socket;
  key: string;
  /** Take it out of the waiting room (its listeners and timer go). */
  leave(): void;
}

/** Leaf first, each issuer the handshake delivered or the store supplied (the root ends a loop). */
function derChain(cert: tls.DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<tls.DetailedPeerCertificate>();
  for (let c: tls.DetailedPeerCertificate | undefined = cert; c?.raw && !seen.has(c);) {
    seen.add(c);
    chain.push(c.raw);
    c = c.issuerCertificate;
  }
  return chain;
}

/** Server certificate summaries kept (one per distinct certificate; the oldest go first). */
const CERT_SUMMARIES_MAX = 1000;

export class Upstream {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
  private readonly details = new WeakMap<net.Socket, TlsDetails>();
  /** The server's chain (DER, leaf first) behind each TLS error that came after it. */
  private readonly chainOfError = new WeakMap<Error, Buffer[]>();
  /** The roots and the policy for every TLS connection to a server; built on the first one. */
  private context: tls.SecureContext | undefined;
  /** The agent's session key of each TLS socket (host, port, SNI...: what a session is kept by). */
  private readonly sessionKeys = new WeakMap<net.Socket, string>();
  /**
   * The server certificate of the last full handshake per session key. A resumed session
   * carries no certificate chain on the client's side (Node reports none), yet it is the
   * session of that handshake: its certificate is what the flow shows as the server's.
   */
  private readonly sessionCerts = new Map<string, X509Certificate>();
  /** Server certificate summaries by SHA-256 fingerprint (bounded, see summaryOf). */
  private readonly summaries = new Map<string, CertSummary>();
  /** The certificate taken at 'secureConnect' (Node hands it out once: a second call gets none). */
  private readonly peerCerts = new WeakMap<net.Socket, X509Certificate>();
  /** Connections opened ahead (preconnect), by the agent's key, oldest first. */
  private readonly parked = new Map<string, Parked[]>();
  private parkedCount = 0;

  constructor(private readonly opts: UpstreamOptions) {
    const timeout = UPSTREAM_POOL_IDLE_MS;
    this.httpAgent = new http.Agent({ keepAlive: true, timeout });
    // --insecure-upstream keeps Node's defaults (level 1, TLS 1.2+): verification is off, so
    // the key and signature checks, which are part of it, are off too. Otherwise every
    // connection gets the one secure context of secureContext() (see there).
    const maxCachedSessions = UPSTREAM_TLS_SESSIONS_MAX;
    this.httpsAgent = opts.insecure
      ? new https.Agent({ keepAlive: true, timeout, maxCachedSessions, rejectUnauthorized: false })
      : new https.Agent({ keepAlive: true, timeout, maxCachedSessions });
    const httpAgent = this.httpAgent as unknown as { createConnection: CreateConnection };
    const wire = opts.wire ?? null;
    httpAgent.createConnection = resolving(
      opts.resolver,
      httpAgent.createConnection,
      undefined,
      undefined,
      wire ? { capture: wire, tls: false } : null,
    );
    const httpsAgent = this.httpsAgent as unknown as { createConnection: CreateConnection };
    httpsAgent.createConnection = resolving(
      opts.resolver,
      httpsAgent.createConnection,
      (s, options) => {
        this.keepPeerForErrors(s);
        this.rememberSessionCert(s, options['_agentKey']);
      },
      opts.insecure ? undefined : () => ({ secureContext: this.secureContext() }),
      wire ? { capture: wire, tls: true } : null,
      (options) => this.claim(options['_agentKey']),
    );
    if (opts.keylog) {
      const keylog = opts.keylog;
      this.httpsAgent.on('keylog', (line: Buffer) => keylog(line.toString('latin1').trimEnd()));
    }
  }

  /**
   * One secure context for every TLS connection to a server: the system roots plus
   * --upstream-ca, and the security policy (OpenSSL level 2, TLS 1.2+). Built once: passing
   * `ca` per connection would make Node parse the ~140 system roots again for every new
   * upstream connection (~20 ms each, measured). Built on the first connection, not at start:
   * the parsed roots are ~1 MB that a proxy nobody has used yet need not hold (issue 12, idle
   * memory).
   */
  private secureContext(): tls.SecureContext {
    this.context ??= tls.createSecureContext({
      ca: [...tls.rootCertificates, ...this.opts.upstreamCa],
      ...upstreamPolicyOptions(),
    });
    return this.context;
  }

  /**
   * When a server fails verification, Node destroys the socket before anyone can look at the
   * certificate. Its 'secure' event (handshake done, the one tls.connect's own verification
   * listens to) comes first: take the chain there, and hand it to the error that follows.
   * Only when verification failed: the chain costs ~0.35 ms to read (measured), the verdict
   * ~0.2 µs, from the same internal call Node makes next (`_handle.verifyError()`; should it
   * ever be missing, the chain is read every time). `getPeerCertificate(true)`, not
   * `getPeerX509Certificate()`: called first, the latter makes Node 20.20's own name check
   * that follows fail ("Cert does not contain a DNS name").
   */
  private keepPeerForErrors(socket: net.Socket): void {
    if (!(socket instanceof tls.TLSSocket)) return;
    let chain: Buffer[] = [];
    socket.prependOnceListener('secure', () => {
      const handle = (socket as unknown as { _handle?: { verifyError?: () => unknown } })._handle;
      if (typeof handle?.verifyError === 'function' && handle.verifyError() === null) return;
      chain = derChain(socket.getPeerCertificate(true));
    });
    socket.once('error', (err: Error) => {
      if (chain.length > 0) this.chainOfError.set(err, chain);
    });
  }

  /**
   * Keep the certificate of each full handshake by its session key (see sessionCerts), once
   * Node has verified it and checked the name ('secureConnect' comes after both). Node resumes a
   * session only for the key it was made for, and skips its name check then: the name was
   * checked for that key when the session was made.
   */
  private rememberSessionCert(socket: net.Socket, key: unknown): void {
    if (!(socket instanceof tls.TLSSocket) || typeof key !== 'string') return;
    this.sessionKeys.set(socket, key);
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) return;
      const x509 = socket.getPeerX509Certificate();
      if (!x509) return;
      this.peerCerts.set(socket, x509);
      this.sessionCerts.delete(key);
      this.sessionCerts.set(key, x509);
      if (this.sessionCerts.size > UPSTREAM_TLS_SESSIONS_MAX) shiftOldest(this.sessionCerts);
    });
  }

  /**
   * Open now the TLS connection to `host:port` that the first decrypted request of an
   * intercepted CONNECT will need, so that its handshake with the server runs while the client
   * does its own with the proxy (for a name the proxy has not met, a full handshake: most of
   * the minting cost the harness measures, issue 12). It is opened by the agent, under the key
   * its request will have (host, port, TLS server name: the Host header's name, and the agent's
   * options), through the same createConnection as any other: resolve rules and the answer
   * check, validation and the security policy, session resumption, timings, keylog, `--pcap`.
   * The request whose key matches takes it (createConnection hands it over instead of
   * connecting); Node's agent then owns it as its own. Until then it waits at most
   * PRECONNECT_WAIT_MS, and is closed when `release` runs (the client left, or the CONNECT
   * went another way), when it fails (its request then connects afresh and meets the failure
   * itself: the same 502 and the same words as without this), or when the server closes it.
   * Null when nothing was opened: the agent holds an idle connection for that key already, or
   * PRECONNECT_MAX are waiting.
   */
  preconnect(
    host: string,
    port: number,
    servername: string,
  ): { socket: net.Socket; release: () => void } | null {
    const agent = this.httpsAgent as unknown as AgentInternals;
    // As the agent builds a request's options (createSocket): the request's, then its own.
    const options: Record<string, unknown> = { host, port, servername, ...agent.options };
    const key = agent.getName(options);
    if ((agent.freeSockets[key]?.length ?? 0) > 0 || this.parkedCount >= PRECONNECT_MAX)
      return null;
    options['_agentKey'] = key;
    options['encoding'] = null;
    if (agent.keepAlive) {
      options['keepAlive'] = true;
      options['keepAliveInitialDelay'] = agent.keepAliveMsecs;
    }
    const socket = agent.createConnection.call(agent, options);
    // Node's agent forwards a socket's keylog lines once it owns the socket (installListeners);
    // the handshake happens before that, so its lines are forwarded here until then.
    const keylog = this.opts.keylog;
    const forward = keylog ? (line: Buffer) => keylog(line.toString('latin1').trimEnd()) : null;
    if (forward) socket.on('keylog', forward);
    const timer = setTimeout(() => {
      parked.leave();
      socket.destroy();
    }, PRECONNECT_WAIT_MS);
    timer.unref();
    // An error while it waits ends it (no request is listening yet); 'close' follows.
    const onError = (): void => parked.leave();
    const parked: Parked = {
      socket,
      key,
      leave: () => {
        const list = this.parked.get(key);
        const i = list?.indexOf(parked) ?? -1;
        if (list && i >= 0) {
          list.splice(i, 1);
          if (list.length === 0) this.parked.delete(key);
          this.parkedCount--;
        }
        clearTimeout(timer);
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
        if (forward) socket.removeListener('keylog', forward);
      },
    };
    const onClose = (): void => parked.leave();
    socket.on('error', onError);
    socket.once('close', onClose);
    const list = this.parked.get(key);
    if (list) list.push(parked);
    else this.parked.set(key, [parked]);
    this.parkedCount++;
    return {
      socket,
      release: () => {
        if (!this.parked.get(key)?.includes(parked)) return; // taken by a request, or gone
        parked.leave();
        socket.destroy();
      },
    };
  }

  /** Connections opened ahead and not yet taken (tests, stats). */
  get preconnected(): number {
    return this.parkedCount;
  }

  /** Hand a request the connection opened ahead for its key, if one is still good. */
  private claim(key: unknown): net.Socket | null {
    if (typeof key !== 'string') return null;
    const list = this.parked.get(key);
    while (list && list.length > 0) {
      const parked = list[0]!;
      parked.leave();
      const s = parked.socket;
      if (!s.destroyed && !s.readableEnded && s.writable && !s.errored) return s;
      s.destroy();
    }
    return null;
  }

  /**
   * True when `socket` is connected already (for TLS: its handshake done). A connection opened
   * ahead (preconnect) may be, when its request takes it: that request's connect limit does not
   * apply to it.
   */
  connected(socket: net.Socket): boolean {
    const t = times.get(socket);
    if (!t) return false;
    return socket instanceof tls.TLSSocket ? t.secure !== null : t.connect !== null;
  }

  /** True when `socket`'s TCP connection is up (a TLS one's handshake may still be going on). */
  tcpConnected(socket: net.Socket): boolean {
    return (times.get(socket)?.connect ?? null) !== null;
  }

  /**
   * The security policy's verdict on an upstream error (a stable code and what was found), or
   * null when the error is something else.
   */
  refusal(err: NodeJS.ErrnoException): PolicyRefusal | null {
    return policyRefusal(err, this.chainOfError.get(err) ?? []);
  }

  /** A raw TCP connection for a tunnel, by the same rules (captured with `--pcap`). */
  connectTunnel(host: string, port: number): net.Socket {
    const realPort = this.opts.resolver.portFor(host, port);
    const socket = track(
      net.connect({ host, port: realPort, lookup: this.opts.resolver.lookupFor(realPort) }),
    );
    this.opts.wire?.capture(socket, 'tunnel');
    return socket;
  }

  /**
   * Timings of one request: `socket` is the upstream socket, `reused` whether it was a
   * keep-alive socket opened for an earlier request (then DNS/connect/TLS are null).
   */
  timings(
    socket: net.Socket | null,
    reused: boolean,
    requestStart: number,
    firstByte: number | null,
    end: number | null,
  ): Timings {
    const t = socket ? times.get(socket) : undefined;
    const ms = (a: number | null | undefined, b: number | null | undefined): number | null =>
      a === null || a === undefined || b === null || b === undefined
        ? null
        : Math.max(0, Math.round((b - a) * 100) / 100);
    const fresh = t && !reused;
    return {
      dnsMs: fresh ? ms(t.start, t.lookup) : null,
      connectMs: fresh ? ms(t.lookup ?? t.start, t.connect) : null,
      tlsMs: fresh ? ms(t.connect, t.secure) : null,
      ttfbMs: ms(requestStart, firstByte),
      totalMs: ms(requestStart, end),
    };
  }

  /** The server's certificate and negotiated protocol/cipher on a TLS socket (cached). */
  tlsDetails(socket: net.Socket | null): TlsDetails {
    if (!(socket instanceof tls.TLSSocket))
      return { certificate: null, protocol: null, cipher: null };
    const cached = this.details.get(socket);
    if (cached) return cached;
    let certificate: CertSummary | null = null;
    const key = this.sessionKeys.get(socket);
    const x509 =
      this.peerCerts.get(socket) ??
      socket.getPeerX509Certificate() ??
      (socket.isSessionReused() && key !== undefined ? this.sessionCerts.get(key) : undefined);
    if (x509) certificate = this.summaryOf(x509);
    const d: TlsDetails = { certificate, ...negotiated(socket) };
    this.details.set(socket, d);
    return d;
  }

  /**
   * A server certificate's summary, made once per certificate (by its SHA-256): each new
   * connection to a server shows the same one, and summarising (its SPKI hash, names, a
   * signature check for self-signed) was ~5 % of the proxy's CPU per new connection.
   * Summaries are shared read-only by the events that carry them.
   */
  private summaryOf(x509: X509Certificate): CertSummary {
    const fp = x509.fingerprint256;
    const known = this.summaries.get(fp);
    if (known) {
      // Most recent last: the oldest goes first when the memo is full.
      this.summaries.delete(fp);
      this.summaries.set(fp, known);
      return known;
    }
    const summary = summarize(x509);
    this.summaries.set(fp, summary);
    if (this.summaries.size > CERT_SUMMARIES_MAX) shiftOldest(this.summaries);
    return summary;
  }

  destroy(): void {
    for (const list of [...this.parked.values()])
      for (const parked of [...list]) {
        parked.leave();
        parked.socket.destroy();
      }
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
