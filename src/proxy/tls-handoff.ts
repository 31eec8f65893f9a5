// The hand-off of an intercepted client to an internal TLS server. The client's own socket, as
// a stream (`ClientLeg`), is given to the server (`server.emit('connection', leg)`, which Node
// documents for any Duplex): the forged handshake and the decrypted HTTP run in this process on
// the bytes the engine already reads for the capture. Until issue 12 the engine opened a
// loopback connection (a "hop") to the server and piped the client through it, as
// http-mitm-proxy's `_onHttpServerConnectData` does: two more sockets per client, every byte
// written and read once more by the kernel, a connect and an accept per connection (a third of
// the proxy's CPU under HTTPS load, by profile). Owned here, so that:
//  - clients that send no SNI (every IP-literal target: RFC 6066 forbids IP addresses in SNI)
//    share ONE internal server whose certificate is set per connection. The library started a
//    new server per IP literal and never closed it: one descriptor each, until EMFILE on its
//    WebSocketServer (no 'error' listener) killed the process (issue 13, item 2);
//  - clients that send SNI share the library's SNI server, whose certificates come from a
//    bounded cache (./sni-contexts.ts) instead of Node's addContext list, which only grows;
//  - the internal servers take no connection from the network at all (one door, issue 13,
//    item 12): they still listen on loopback (the library starts them so), but whatever
//    connects there is refused — only `ClientLeg`s come in.
// The library's shapes arrive as plain parameters (only ./engine.ts imports it).
import type http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Leaf } from '../ca/index.ts';
import type { ClientTlsMax } from '../events/types.ts';
import type { Conn } from './conn.ts';
import { SniContexts } from './sni-contexts.ts';

export interface HandOffDeps {
  /** The library's internal server that picks its certificate by SNI (forceSNI). */
  sniServer(): https.Server;
  /** The internal server for clients that send no SNI (its certificate is set per client). */
  noSniServer(): https.Server;
  /** The SNI server's twin that offers at most TLS 1.2 (`--client-tls-max 1.2`). */
  cappedSniServer(): https.Server;
  /** The highest TLS version to offer a client now (read per hand-off: the UI may change it). */
  clientTlsMax(): ClientTlsMax;
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
  /** Client bytes already read off the socket (its ClientHello), read by the server first. */
  head: Buffer;
}

export class TlsHandOff {
  /** The SNI servers' certificates by name. */
  readonly sniContexts = new SniContexts();
  /** The SNI servers' SNICallback: a certificate from the cache, and the link to the leg. */
  readonly sniCallback = linkingSni(this.sniContexts.sniCallback);

  constructor(private readonly deps: HandOffDeps) {}

  /**
   * Give `h.conn`'s socket to an internal server presenting `h.leaf`. `ready` runs first, before
   * the server reads a byte of it (the handshake's outcome needs the attempt made there).
   */
  hand(h: HandOff, ready: () => void): void {
    if (h.conn.closed || h.conn.socket.destroyed) return;
    const leg = new ClientLeg(h.conn, h.req, h.head);
    let server: https.Server;
    if (h.sni !== null && net.isIP(h.name) === 0) {
      // At most TLS 1.2: the twin server, whose default context caps the version range (the
      // certificates come from the same cache).
      server =
        this.deps.clientTlsMax() === '1.2' ? this.deps.cappedSniServer() : this.deps.sniServer();
      // Held until the client is gone: the cache may not evict it before the SNICallback ran.
      leg.once('close', this.sniContexts.pin(h.name, h.leaf));
    } else {
      server = this.deps.noSniServer();
      // Node gives a connection the server's context when the connection arrives, and
      // `emit('connection')` is synchronous: set this client's certificate just before.
      server.setSecureContext({
        key: h.leaf.keyPem,
        cert: h.leaf.certPem,
        // The default context sets the version range, so the cap holds here as set.
        ...(this.deps.clientTlsMax() === '1.2' ? { maxVersion: 'TLSv1.2' as const } : {}),
      });
    }
    ready();
    server.emit('connection', leg);
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
}

/**
 * An intercepted client's socket as the stream an internal TLS server reads and writes. What
 * the client sends reaches the server through the socket's reads, which the capture taps
 * (./wire-tap.ts) and the fair turns pace (./fair-reads.ts); what the server writes goes out
 * with the socket's `write` (tapped too). Closing either side closes the other.
 */
export class ClientLeg extends Duplex {
  /** The client's socket was paused because the server's side had enough waiting. */
  private held = false;

  constructor(
    readonly conn: Conn,
    /** The CONNECT request the client sent. */
    readonly req: http.IncomingMessage,
    head: Buffer,
  ) {
    // Not half-open: the client's end ends what the server writes too (as an internal server's
    // TLS socket ends its side when it reads the end): a TLS server that waited for more would
    // hold the client for good in the middle of a handshake.
    super({ allowHalfOpen: false });
    const client = conn.socket;
    if (head.length > 0) this.push(head);
    client.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) {
        this.held = true;
        client.pause();
      }
    });
    client.once('end', () => this.push(null));
    client.once('close', () => this.destroy());
    client.resume();
  }

  override _read(): void {
    if (!this.held) return;
    this.held = false;
    this.conn.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const client = this.conn.socket;
    // A client gone meanwhile: its close ends this stream too (the server is told by that).
    if (client.destroyed) return done();
    client.write(chunk, () => done());
  }

  override _writev(chunks: { chunk: Buffer }[], done: () => void): void {
    const client = this.conn.socket;
    if (client.destroyed) return done();
    client.cork();
    for (let i = 0; i < chunks.length - 1; i++) client.write(chunks[i]!.chunk);
    client.write(chunks[chunks.length - 1]!.chunk, () => done());
    client.uncork();
  }

  override _final(done: () => void): void {
    this.conn.socket.end();
    done();
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.conn.socket.destroy();
    done(err);
  }
}

/** A server's SNICallback, as Node calls it. */
export type SniCallback = (
  servername: string,
  cb: (err: Error | null, ctx?: tls.SecureContext) => void,
) => void;

/*
 * Each internal server's TLS sockets must stay linked to their `ClientLeg` past their close.
 * Node drops the TLS handle, the only way back (`legOf`), when the socket closes, and a client
 * that closes in the middle of its handshake without an alert (Node's TLS 1.3 client refusing
 * a certificate) is reported (`tlsClientError`, "socket hang up") only after that. A client
 * that sends an alert is reported while the handle is still there, and one that completes the
 * handshake at 'secureConnection'; the others are linked while their ClientHello is read:
 *  - on the SNI servers, by the SNICallback (`linkingSni`), which Node calls with the socket as
 *    `this` for every ClientHello (the SNI servers only get clients that send SNI);
 *  - on the server for clients without SNI, at the socket's first keylog line (`keepLegLinks`:
 *    the server's documented 'keylog' event names the socket), which OpenSSL writes as soon as
 *    it has a handshake secret: in TLS 1.3 with the server's first flight, before the client
 *    has seen the certificate. Not on the SNI servers: keylog lines cost ~0.1 ms per handshake.
 */

/** `sni`, taking the link of the socket it is called for (see above). */
export function linkingSni(sni: SniCallback): SniCallback {
  return function linkThenPick(this: unknown, servername, cb): void {
    if (this instanceof tls.TLSSocket) legOf(this);
    sni(servername, cb);
  };
}

/** Link `server`'s TLS sockets at their first keylog line (see above). */
export function keepLegLinks(server: https.Server): void {
  server.on('keylog', (_line: Buffer, socket: net.Socket) => {
    legOf(socket);
  });
}

/** Where a TLS socket of an internal server found its `ClientLeg` (looked up once). */
const LEG = Symbol('mitm-lab.clientLeg');

/**
 * The `ClientLeg` under an internal server's TLS socket, or null (not one of ours). Node keeps
 * no public link from a server's TLS socket to the stream it was made for: the TLS handle's
 * `_parentWrap` (Node's JSStreamSocket around a stream that is not a socket) holds it as
 * `stream`. Read while the socket is open (Node drops the handle after its close) and kept on
 * the socket, so later lookups cost one property read.
 */
export function legOf(socket: net.Socket): ClientLeg | null {
  const s = socket as net.Socket & {
    [LEG]?: ClientLeg | null;
    ssl?: { _parentWrap?: { stream?: unknown } } | null;
  };
  const known = s[LEG];
  if (known !== undefined) return known;
  const stream = s.ssl?._parentWrap?.stream;
  const leg = stream instanceof ClientLeg ? stream : null;
  if (leg || s.ssl) s[LEG] = leg;
  return leg;
}
