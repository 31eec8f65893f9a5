// The hand-off of an intercepted client to an internal TLS server: the engine opens a loopback
// connection (the "hop") to the library's TLS server and pipes the client's socket through it,
// as http-mitm-proxy's `_onHttpServerConnectData` did — but owned here, so that:
//  - clients that send no SNI (every IP-literal target: RFC 6066 forbids IP addresses in SNI)
//    share ONE internal server whose certificate is chosen per connection. The library started
//    a new server per IP literal and never closed it: one descriptor each, until EMFILE on its
//    WebSocketServer (no 'error' listener) killed the process (issue 13, item 2);
//  - clients that send SNI share the library's SNI server, whose certificates come from a
//    bounded cache (./sni-contexts.ts) instead of Node's addContext list, which only grows;
//  - a hop that cannot be opened (out of descriptors, above all) closes the client with a TLS
//    alert it can read and a diag that says why, instead of leaving it waiting.
// The library's shapes arrive as plain parameters (only ./engine.ts imports it).
import type http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import type { Leaf } from '../ca/index.ts';
import type { ClientTlsMax } from '../events/types.ts';
import type { Conn } from './conn.ts';
import { SniContexts } from './sni-contexts.ts';

/** An internal TLS server and the loopback port it listens on. */
export interface InternalServer {
  server: https.Server;
  port: number;
}

export interface HandOffDeps {
  /** The library's internal server that picks its certificate by SNI (forceSNI). */
  sniServer(): InternalServer;
  /**
   * The internal server for clients that send no SNI (started with the proxy, so that it never
   * has to be started when descriptors run short).
   */
  noSniServer(): InternalServer;
  /** The SNI server's twin that offers at most TLS 1.2 (`--client-tls-max 1.2`). */
  cappedSniServer(): InternalServer;
  /** The highest TLS version to offer a client now (read per hand-off: the UI may change it). */
  clientTlsMax(): ClientTlsMax;
  /**
   * The library's table `"<hop local port>:<internal server port>"` → CONNECT request: how its
   * request handlers (and the engine) find the client connection behind an internal socket.
   */
  connectRequests(): Record<string, http.IncomingMessage>;
  diag(level: 'info' | 'warn' | 'error', source: string, message: string, connId: string): void;
  /** A hop failed for want of descriptors (EMFILE / ENFILE). */
  descriptorShortage(): void;
}

/** One client to hand over. */
export interface HandOff {
  conn: Conn;
  /** The CONNECT request (the library's handlers read `connectRequest` from it). */
  req: http.IncomingMessage;
  /** The name the certificate is for: the SNI, else the CONNECT host. */
  name: string;
  sni: string | null;
  leaf: Leaf;
  /** Client bytes already read off the socket (its ClientHello), sent into the hop first. */
  head: Buffer;
}

/**
 * How long the shared no-SNI server may take to see a hop's connection before the next client
 * may set its certificate. Loopback connects take well under a millisecond; this only bounds a
 * hop lost on the way (its client then fails its handshake, reported as usual).
 */
const NO_SNI_SETTLE_MS = 1_000;

/** A fatal TLS `internal_error` alert (RFC 8446 §6.2), readable before any handshake. */
const TLS_INTERNAL_ERROR_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50]);

/** Error codes that mean the process ran out of file descriptors. */
export function isDescriptorShortage(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * How long a connection to an internal server whose peer port no hop of ours holds yet may wait
 * for a hop still connecting (the server may see its side of a loopback connect before the hop
 * sees its own). Loopback connects take well under a millisecond.
 */
const ADMIT_WAIT_MS = 1_000;

export class TlsHandOff {
  /** Local ports of hops that are up: the only peers the internal servers accept. */
  private readonly hopPorts = new Set<number>();
  /** Hops still connecting. */
  private connecting = 0;
  /** Internal connections waiting for a connecting hop to name their port. */
  private readonly waiting = new Set<() => void>();

  /** The SNI server's certificates by name (its SNICallback: see the engine). */
  readonly sniContexts = new SniContexts();
  private noSniWatched = false;
  /** No-SNI hand-offs wait here: the shared server holds one certificate at a time. */
  private readonly queue: (() => void)[] = [];
  /** The no-SNI hop whose connection the shared server has not seen yet, and its release. */
  private pending: { hop: net.Socket; release: () => void } | null = null;

  constructor(private readonly deps: HandOffDeps) {}

  /**
   * Connect `h.conn`'s socket to an internal server presenting `h.leaf`. `ready` runs once the
   * hop is up, before any client byte crosses it; if the hop cannot be opened, the client gets
   * a TLS alert and is closed, and `ready` never runs.
   */
  hand(h: HandOff, ready: () => void): void {
    if (h.sni !== null && net.isIP(h.name) === 0) {
      // At most TLS 1.2: the twin server, whose default context caps the version range (the
      // certificates come from the same cache).
      const { port } =
        this.deps.clientTlsMax() === '1.2' ? this.deps.cappedSniServer() : this.deps.sniServer();
      const release = this.sniContexts.pin(h.name, h.leaf);
      this.openHop(h, port, ready).once('close', release);
      return;
    }
    this.queue.push(() => this.handNoSni(h, ready));
    this.drain();
  }

  /**
   * Build the SNI server's context for `name` now (a cache entry, ./sni-contexts.ts), ahead of
   * the hand-off that will pin it: the ~0.8 ms of parsing the key and certificate then happens
   * while the client's ClientHello is still on its way. Nothing for a name without SNI (its
   * certificate is set on the shared server at the hand-off).
   */
  prepare(name: string, leaf: Leaf): void {
    if (net.isIP(name) === 0) this.sniContexts.warm(name, leaf);
  }

  /**
   * One door (issue 13, item 12): an internal server takes only connections the engine opened,
   * its hops. Any other local process could connect to the loopback port and have decrypted
   * requests forwarded without the proxy's authentication. Called for every connection an
   * internal server accepts; `refuse` closes it without a byte of answer.
   */
  admit(raw: net.Socket, refuse: (why: string) => void): void {
    const from = `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`;
    if (raw.remoteAddress !== '127.0.0.1' || raw.remotePort === undefined) {
      refuse(`a connection from ${from}, not one of the proxy's own`);
      return;
    }
    const port = raw.remotePort;
    if (this.hopPorts.has(port)) return;
    if (this.connecting === 0) {
      refuse(`a connection from ${from} that did not come through CONNECT`);
      return;
    }
    const check = (): void => {
      if (this.hopPorts.has(port)) return done();
      if (this.connecting === 0) {
        done();
        refuse(`a connection from ${from} that did not come through CONNECT`);
      }
    };
    const done = (): void => {
      this.waiting.delete(check);
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      done();
      if (!this.hopPorts.has(port))
        refuse(`a connection from ${from} that did not come through CONNECT`);
    }, ADMIT_WAIT_MS);
    timer.unref();
    this.waiting.add(check);
    raw.once('close', done);
  }

  /** A hop connected or failed: connections waiting for their port may be decided now. */
  private recheck(): void {
    for (const check of [...this.waiting]) check();
  }

  /** Start queued no-SNI hand-offs until one is waiting for its connection to arrive. */
  private drain(): void {
    while (this.pending === null && this.queue.length > 0) this.queue.shift()!();
  }

  private handNoSni(h: HandOff, ready: () => void): void {
    const target = this.deps.noSniServer();
    if (!this.noSniWatched) {
      this.noSniWatched = true;
      target.server.on('connection', (raw: net.Socket) => {
        if (this.pending && raw.remotePort === this.pending.hop.localPort) this.pending.release();
      });
    }
    if (h.conn.closed || h.conn.socket.destroyed) return;
    // Node reads the server's context when the connection arrives (one TLSSocket per
    // connection): set it now, and let no other no-SNI hop in until that has happened.
    target.server.setSecureContext({
      key: h.leaf.keyPem,
      cert: h.leaf.certPem,
      // The default context sets the version range, so the cap holds here as set.
      ...(this.deps.clientTlsMax() === '1.2' ? { maxVersion: 'TLSv1.2' as const } : {}),
    });
    const hop = this.openHop(h, target.port, ready);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.pending = null;
      this.drain();
    };
    const timer = setTimeout(release, NO_SNI_SETTLE_MS);
    timer.unref();
    this.pending = { hop, release };
    hop.once('close', release);
  }

  private openHop(h: HandOff, port: number, ready: () => void): net.Socket {
    const client = h.conn.socket;
    const hop = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let key: string | null = null;
    let hopPort: number | null = null;
    this.connecting++;
    let counted = true;
    const connected = (): void => {
      if (!counted) return;
      counted = false;
      this.connecting--;
    };
    hop.once('connect', () => {
      connected();
      if (client.destroyed) {
        hop.destroy();
        this.recheck();
        return;
      }
      hop.setNoDelay(true);
      hopPort = hop.localPort ?? null;
      if (hopPort !== null) this.hopPorts.add(hopPort);
      this.recheck();
      key = `${hop.localPort}:${hop.remotePort}`;
      this.deps.connectRequests()[key] = h.req;
      ready();
      if (h.head.length > 0) hop.write(h.head);
      client.pipe(hop);
      hop.pipe(client);
    });
    hop.on('error', (err: NodeJS.ErrnoException) => {
      // Before the hop is up the client is still waiting for a ServerHello: tell it. After,
      // the internal server's own verdict (tls.client-rejected …) tells the story.
      if (key === null) this.fail(h, err);
    });
    hop.once('close', () => {
      if (counted) {
        connected();
        this.recheck();
      }
      if (hopPort !== null) this.hopPorts.delete(hopPort);
      if (key !== null) delete this.deps.connectRequests()[key];
      client.destroy();
    });
    client.once('close', () => hop.destroy());
    return hop;
  }

  private fail(h: HandOff, err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    const short = isDescriptorShortage(e);
    if (short) this.deps.descriptorShortage();
    this.deps.diag(
      'error',
      'tls',
      `cannot hand ${h.name} to the internal TLS server: ${e.code ? `${e.code}: ` : ''}${e.message}` +
        (short
          ? ' — the proxy is out of file descriptors (too many open connections); the client got a TLS internal_error alert'
          : '; the client got a TLS internal_error alert'),
      h.conn.id,
    );
    const client = h.conn.socket;
    if (!client.destroyed && client.writable) client.end(TLS_INTERNAL_ERROR_ALERT);
    client.destroySoon();
  }
}
