// The CONNECT decision: after ./connect.ts's checks, answer 200, peek the ClientHello, then
// tunnel (./tunnel.ts), hand plain HTTP back to the library's HTTP server, or forge a
// certificate and hand the socket to the library's TLS server (both hand-offs are hooks that
// ./engine.ts provides, as the only file touching http-mitm-proxy).
import type http from 'node:http';
import net from 'node:net';
import type { Ca, Leaf } from '../ca/index.ts';
import type { AuthThrottle } from './auth-throttle.ts';
import type { AutoRefusals } from './auto-refusals.ts';
import { peekClientHello, type ClientHelloInfo } from './client-hello.ts';
import {
  badConnectResponse,
  checkProxyAuth,
  forbiddenTargetResponse,
  OUT_OF_DESCRIPTORS_RESPONSE,
  parseConnectTarget,
  PROXY_AUTH_REQUIRED,
} from './connect.ts';
import type { EngineCore } from './engine-core.ts';
import type { Conn, ConnRegistry } from './conn.ts';
import type { TunnelReason } from '../events/types.ts';
import type { ProxyOptions } from './options.ts';
import type { TargetGuard } from './target-guard.ts';
import { formatMs, type Timeouts } from './timeouts.ts';
import type { HandOff } from './tls-handoff.ts';
import type { TlsOutcomes } from './tls-outcomes.ts';
import { nowMs } from './clock.ts';
import { openTunnel, type TunnelCore } from './tunnel.ts';
import type { Upstream } from './upstream.ts';

/**
 * What the CONNECT decision needs of the engine: what a tunnel needs, plus the mode, the CA,
 * auto mode's refusals (read only), the proxy's password and its throttle, the target guard,
 * and the connection registry's CONNECT side.
 */
export type ConnectDecisionCore = TunnelCore &
  Pick<EngineCore, 'mode' | 'outOfDescriptors'> & {
    readonly opts: Pick<ProxyOptions, 'auth'>;
    readonly ca: Pick<Ca, 'permits' | 'mintLeaf' | 'mintLeafAsync'>;
    readonly refusals: Pick<AutoRefusals, 'has' | 'mark'>;
    readonly authThrottle: Pick<AuthThrottle, 'failed' | 'succeeded'>;
    readonly targetGuard: Pick<TargetGuard, 'check' | 'checkName'>;
    readonly registry: Pick<ConnRegistry, 'ofSocket' | 'connectAccepted'>;
    readonly timeouts: Pick<Timeouts, 'afterConnectMs' | 'upstreamConnectMs'>;
    readonly upstream: Pick<Upstream, 'preconnect' | 'connectTunnel'>;
  };

/** What was made ready for a CONNECT before its ClientHello (ConnectDecision.openAhead). */
interface Ahead {
  /** Close the server connection opened ahead, unless a request took it. */
  release: () => void;
  /** The certificate being minted for the CONNECT's host (null when it failed), or null. */
  leaf: Promise<Leaf | null> | null;
}

/** What the CONNECT decision asks of the library (wired in ./engine.ts). */
export interface ConnectHandOff {
  /** Plain HTTP inside the tunnel: the library's HTTP server takes the socket. */
  plainHttp(socket: net.Socket): void;
  /**
   * Intercept: pipe the client's socket to an internal TLS server presenting `h.leaf`
   * (./tls-handoff.ts). `ready` runs once that connection is up, before any client byte
   * crosses it; when it cannot be opened the client is told and closed, and `ready` never runs.
   */
  intercept(h: HandOff, ready: () => void): void;
  /**
   * Make ready what intercepting `name` with `leaf` will need (its TLS context), ahead of the
   * ClientHello (./tls-handoff.ts).
   */
  prepare(name: string, leaf: Leaf): void;
}

export class ConnectDecision {
  /** @param tls makes the connection's TLS attempt at the hand-off (./tls-outcomes.ts). */
  constructor(
    private readonly core: ConnectDecisionCore,
    private readonly handOff: ConnectHandOff,
    private readonly tls: Pick<TlsOutcomes, 'begin'>,
  ) {}

  async handleConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    const core = this.core;
    const conn = core.registry.ofSocket(socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    socket.removeListener('data', noop);
    // Auto mode's refusals as they stand as this CONNECT comes in: only these decide it.
    const refusalsAsOf = core.refusals.mark();
    if (core.opts.auth) {
      if (!checkProxyAuth(req.headers['proxy-authorization'], core.opts.auth)) {
        const wait = core.authThrottle.failed(conn.clientAddress);
        core.diag(
          'info',
          'connect',
          `CONNECT ${req.url ?? ''}: proxy authentication required (407)` +
            (wait > 0 ? `, answered after ${wait} ms (repeated wrong passwords)` : ''),
          conn.id,
        );
        const answer = (): void => {
          if (!socket.destroyed) socket.end(PROXY_AUTH_REQUIRED);
        };
        if (wait > 0) core.later(wait, answer);
        else answer();
        return;
      }
      core.authThrottle.succeeded(conn.clientAddress);
    }
    if (core.outOfDescriptors()) {
      core.diag(
        'warn',
        'connect',
        `CONNECT ${req.url ?? ''}: refused (503), the proxy is out of file descriptors`,
        conn.id,
      );
      socket.end(OUT_OF_DESCRIPTORS_RESPONSE);
      return;
    }
    const target = parseConnectTarget(req.url);
    if (!target.ok) {
      core.diag('warn', 'connect', `refused CONNECT (400): ${target.reason}`, conn.id);
      socket.end(badConnectResponse(target.reason));
      return;
    }
    const { host, port } = target;
    // A name the system resolves is looked up before the 200 on a guarded proxy: a refusal
    // can still be answered in HTTP (every connection checks its answer again: ./resolve.ts).
    const forbidden =
      core.targetGuard.check(host, port) ?? (await core.targetGuard.checkName(host, port));
    if (conn.closed) return;
    if (forbidden) {
      core.diag('warn', 'connect', `refused CONNECT ${host}:${port} (403): ${forbidden}`, conn.id);
      socket.end(forbiddenTargetResponse(forbidden));
      return;
    }
    conn.connect = { host, port, refusalsAsOf };
    core.registry.connectAccepted(req, conn);
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const ahead = this.openAhead(conn, host, port);
    // A ClientHello's bytes are handed over, not put back: read off the socket once, they go to
    // the capture's record parser and to the internal server (issue 12, one pass over them).
    const peek = await peekClientHello(socket, core.timeouts.afterConnectMs, { handOver: true });
    // Only an intercepted ClientHello for the CONNECT's own name has a use for it.
    if (peek.kind !== 'tls' || (peek.hello.sni ?? host).toLowerCase() !== host) ahead.release();
    if (conn.closed && peek.kind !== 'tls') return;
    switch (peek.kind) {
      case 'closed':
        socket.destroy();
        return;
      case 'truncated':
        core.diag(
          'warn',
          'connect',
          `CONNECT ${host}:${port}: the client closed in the middle of its ClientHello`,
          conn.id,
        );
        socket.destroy();
        return;
      case 'timeout':
        if (peek.received > 0) {
          // A client stalled in the middle of its ClientHello: no server is waiting for that.
          core.diag(
            'warn',
            'connect',
            `CONNECT ${host}:${port}: the client sent ${peek.received} bytes of a ClientHello, then nothing for ${formatMs(core.timeouts.afterConnectMs)}: closed`,
            conn.id,
          );
          socket.destroy();
          return;
        }
        core.diag(
          'info',
          'connect',
          `CONNECT ${host}:${port}: no ClientHello within ${formatMs(core.timeouts.afterConnectMs)}; tunnelling (the server may speak first)`,
          conn.id,
        );
        // …but if it does not speak either, nobody will: close after as long again.
        openTunnel(core, conn, 'not-tls', host, port, null, core.timeouts.afterConnectMs);
        return;
      case 'not-tls':
        if (
          /^[A-Z]{3,10} \S+ HTTP\/1\.[01]\r?\n/.test(
            peek.firstBytes.subarray(0, 2048).toString('latin1'),
          )
        ) {
          // Plain HTTP inside the tunnel: hand the socket to the library's HTTP server.
          core.diag(
            'info',
            'connect',
            `CONNECT ${host}:${port} carries plain HTTP: shown like any plain HTTP request`,
            conn.id,
          );
          this.handOff.plainHttp(socket);
          return;
        }
        core.diag(
          'info',
          'connect',
          `CONNECT ${host}:${port} carries neither TLS nor HTTP: tunnelled untouched`,
          conn.id,
        );
        openTunnel(core, conn, 'not-tls', host, port, null);
        return;
      case 'tls':
        // The certificate minted ahead is most often ready by now; if not, this waits for it.
        this.onClientHello(conn, req, host, port, peek.hello, peek.bytes, ahead, await ahead.leaf);
        return;
    }
  }

  /**
   * Did this connection's client refuse a forged certificate for `name` before the connection's
   * CONNECT came in? (A refusal on a connection opened at the same moment does not count: see
   * ./auto-refusals.ts.)
   */
  private refusedBefore(conn: Conn, name: string): boolean {
    return this.core.refusals.has(conn.clientAddress, name, conn.connect?.refusalsAsOf);
  }

  /**
   * When this CONNECT will most likely be intercepted as things stand, make ready now, while the
   * client's ClientHello is on its way, what intercepting it takes: the server connection the
   * first decrypted request will need (./upstream.ts, preconnect), and the certificate with its
   * TLS context. `release` closes that connection if no request took it (also run when the
   * client leaves); `leaf` is the certificate for the CONNECT's host, or null.
   */
  private openAhead(conn: Conn, host: string, port: number): Ahead {
    const core = this.core;
    const none: Ahead = { release: () => {}, leaf: null };
    if (core.mode === 'eavesdrop' || net.isIPv6(host) || !core.ca.permits(host)) return none;
    if (core.mode === 'auto' && this.refusedBefore(conn, host)) return none;
    // The certificate and its TLS context, while the client's ClientHello is on its way: a
    // client names the CONNECT's host in its SNI, so the ClientHello finds both ready (its
    // tls.forged says how this mint went). The signature is computed off the event loop
    // (ca.mintLeafAsync), so it is asked for first: it runs in the thread pool while the
    // connection below is opened; the context, which Node can only make on the event loop, as
    // soon as the certificate is there.
    const leaf = core.ca.mintLeafAsync(host).then(
      (minted) => {
        if (!conn.closed) this.handOff.prepare(host, minted);
        return minted;
      },
      // Nothing to say yet: the ClientHello's own mint meets the same failure and reports it.
      () => null,
    );
    // The agent names a connection by the Host header's name, none for an IP address (SNI).
    const early = core.upstream.preconnect(host, port, net.isIP(host) ? '' : host);
    if (!early) return { ...none, leaf };
    core.upstreamWire?.use(early.socket, conn.id);
    conn.socket.once('close', early.release);
    return { release: early.release, leaf };
  }

  private onClientHello(
    conn: Conn,
    req: http.IncomingMessage,
    host: string,
    port: number,
    hello: ClientHelloInfo,
    bytes: Buffer,
    ahead: Ahead,
    /** The certificate minted ahead for the CONNECT's host, if it was. */
    ready: Leaf | null,
  ): void {
    const core = this.core;
    // The client left while its ClientHello was being parsed: conn.close is out already,
    // and nothing may follow it.
    if (conn.closed || conn.socket.destroyed) return;
    // TLS from here on: what the client sent since the 200 (its ClientHello, handed over by the
    // peek and already counted by the tap) goes to the record parser first.
    conn.wire.beginTls(bytes);
    /** A tunnel reads the client's socket itself: give the ClientHello back to it first. */
    const tunnel = (reason: TunnelReason): void => {
      ahead.release();
      if (!conn.socket.readableEnded && !conn.socket.destroyed) conn.socket.unshift(bytes);
      openTunnel(core, conn, reason, host, port, hello.sni);
    };
    core.emit({
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
    if (core.mode === 'eavesdrop') return tunnel('mode-eavesdrop');
    if (!core.ca.permits(name)) return tunnel('outside-name-constraints');
    if (core.mode === 'auto' && this.refusedBefore(conn, name))
      return tunnel('auto-refused-before');
    if (net.isIPv6(name)) {
      // The library keys its servers by `url.split(':')[0]`, which cannot hold an IPv6 literal.
      core.diag(
        'warn',
        'connect',
        `CONNECT [${name}]:${port}: IPv6 literals are tunnelled, not intercepted`,
        conn.id,
      );
      return tunnel('mint-failed');
    }
    let leaf: Leaf;
    try {
      leaf = ready?.host === name ? ready : core.ca.mintLeaf(name);
    } catch (err) {
      core.diag(
        'warn',
        'ca',
        `cannot forge a certificate for ${name}: ${err instanceof Error ? err.message : String(err)}`,
        conn.id,
      );
      return tunnel('mint-failed');
    }
    const helloAt = nowMs();
    // The internal server reads the ClientHello first (the rest follows from the socket).
    const head = bytes;
    // The library's request handlers read the target from the CONNECT request: make it the
    // name the client asked for (SNI).
    req.url = `${name}:${port}`;
    this.handOff.intercept({ conn, req, name, sni: hello.sni, leaf, head }, () => {
      // The client goes to the internal server: from here its handshake gets exactly one
      // outcome (tls.client-accepted / tls.client-rejected).
      core.emit({
        type: 'tls.forged',
        connId: conn.id,
        host: name,
        sni: hello.sni,
        certificate: leaf.summary,
        cached: leaf.cached,
        mintMs: leaf.mintMs,
      });
      this.tls.begin(conn, { host: name, sni: hello.sni, clientHint: hello.clientHint, helloAt });
    });
  }
}

/**
 * A 'data' listener that only switches Node's HTTP parser to JS reads: the engine adds it to
 * every client socket (see onClientConnection in ./engine.ts); a CONNECT takes it off.
 */
export function noop(): void {
  // nothing: its presence is the point
}
