// The proxy's leg to real servers: keep-alive agents that apply the name-resolution rules,
// validate certificates (system roots plus `--upstream-ca`), record connection timings, and
// report the server's certificate and negotiated TLS parameters. A MITM proxy must not make
// the student less safe than a direct connection, so validation is on unless the user says
// `--insecure-upstream` — the only place in mitm-lab where `rejectUnauthorized: false` exists.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { summarize } from '../ca/index.ts';
import type { CertSummary, Timings } from '../events/types.ts';
import type { Resolver } from './resolve.ts';

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
}

export interface TlsDetails {
  certificate: CertSummary | null;
  protocol: string | null;
  cipher: string | null;
}

const times = new WeakMap<net.Socket, SocketTimes>();

function track(socket: net.Socket): net.Socket {
  const t: SocketTimes = { start: performance.now(), lookup: null, connect: null, secure: null };
  times.set(socket, t);
  socket.once('lookup', () => (t.lookup = performance.now()));
  socket.once('connect', () => (t.connect = performance.now()));
  socket.once('secureConnect', () => (t.secure = performance.now()));
  return socket;
}

type CreateConnection = (options: Record<string, unknown>, cb?: unknown) => net.Socket;

/** Rewrites the connection options by the resolve rules, then lets Node connect as usual. */
function resolving(resolver: Resolver, original: CreateConnection): CreateConnection {
  return function createConnection(this: unknown, options, cb) {
    const host = typeof options['host'] === 'string' ? options['host'] : 'localhost';
    const port = Number(options['port']);
    const rewritten = {
      ...options,
      lookup: resolver.lookup,
      port: Number.isInteger(port) ? resolver.portFor(host, port) : options['port'],
    };
    return track(original.call(this, rewritten, cb));
  };
}

export class Upstream {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
  /** The roots upstream certificates are checked against (undefined = insecure). */
  readonly ca: string[] | undefined;
  private readonly details = new WeakMap<net.Socket, TlsDetails>();

  constructor(private readonly opts: UpstreamOptions) {
    this.httpAgent = new http.Agent({ keepAlive: true });
    this.ca = opts.insecure ? undefined : [...tls.rootCertificates, ...opts.upstreamCa];
    // One secure context, built once: passing `ca` instead would make Node parse the ~140
    // system roots again for every new upstream connection (~20 ms each, measured).
    this.httpsAgent = opts.insecure
      ? new https.Agent({ keepAlive: true, rejectUnauthorized: false })
      : new https.Agent({
          keepAlive: true,
          secureContext: tls.createSecureContext({ ca: this.ca }),
        });
    const httpAgent = this.httpAgent as unknown as { createConnection: CreateConnection };
    httpAgent.createConnection = resolving(opts.resolver, httpAgent.createConnection);
    const httpsAgent = this.httpsAgent as unknown as { createConnection: CreateConnection };
    httpsAgent.createConnection = resolving(opts.resolver, httpsAgent.createConnection);
    if (opts.keylog) {
      const keylog = opts.keylog;
      this.httpsAgent.on('keylog', (line: Buffer) => keylog(line.toString('latin1').trimEnd()));
    }
  }

  /** A raw TCP connection for a tunnel, by the same rules. */
  connectTunnel(host: string, port: number): net.Socket {
    return track(
      net.connect({
        host,
        port: this.opts.resolver.portFor(host, port),
        lookup: this.opts.resolver.lookup,
      }),
    );
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
    const x509 = socket.getPeerX509Certificate();
    if (x509) certificate = summarize(x509);
    const d: TlsDetails = {
      certificate,
      protocol: socket.getProtocol() ?? null,
      cipher: socket.getCipher()?.name ?? null,
    };
    this.details.set(socket, d);
    return d;
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
