// Bounded capture of what crossed the wire between a client and the proxy, in both directions:
// the raw bytes (first `limitBytes` per direction) and, for TLS, the records an eavesdropper
// would parse. The eavesdropper view is built from this, so it is what really crossed, not a
// reconstruction.
import type net from 'node:net';
import type {
  CertSummary,
  ConnWireEvent,
  TlsRecord,
  WireBytes,
  WireCapture,
  WireDelta,
} from '../events/types.ts';
import { nowMs } from './clock.ts';
import { TlsRecordStream, TlsSession } from './tls-records.ts';
import type { TlsAlert } from './tls-alerts.ts';
import { CAPTURE_LIMITS } from '../events/limits.ts';
import { CaptureBuffer } from './capture-buffer.ts';

/** Records kept per connection: a handshake is ~10; a long download ~16 KiB per record. */
export const DEFAULT_MAX_RECORDS = CAPTURE_LIMITS.records;

export interface WireTapOptions {
  /** Raw bytes kept per direction (the rest is counted). */
  limitBytes: number;
  /** Parse TLS records from the first byte. Use `beginTls()` when TLS starts later. */
  tls: boolean;
  /** Connection start, epoch ms (record times are relative to it). Default: now. */
  t0?: number;
  /** Records kept (in both directions together); more are counted. Default 2000. */
  maxRecords?: number;
}

class Direction {
  private readonly bytes: CaptureBuffer;

  constructor(limit: number) {
    this.bytes = new CaptureBuffer(limit);
  }

  get size(): number {
    return this.bytes.size;
  }

  add(chunk: Buffer): void {
    this.bytes.add(chunk);
  }

  snapshot(): WireBytes {
    return {
      bytes: this.bytes.view(),
      size: this.bytes.size,
      truncated: this.bytes.size > this.bytes.kept,
    };
  }

  /** Bytes already handed out by `delta()`. */
  private sentBytes = 0;
  private sentSize = 0;

  /** True when bytes crossed since the last `delta()`. */
  get changed(): boolean {
    return this.bytes.size !== this.sentSize;
  }

  /** True when bytes were kept since the last `delta()` (not only counted past the limit). */
  get grew(): boolean {
    return this.bytes.kept !== this.sentBytes;
  }

  /** What was captured since the last call (only the new bytes: each byte is sent once). */
  delta(): WireDelta {
    const offset = this.sentBytes;
    const { kept, size } = this.bytes;
    const bytes = this.bytes.view(offset);
    this.sentBytes = kept;
    this.sentSize = size;
    return { offset, bytes, size, truncated: size > kept };
  }
}

/** What `WireTap.delta()` returns: a `conn.wire` event's fields. */
export type WireTapDelta = Omit<ConnWireEvent, 'type' | 'id' | 'at' | 'connId'>;

/** The capture of one connection. Feed it with `up`/`down` (or `tapSocket`). */
export class WireTap {
  private readonly upBytes: Direction;
  private readonly downBytes: Direction;
  private readonly t0: number;
  private readonly maxRecords: number;
  private readonly session = new TlsSession();
  private upRecords: TlsRecordStream | null = null;
  private downRecords: TlsRecordStream | null = null;
  private readonly records: TlsRecord[] = [];
  private totalRecords = 0;
  private firstClientAlert: TlsAlert | null = null;
  private sentRecords = 0;
  private sentCertificates = false;
  /** Called after bytes were captured (the engine schedules a `conn.wire` from it). */
  onChange: (() => void) | null = null;
  private firstFatalClientAlert: TlsAlert | null = null;

  constructor(opts: WireTapOptions) {
    this.upBytes = new Direction(Math.max(0, opts.limitBytes));
    this.downBytes = new Direction(Math.max(0, opts.limitBytes));
    this.t0 = opts.t0 ?? nowMs();
    this.maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS;
    if (opts.tls) this.beginTls();
  }

  /**
   * Start parsing TLS records from the next byte in each direction — for a CONNECT tunnel whose
   * first bytes are the CONNECT request and the proxy's `200`. `alreadySeenUp` are client bytes
   * already captured that belong to TLS (the `head` a client pipelined after its CONNECT): they
   * are parsed, not counted again. Calling it again does nothing.
   */
  beginTls(alreadySeenUp?: Buffer, now: number = nowMs()): void {
    if (this.upRecords) return;
    this.upRecords = new TlsRecordStream('up', this.t0, this.session);
    this.downRecords = new TlsRecordStream('down', this.t0, this.session);
    if (alreadySeenUp && alreadySeenUp.length > 0) {
      this.addRecords(this.upRecords.push(alreadySeenUp, now));
    }
  }

  /** Bytes from the client. */
  up(chunk: Buffer, now: number = nowMs()): void {
    this.upBytes.add(chunk);
    if (this.upRecords) this.addRecords(this.upRecords.push(chunk, now));
    this.onChange?.();
  }

  /** Bytes to the client. */
  down(chunk: Buffer, now: number = nowMs()): void {
    this.downBytes.add(chunk);
    if (this.downRecords) this.addRecords(this.downRecords.push(chunk, now));
    this.onChange?.();
  }

  /**
   * What crossed since the previous call, or null when nothing did: the new bytes of each
   * direction (with their offset), the new records, and the certificate chain the first time
   * it is known. Successive deltas append up to the capture; their total size is bounded by
   * the capture limits, however often it is called.
   */
  /**
   * True when the capture kept something since the last `delta()` — bytes, records, the
   * certificate chain — beyond counting what crossed past its limits.
   */
  get grew(): boolean {
    return (
      this.upBytes.grew ||
      this.downBytes.grew ||
      Math.min(this.totalRecords, this.records.length) > this.sentRecords ||
      (!this.sentCertificates && this.session.serverCertificates !== null)
    );
  }

  delta(): WireTapDelta | null {
    if (!this.upBytes.changed && !this.downBytes.changed && this.totalRecords === this.sentRecords)
      return null;
    const recordsFrom = Math.min(this.sentRecords, this.records.length);
    const records = this.records.slice(recordsFrom);
    this.sentRecords = this.totalRecords;
    const certs = this.sentCertificates ? null : this.serverCertificates;
    if (certs) this.sentCertificates = true;
    return {
      up: this.upBytes.delta(),
      down: this.downBytes.delta(),
      records,
      recordsFrom,
      recordsTruncated: this.totalRecords > this.records.length,
      serverCertificates: certs,
      tlsVersion: this.tlsVersion,
      cipherSuite: this.cipherSuite,
      keyExchangeGroup: this.keyExchangeGroup,
    };
  }

  private addRecords(records: TlsRecord[]): void {
    for (const r of records) {
      this.totalRecords++;
      if (r.dir === 'up' && r.alert) {
        const { code, name } = r.alert;
        this.firstClientAlert ??= { code, name };
        if (r.alert.level === 'fatal') this.firstFatalClientAlert ??= { code, name };
      }
      if (this.records.length < this.maxRecords) this.records.push(r);
    }
  }

  /** Total bytes seen from the client. */
  get bytesUp(): number {
    return this.upBytes.size;
  }

  /** Total bytes seen to the client. */
  get bytesDown(): number {
    return this.downBytes.size;
  }

  /** The records kept so far, in order (no copy: read, do not keep). */
  get keptRecords(): readonly TlsRecord[] {
    return this.records;
  }

  /** Records seen in both directions, including those beyond `maxRecords`. */
  get recordCount(): number {
    return this.totalRecords;
  }

  /** The negotiated version a passive observer could tell (`TLS 1.3`), or null. */
  get tlsVersion(): string | null {
    return this.downRecords?.tlsVersion ?? null;
  }

  /** The cipher suite the ServerHello chose (IANA name), or null. */
  get cipherSuite(): string | null {
    return this.downRecords?.cipherSuite ?? null;
  }

  /** The key-exchange group (`x25519`…), or null when not visible. */
  get keyExchangeGroup(): string | null {
    return this.downRecords?.keyExchangeGroup ?? null;
  }

  /**
   * The alert the client sent in clear, if any: the first fatal one, else the first warning
   * (a client refusing a certificate sends a fatal alert; close_notify is a warning).
   */
  clientAlert(): TlsAlert | null {
    return this.firstFatalClientAlert ?? this.firstClientAlert;
  }

  /**
   * The capture so far, as `conn.close` carries it: the bytes are a view of the capture's block
   * or a copy (never written again either way), the records a copy of the list.
   */
  snapshot(): WireCapture {
    return {
      up: this.upBytes.snapshot(),
      down: this.downBytes.snapshot(),
      records: this.records.slice(),
      recordsTruncated: this.totalRecords > this.records.length,
      serverCertificates: this.serverCertificates,
      tlsVersion: this.tlsVersion,
      cipherSuite: this.cipherSuite,
      keyExchangeGroup: this.keyExchangeGroup,
    };
  }

  /** TLS 1.2: the server's certificate chain as it crossed in clear (a copy), else null. */
  get serverCertificates(): CertSummary[] | null {
    return this.session.serverCertificates ? this.session.serverCertificates.slice() : null;
  }
}

/** What a socket tap feeds: the bytes read from the socket (`up`) and those written to it (`down`). */
export interface TapTarget {
  up(chunk: Buffer): void;
  down(chunk: Buffer): void;
}

/** Controls a socket tap: point it at another WireTap, or stop observing. */
export interface SocketTap<T extends TapTarget = WireTap> {
  /** The tap bytes currently go to. */
  readonly tap: T;
  /** Send the following bytes to another tap (e.g. a TLS-aware one after the CONNECT `200`). */
  setTap(tap: T): void;
  /** Stop observing (the socket keeps working as before). */
  detach(): void;
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer | null {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  if (typeof chunk === 'string') {
    const enc = typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8';
    return Buffer.from(chunk, enc);
  }
  return null;
}

/**
 * Observe a socket into `tap` without altering a byte or the socket's flow (a client socket:
 * read = `up`, written = `down`; ./upstream-wire.ts taps server sockets the same way).
 *
 * Up: wraps the instance's `push`, the one door through which Node's net.Socket hands data
 * read from the kernel to its readable buffer. Unlike a 'data' listener this does not switch a
 * paused socket to flowing, works whatever the socket's mode (paused, flowing, piped), and
 * never double-counts bytes put back with `unshift` (e.g. by peekClientHello), since unshift
 * does not go through push. Down: wraps `write` and `end(chunk)` (what `pipe` and the engine
 * call), recording only bytes a writable socket accepts.
 *
 * Caveats: a TLSSocket created directly over this socket takes over its native handle and
 * bypasses both doors; tap the outer plain socket of a connection that is piped or forwarded
 * (or, as ./upstream-wire.ts does, make the TLSSocket over a socket not yet connected: Node then
 * runs TLS over it as a stream). And Node's `connect()` puts back the prototype's `write`: tap
 * a socket after its connect call, not before.
 */
export function tapSocket<T extends TapTarget = WireTap>(socket: net.Socket, tap: T): SocketTap<T> {
  let current = tap;
  let attached = true;
  const push = socket.push;
  const write = socket.write;
  const end = socket.end;

  socket.push = function tappedPush(this: net.Socket, chunk: unknown, encoding?: BufferEncoding) {
    if (attached && chunk !== null && chunk !== undefined) {
      const buf = toBuffer(chunk, encoding);
      if (buf && buf.length > 0) current.up(buf);
    }
    return push.call(this, chunk, encoding);
  };

  const recordDown = (s: net.Socket, chunk: unknown, encoding: unknown): void => {
    if (!attached || s.destroyed || s.writableEnded || chunk === null || chunk === undefined)
      return;
    const buf = toBuffer(chunk, encoding);
    if (buf && buf.length > 0) current.down(buf);
  };
  socket.write = function tappedWrite(this: net.Socket, ...args: unknown[]): boolean {
    recordDown(this, args[0], args[1]);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof socket.write;
  socket.end = function tappedEnd(this: net.Socket, ...args: unknown[]): net.Socket {
    if (typeof args[0] !== 'function') recordDown(this, args[0], args[1]);
    return (end as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof socket.end;

  return {
    get tap() {
      return current;
    },
    setTap(next: T) {
      current = next;
    },
    detach() {
      attached = false;
    },
  };
}
