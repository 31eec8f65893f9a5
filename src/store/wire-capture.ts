// A connection's wire capture as the store keeps it: the live capture grown from `conn.wire`
// deltas while the connection is open (bytes kept in buffers of the store's own), and the final
// capture from `conn.close` cut to the store's limits. Bytes arrive as Buffers (issue 12, item
// 2): nothing here encodes or decodes. The fold (./fold.ts) calls these; the ring (./ring.ts)
// counts what they retain.
import type { ConnWireEvent, WireBytes, WireCapture, WireDelta } from '../events/types.ts';

/** The store's limits on a wire capture (FlowStoreOptions' `maxWireBytes`, `maxRecords`). */
export interface WireLimits {
  /** Bytes kept per direction. */
  maxWireBytes: number;
  /** TLS records kept per connection. */
  maxRecords: number;
}

/**
 * The store's side of one connection's `conn.wire` deltas (named apart from the engine's
 * proxy/live-wire.ts, which sends them).
 */
export interface LiveCapture {
  up: LiveBytes;
  down: LiveBytes;
  /** Records the deltas announced so far (kept or not). */
  recordsSeen: number;
}

export function newLiveCapture(): LiveCapture {
  return { up: new LiveBytes(), down: new LiveBytes(), recordsSeen: 0 };
}

/** Bytes a live capture holds (both directions' buffers). */
export function liveRetained(state: LiveCapture): number {
  return state.up.retained() + state.down.retained();
}

/**
 * Append a `conn.wire` delta to the connection's live capture (`prev`, what the connection
 * showed so far). Bytes and records are taken only when they continue exactly where the
 * previous delta ended (`offset`, `recordsFrom`): after a gap (e.g. an attach feed that joined
 * late) the sizes still update, and the capture is marked cut rather than shown with bytes out
 * of place.
 */
export function foldWireDelta(
  state: LiveCapture,
  prev: WireCapture | null,
  e: ConnWireEvent,
  limits: WireLimits,
): WireCapture {
  let records = prev ? prev.records : [];
  let recordsCut: boolean;
  if (e.recordsFrom === state.recordsSeen) {
    const room = limits.maxRecords - records.length;
    if (e.records.length > 0 && room > 0) records = records.concat(e.records.slice(0, room));
    recordsCut = e.records.length > room;
    state.recordsSeen += e.records.length;
  } else recordsCut = e.records.length > 0 || e.recordsFrom > state.recordsSeen;
  return {
    up: state.up.add(e.up, limits.maxWireBytes),
    down: state.down.add(e.down, limits.maxWireBytes),
    records,
    recordsTruncated: e.recordsTruncated || recordsCut || (prev?.recordsTruncated ?? false),
    serverCertificates: e.serverCertificates ?? prev?.serverCertificates ?? null,
    tlsVersion: e.tlsVersion,
    cipherSuite: e.cipherSuite,
    keyExchangeGroup: e.keyExchangeGroup,
  };
}

/** The final capture (`conn.close`) cut to the store's limits, in memory of the store's own. */
export function capWire(wire: WireCapture, limits: WireLimits): WireCapture {
  const records = wire.records.length > limits.maxRecords;
  return {
    ...wire,
    up: capWireBytes(wire.up, limits.maxWireBytes),
    down: capWireBytes(wire.down, limits.maxWireBytes),
    records: records ? wire.records.slice(0, limits.maxRecords) : wire.records,
    recordsTruncated: wire.recordsTruncated || records,
  };
}

function capWireBytes(b: WireBytes, maxWireBytes: number): WireBytes {
  const bytes = bytesOf(b);
  const truncated = b.truncated || bytes.length > maxWireBytes;
  return { bytes: ownBytes(bytes, maxWireBytes), size: b.size, truncated };
}

/**
 * One direction's live bytes, grown by deltas in O(delta). The kept bytes live in one buffer of
 * the store's own (doubling up to the limit, copied on growth): an event's bytes may be a view
 * of the engine's capture block or (from an attach feed) a slice of Node's shared 8 KiB pool,
 * and keeping either would keep memory the store does not count. Once the store's limit is
 * reached a delta's bytes are only counted.
 */
export class LiveBytes {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes received in order (what the next delta's `offset` must be). */
  private received = 0;
  /** Bytes kept (at most the store's limit): `buf[0, kept)`. */
  private kept = 0;
  private cut = false;
  /** `buf[0, kept)` as one Buffer object while `kept` does not change (views cache by it). */
  private view: Buffer = this.buf;

  add(d: WireDelta, maxBytes: number): WireBytes {
    const bytes = bytesOf(d);
    if (d.offset !== this.received) this.cut = true;
    else if (bytes.length > 0) {
      this.received += bytes.length;
      const take = Math.min(Math.max(0, maxBytes - this.kept), bytes.length);
      if (take < bytes.length) this.cut = true;
      if (take > 0) {
        this.reserve(this.kept + take, maxBytes);
        bytes.copy(this.buf, this.kept, 0, take);
        this.kept += take;
      }
    }
    return { bytes: this.bytes(), size: d.size, truncated: d.truncated || this.cut };
  }

  /** Grow the buffer to hold `need` bytes (never past `max`): bytes already kept are copied. */
  private reserve(need: number, max: number): void {
    if (need <= this.buf.length) return;
    const size = Math.min(max, Math.max(need, this.buf.length * 2, 1024));
    // Memory of its own, not a slice of the shared pool (see the class comment).
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.kept);
    this.buf = next;
  }

  /** Bytes this direction holds: its buffer. */
  retained(): number {
    return this.buf.length;
  }

  /**
   * The bytes kept so far, the same Buffer object while they do not change. Bytes are only ever
   * appended past `kept`, so a view handed out earlier never changes.
   */
  private bytes(): Buffer {
    if (this.view.length !== this.kept || this.view.buffer !== this.buf.buffer) {
      this.view = this.buf.subarray(0, this.kept);
    }
    return this.view;
  }
}

/**
 * The bytes of a capture field, empty when it has none: an event from an attach feed or a
 * file may be malformed, and the store takes it without throwing.
 */
export function bytesOf(b: { bytes?: unknown } | null | undefined): Buffer {
  const x = b?.bytes;
  return Buffer.isBuffer(x) ? x : EMPTY;
}

const EMPTY = Buffer.alloc(0);

/**
 * The first `max` bytes of `b` (all of them by default) in memory of their own: `b` itself when
 * it already is exactly that, else a copy outside Node's shared pool (a kept slice keeps its
 * whole slab or block alive, uncounted).
 */
export function ownBytes(b: Buffer, max = b.length): Buffer {
  const n = Math.min(max, b.length);
  if (n === 0) return EMPTY;
  if (b.byteOffset === 0 && n === b.length && b.buffer.byteLength === n) return b;
  const out = Buffer.allocUnsafeSlow(n);
  b.copy(out, 0, 0, n);
  return out;
}
