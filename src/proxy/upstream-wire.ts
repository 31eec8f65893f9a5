// The upstream leg's capture, for `--pcap` only: what crossed on each of the proxy's own TCP
// connections to servers (keep-alive HTTP and HTTPS, WebSocket upstreams, tunnels), both ways,
// with the time of each read and write and the socket's real addresses, sent out as
// `upstream.wire` events (the pcap sink frames them as TCP, src/sinks/pcap.ts).
//
// For HTTPS the bytes are the TLS records as they crossed, not the decrypted stream: the TLS
// socket is created over a plain socket that is not connected yet (so Node runs TLS over it as
// a JS stream, through the tapped `push` and `write`, instead of taking over its native handle),
// and that socket is connected right after. It costs a JS stream per chunk, which is why it is
// done only when a pcap sink is configured: without one, nothing here runs.
//
// When the events go out: after each `conn.close` of a client connection whose requests an
// upstream connection carried (so a capture file lists a client connection, then the server
// connections it used), and when the upstream connection closes — held back while a client
// connection that used it is still open, so that order holds.
import type net from 'node:net';
import type { NewEvent, UpstreamWireEvent } from '../events/types.ts';
import { nowMs } from './clock.ts';
import { tapSocket } from './wire-tap.ts';

export type UpstreamKind = UpstreamWireEvent['kind'];

/**
 * Reads and writes kept per upstream connection (both directions together); later ones are
 * only counted. A keep-alive connection carries ~10 chunks per request; a long download one per
 * 16–64 KiB read, past the byte limit long before this.
 */
export const MAX_UPSTREAM_CHUNKS = 4000;

interface Chunk {
  dir: 'up' | 'down';
  t: number;
  bytes: Buffer;
}

interface Capture {
  id: string;
  kind: UpstreamKind;
  /** Epoch ms and performance ms when the proxy opened it. */
  openedAt: number;
  t0: number;
  /** The socket's ends, read at `connect` (gone after a destroy). Null until connected. */
  ends: {
    localAddress: string;
    localPort: number;
    remoteAddress: string;
    remotePort: number;
  } | null;
  /** Chunks not sent yet. */
  pending: Chunk[];
  chunks: number;
  kept: { up: number; down: number };
  size: { up: number; down: number };
  truncated: boolean;
  /** `truncated` as the last event said it. */
  sentTruncated: boolean;
  /** The client connection whose request it carried last. */
  connId: string | null;
  /** Open client connections that used it (the final event waits for them). */
  users: Set<string>;
  closed: boolean;
  done: boolean;
}

/** Captures the proxy's connections to servers; see the top of this file. */
export class UpstreamWire {
  private seq = 0;
  /** By the socket the HTTP layer sees (the TLS socket for HTTPS). */
  private readonly captures = new WeakMap<net.Socket, Capture>();
  /** Upstream connections each open client connection used. */
  private readonly byConn = new Map<string, Set<Capture>>();

  constructor(
    private readonly emit: (event: NewEvent) => void,
    /** Bytes kept per direction of one upstream connection (the client side's capture limit). */
    private readonly limitBytes: number,
  ) {}

  /**
   * Capture `tcp`, a socket to a server on which `connect()` was just called (Node's connect
   * resets `write`, so not before). `carrier` is the socket the HTTP layer uses, when it is
   * not `tcp` itself (the TLS socket over it).
   */
  capture(tcp: net.Socket, kind: UpstreamKind, carrier: net.Socket = tcp): void {
    const c: Capture = {
      id: `u${++this.seq}`,
      kind,
      openedAt: Date.now(),
      t0: nowMs(),
      ends: null,
      pending: [],
      chunks: 0,
      kept: { up: 0, down: 0 },
      size: { up: 0, down: 0 },
      truncated: false,
      sentTruncated: false,
      connId: null,
      users: new Set(),
      closed: false,
      done: false,
    };
    this.captures.set(carrier, c);
    // Read from the server is `down`, written to it `up` (a client socket's tap is the reverse).
    tapSocket(tcp, {
      up: (b: Buffer) => this.add(c, 'down', b),
      down: (b: Buffer) => this.add(c, 'up', b),
    });
    tcp.once('connect', () => {
      c.ends = {
        localAddress: tcp.localAddress ?? '',
        localPort: tcp.localPort ?? 0,
        remoteAddress: tcp.remoteAddress ?? '',
        remotePort: tcp.remotePort ?? 0,
      };
    });
    tcp.once('close', () => {
      c.closed = true;
      if (c.users.size === 0) this.send(c);
    });
  }

  /** A request of client connection `connId` goes out on `carrier` (a tunnel: its client). */
  use(carrier: net.Socket, connId: string): void {
    const c = this.captures.get(carrier);
    if (!c || c.done) return;
    c.connId = connId;
    c.users.add(connId);
    let set = this.byConn.get(connId);
    if (!set) this.byConn.set(connId, (set = new Set()));
    set.add(c);
  }

  /** Client connection `connId` closed (its `conn.close` is out): send what its upstreams carried. */
  connClosed(connId: string): void {
    const set = this.byConn.get(connId);
    if (!set) return;
    this.byConn.delete(connId);
    for (const c of set) {
      c.users.delete(connId);
      this.send(c);
    }
  }

  private add(c: Capture, dir: 'up' | 'down', chunk: Buffer): void {
    c.size[dir] += chunk.length;
    const room = Math.max(0, this.limitBytes - c.kept[dir]);
    if (room === 0 || c.chunks >= MAX_UPSTREAM_CHUNKS) {
      c.truncated = true;
      return;
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (part.length < chunk.length) c.truncated = true;
    // Copy: the caller's buffer may be a slice of a pooled one that gets reused.
    c.pending.push({ dir, t: nowMs() - c.t0, bytes: Buffer.from(part) });
    c.kept[dir] += part.length;
    c.chunks++;
  }

  /** Emit what is new, and the end once it closed and no open client connection used it. */
  private send(c: Capture): void {
    if (c.done) return;
    const last = c.closed && c.users.size === 0;
    if (last) c.done = true;
    // Never connected: no addresses, nothing crossed.
    if (!c.ends) return;
    if (!last && c.pending.length === 0 && c.truncated === c.sentTruncated) return;
    const chunks = c.pending.map((k) => ({
      dir: k.dir,
      t: Math.round(k.t * 1000) / 1000,
      bytes: k.bytes,
    }));
    c.pending = [];
    c.sentTruncated = c.truncated;
    this.emit({
      type: 'upstream.wire',
      connId: null,
      clientConnId: c.connId,
      upstreamId: c.id,
      kind: c.kind,
      ...c.ends,
      openedAt: new Date(c.openedAt).toISOString(),
      chunks,
      bytesUp: c.size.up,
      bytesDown: c.size.down,
      truncated: c.truncated,
      closed: last,
    });
  }
}
