// A connection's wire capture as the store keeps it: the live capture grown from `conn.wire`
// deltas while the connection is open (bytes kept in buffers of the store's own, base64 made
// only when a view reads it), the final capture from `conn.close` cut to the store's limits,
// and `wireBuffer`, the bytes of either without a base64 round trip where it can. The fold
// (./fold.ts) calls these; the ring (./ring.ts) counts what they retain.
import type { ConnWireEvent, WireBytes, WireCapture, WireDelta } from '../events/types.ts';
import { ownBase64Prefix } from './retained.ts';

/** The store's limits on a wire capture (FlowStoreOptions' `maxWireChars`, `maxRecords`). */
export interface WireLimits {
  /** Base64 characters kept per direction. */
  maxWireChars: number;
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

/** Bytes a live capture may hold (both directions' buffers and their base64 once read). */
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
  const maxBytes = Math.floor(limits.maxWireChars / 4) * 3;
  let records = prev ? prev.records : [];
  let recordsCut: boolean;
  if (e.recordsFrom === state.recordsSeen) {
    const room = limits.maxRecords - records.length;
    if (e.records.length > 0 && room > 0) records = records.concat(e.records.slice(0, room));
    recordsCut = e.records.length > room;
    state.recordsSeen += e.records.length;
  } else recordsCut = e.records.length > 0 || e.recordsFrom > state.recordsSeen;
  return {
    up: state.up.add(e.up, maxBytes),
    down: state.down.add(e.down, maxBytes),
    records,
    recordsTruncated: e.recordsTruncated || recordsCut || (prev?.recordsTruncated ?? false),
    serverCertificates: e.serverCertificates ?? prev?.serverCertificates ?? null,
    tlsVersion: e.tlsVersion,
    cipherSuite: e.cipherSuite,
    keyExchangeGroup: e.keyExchangeGroup,
  };
}

/** The final capture (`conn.close`) cut to the store's limits. */
export function capWire(wire: WireCapture, limits: WireLimits): WireCapture {
  const records = wire.records.length > limits.maxRecords;
  return {
    ...wire,
    up: capWireBytes(wire.up, limits.maxWireChars),
    down: capWireBytes(wire.down, limits.maxWireChars),
    records: records ? wire.records.slice(0, limits.maxRecords) : wire.records,
    recordsTruncated: wire.recordsTruncated || records,
  };
}

function capWireBytes(b: WireBytes, maxWireChars: number): WireBytes {
  const limit = maxWireChars - (maxWireChars % 4);
  if (b.base64.length <= limit) return b;
  return { base64: ownBase64Prefix(b.base64, limit), size: b.size, truncated: true };
}

/**
 * One direction's live bytes, grown by deltas in O(delta). The kept bytes live in one buffer of
 * the store's own (doubling up to the limit, copied on growth): a delta decoded by Buffer.from
 * is a slice of Node's shared 8 KiB pool when small, and keeping such slices kept whole slabs.
 * The base64 a view reads is materialised only when it is read (a getter on the returned
 * `WireBytes`), once per change, not once per delta: under load a connection gets a delta
 * after every response while the UI reads at most one connection per frame. Once the store's
 * limit is reached a delta is not even decoded (its length gives the byte count).
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
  /** Its base64, once read. */
  private viewBase64: string | null = '';

  add(d: WireDelta, maxBytes: number): WireBytes {
    if (d.offset !== this.received) this.cut = true;
    else if (d.base64.length > 0) {
      const room = Math.max(0, maxBytes - this.kept);
      if (room === 0) {
        // Full: only the count matters, and base64's length gives it without decoding.
        this.received += base64Bytes(d.base64);
        this.cut = true;
      } else {
        const bytes = Buffer.from(d.base64, 'base64');
        this.received += bytes.length;
        const take = Math.min(room, bytes.length);
        if (take < bytes.length) this.cut = true;
        if (take > 0) {
          this.reserve(this.kept + take, maxBytes);
          bytes.copy(this.buf, this.kept, 0, take);
          this.kept += take;
        }
      }
    }
    return new LiveWireBytes(this, this.kept, d.size, d.truncated || this.cut);
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

  /** Bytes this direction may hold: its buffer, and the base64 of what it keeps once read. */
  retained(): number {
    return this.buf.length + Math.ceil(this.kept / 3) * 4;
  }

  /**
   * The first `kept` bytes (what a snapshot made at that length holds). Bytes are only ever
   * appended past `kept`, so an earlier snapshot's prefix never changes.
   */
  bytes(kept: number): Buffer {
    if (kept !== this.kept) return this.buf.subarray(0, kept);
    if (this.view.length !== kept || this.view.buffer !== this.buf.buffer) {
      this.view = this.buf.subarray(0, kept);
      this.viewBase64 = null;
    }
    return this.view;
  }

  base64(kept: number): string {
    const buf = this.bytes(kept);
    if (buf !== this.view) return buf.toString('base64');
    this.viewBase64 ??= buf.toString('base64');
    return this.viewBase64;
  }
}

/**
 * A live capture direction as the store hands it out: `base64` is encoded when first read, not
 * per delta (an object literal with a getter costs more per delta than the whole fold). The
 * getter lives on the prototype: `toJSON` gives the plain `WireBytes` for serialising, and a
 * spread (`{ ...bytes }`) or a deep-equality test must name `base64` explicitly.
 */
class LiveWireBytes implements WireBytes {
  constructor(
    private readonly live: LiveBytes,
    private readonly kept: number,
    /** Total bytes that crossed in this direction. */
    readonly size: number,
    /** True when `size` exceeds what `base64` holds. */
    readonly truncated: boolean,
  ) {}

  get base64(): string {
    return this.live.base64(this.kept);
  }

  /** The kept bytes themselves (no base64 round trip). */
  buffer(): Buffer {
    return this.live.bytes(this.kept);
  }

  toJSON(): WireBytes {
    return { base64: this.base64, size: this.size, truncated: this.truncated };
  }
}

/** Decoded length of a base64 string (padding aware; no decoding). */
function base64Bytes(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - pad;
}

/**
 * The bytes of a capture direction. For the store's live captures this is the kept bytes
 * themselves (no base64 round trip, and the same Buffer while they do not change); any other
 * `WireBytes` is decoded once and remembered (a view redraws the same capture every frame).
 */
export function wireBuffer(b: WireBytes): Buffer {
  if (b instanceof LiveWireBytes) return b.buffer();
  let buf = decoded.get(b);
  if (!buf) {
    buf = Buffer.from(b.base64, 'base64');
    decoded.set(b, buf);
  }
  return buf;
}

/** Captures decoded so far; collected with them. */
const decoded = new WeakMap<WireBytes, Buffer>();
