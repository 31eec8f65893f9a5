// One client connection: what the engine knows about it (`Conn`, with its TLS attempt against
// a forged certificate, `TlsAttempt`) and its one owner, the `ConnRegistry`: the only place a
// connection is listed, found and forgotten — by its socket, by its id, by the CONNECT request
// it sent, and by the TLS socket an internal server made for it (./tls-handoff.ts). The engine
// adds and removes connections; its parts look them up here rather than in tables of the
// engine.
import type http from 'node:http';
import type net from 'node:net';
import type tls from 'node:tls';
import type { TunnelReason } from '../events/types.ts';
import type { TunnelEnding } from './client-verdict.ts';
import { legOf } from './tls-handoff.ts';
import type { SocketTap, WireTap } from './wire-tap.ts';

/** Everything the engine knows about one client connection. */
export interface Conn {
  id: string;
  socket: net.Socket;
  /** The client's address (the socket's remoteAddress when it connected). */
  clientAddress: string;
  openedAt: number;
  wire: WireTap;
  tap: SocketTap;
  /**
   * The CONNECT target, once a CONNECT was accepted on this connection, and auto mode's
   * refusals as they stood when it came in (`AutoRefusals.mark()`).
   */
  connect: { host: string; port: number; refusalsAsOf: number } | null;
  tls: TlsAttempt | null;
  tunnel: {
    reason: TunnelReason;
    host: string;
    port: number;
    sni: string | null;
    start: number;
    /** How the tunnel ended first: the client closed or reset it, or the server closed. */
    ending: TunnelEnding;
  } | null;
  closed: boolean;
  /**
   * The pending `conn.wire` timer and when it fires, and when the last `conn.wire` went out
   * (performance ms).
   */
  wireTimer: NodeJS.Timeout | null;
  wireDueAt: number;
  lastWireAt: number;
}

/**
 * One TLS attempt against a forged certificate: exactly one outcome gets emitted. Made and
 * decided by ./tls-outcomes.ts alone.
 */
export interface TlsAttempt {
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

/** The open client connections, and every way the engine's parts find one. */
export class ConnRegistry {
  private readonly bySocket = new Map<net.Socket, Conn>();
  /** Open connections by id (for `conn.wire` after an `http.response`); left at the close. */
  private readonly byId = new Map<string, Conn>();
  /** The client connection an accepted CONNECT request arrived on. */
  private readonly byConnect = new WeakMap<http.IncomingMessage, Conn>();

  /** Open client connections. */
  get size(): number {
    return this.bySocket.size;
  }

  /** The client sockets of the open connections. */
  sockets(): IterableIterator<net.Socket> {
    return this.bySocket.keys();
  }

  /** A new client connection. */
  add(conn: Conn): void {
    this.bySocket.set(conn.socket, conn);
    this.byId.set(conn.id, conn);
  }

  /** The connection was closed: it is no longer found by id (its socket still finds it). */
  closing(conn: Conn): void {
    this.byId.delete(conn.id);
  }

  /** The connection's close is done: forget it. */
  remove(conn: Conn): void {
    this.bySocket.delete(conn.socket);
  }

  has(socket: net.Socket): boolean {
    return this.bySocket.has(socket);
  }

  /** The connection a client socket belongs to. */
  ofSocket(socket: net.Socket): Conn | null {
    return this.bySocket.get(socket) ?? null;
  }

  /** An open connection by id. */
  ofId(id: string): Conn | null {
    return this.byId.get(id) ?? null;
  }

  /** A CONNECT request was accepted on `conn`. */
  connectAccepted(req: http.IncomingMessage, conn: Conn): void {
    this.byConnect.set(req, conn);
  }

  /** The connection an accepted CONNECT request arrived on. */
  ofConnectRequest(req: http.IncomingMessage): Conn | null {
    return this.byConnect.get(req) ?? null;
  }

  /** The client connection an internal server's TLS socket was made for. */
  ofInternal(tlsSocket: tls.TLSSocket): Conn | null {
    return legOf(tlsSocket)?.conn ?? null;
  }
}
