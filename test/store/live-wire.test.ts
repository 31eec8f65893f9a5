// The flow store folds `conn.wire` deltas (made by the engine's real WireTap) into the
// connection's live capture: byte for byte what the tap captured, cut at the store's own limit,
// marked cut after a missed delta, and replaced by the final capture at `conn.close`.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import { WireTap } from '../../src/proxy/wire-tap.ts';
import type { WireBytes } from '../../src/events/types.ts';
import { FlowStore } from '../../src/store/index.ts';
import { connWire } from './fixtures.ts';

/** One application_data record (what a TLS connection carries after the handshake). */
function record(payload: number): Buffer {
  return Buffer.concat([
    Buffer.from([0x17, 0x03, 0x03, payload >> 8, payload & 0xff]),
    randomBytes(payload),
  ]);
}

function setup(opts: ConstructorParameters<typeof FlowStore>[0] = {}) {
  const bus = new EventBus();
  const store = new FlowStore(opts);
  bus.on((e) => store.apply(e));
  const tap = new WireTap({ limitBytes: 64 * 1024, tls: false });
  bus.emit({ type: 'conn.open', connId: 'c1', clientAddress: '127.0.0.1', clientPort: 5000 });
  const flush = (): boolean => {
    const d = tap.delta();
    if (d) bus.emit({ type: 'conn.wire', connId: 'c1', ...d });
    return d !== null;
  };
  return { bus, store, tap, flush, wire: () => store.connection('c1')?.wire ?? null };
}

describe('FlowStore: conn.wire', () => {
  it('the folded deltas are exactly what the tap captured, whatever the chunking', () => {
    const { tap, flush, wire } = setup();
    expect(wire()).toBeNull();
    for (let i = 0; i < 300; i++) {
      // Odd sizes on purpose: base64 of the parts is not the base64 of the whole.
      tap.up(randomBytes(1 + ((i * 7) % 23)));
      if (i % 3 === 0) tap.down(randomBytes(1 + ((i * 5) % 17)));
      if (i % 11 === 0) flush();
    }
    flush();
    expect(flush()).toBe(false); // nothing new, no event
    const snap = tap.snapshot();
    expect(wire()?.up).toEqual(snap.up);
    expect(wire()?.down).toEqual(snap.down);
  });

  it('cuts at the store limit and says so; the sizes keep counting', () => {
    const { tap, flush, wire } = setup({ maxWireBytes: 48 });
    const sent = randomBytes(100);
    for (let i = 0; i < 100; i += 10) {
      tap.up(sent.subarray(i, i + 10));
      flush();
    }
    const up = wire()!.up;
    expect(up.bytes).toEqual(sent.subarray(0, 48));
    expect(up.size).toBe(100);
    expect(up.truncated).toBe(true);
  });

  it('records append in order and stop at the store limit', () => {
    const bus = new EventBus();
    const store = new FlowStore({ maxRecords: 3 });
    bus.on((e) => store.apply(e));
    const tap = new WireTap({ limitBytes: 64 * 1024, tls: true });
    for (const n of [10, 20, 30, 40, 50]) {
      tap.down(record(n));
      const d = tap.delta()!;
      bus.emit({ type: 'conn.wire', connId: 'c9', ...d });
    }
    const w = store.connection('c9')!.wire!;
    expect(w.records.map((r) => r.length)).toEqual([10, 20, 30]);
    expect(w.recordsTruncated).toBe(true);
    expect(w.down.size).toBe(5 * 5 + 150);
  });

  it('a missed delta: bytes stay in place (no gap filled with later bytes), marked cut', () => {
    const { bus, tap, flush, wire } = setup();
    tap.up(Buffer.from('CONNECT a.test:443 HTTP/1.1\r\n\r\n'));
    flush();
    tap.up(Buffer.from('lost'));
    tap.delta(); // never reaches the store (e.g. an attach feed that dropped it)
    tap.up(Buffer.from('later'));
    flush();
    const up = wire()!.up;
    expect(up.bytes.toString()).toBe('CONNECT a.test:443 HTTP/1.1\r\n\r\n');
    expect(up.size).toBe(31 + 4 + 5);
    expect(up.truncated).toBe(true);
    // conn.close brings the whole capture, which replaces the live one; nothing after it counts.
    bus.emit({ type: 'conn.close', connId: 'c1', durationMs: 5, wire: tap.snapshot() });
    expect(wire()!.up.bytes.toString()).toBe('CONNECT a.test:443 HTTP/1.1\r\n\r\nlostlater');
    tap.up(Buffer.from('after close'));
    flush();
    expect(wire()!.up.size).toBe(40);
  });

  it('a view subscribed to the store is told about each conn.wire', () => {
    const { store: s, tap, flush } = setup();
    let told = 0;
    s.subscribe(() => told++);
    tap.up(Buffer.from('x'));
    flush();
    expect(told).toBe(1);
  });

  it('every snapshot, kept or read later, is the fold of its deltas up to then', () => {
    // The store appends into one buffer of its own and hands out views of it: a view handed out
    // earlier must not change as later deltas arrive (bytes are only appended past it).
    const limit = 300;
    const { tap, flush, wire } = setup({ maxWireBytes: limit });
    const sent: Buffer[] = [];
    const snapshots: Array<{ w: WireBytes; expected: Buffer; size: number }> = [];
    for (let i = 0; i < 80; i++) {
      const chunk = randomBytes(1 + ((i * 5) % 13));
      sent.push(chunk);
      tap.up(chunk);
      flush();
      const all = Buffer.concat(sent);
      snapshots.push({ w: wire()!.up, expected: all.subarray(0, limit), size: all.length });
    }
    for (const { w, expected, size } of snapshots) {
      expect(w.bytes).toEqual(expected);
      expect(w.size).toBe(size);
      expect(w.truncated).toBe(size > limit);
    }
    // Past the limit the bytes stop changing: the view gets the same Buffer back (its cache key).
    const last = wire()!.up;
    tap.up(randomBytes(7));
    flush();
    expect(wire()!.up.bytes).toBe(last.bytes);
    expect(wire()!.up.size).toBe(last.size + 7);
  });

  it("keeps a copy of each delta's bytes, not the event's buffer", () => {
    const bus = new EventBus();
    const store = new FlowStore();
    bus.on((e) => store.apply(e));
    const sent = randomBytes(50);
    const bytes = Buffer.from(sent);
    bus.emit(
      connWire(
        'c1',
        { offset: 0, bytes, size: 50, truncated: false },
        { offset: 0, bytes: Buffer.alloc(0), size: 0, truncated: false },
      ),
    );
    bytes.fill(0); // the sender reuses its buffer
    expect(store.connection('c1')?.wire?.up.bytes).toEqual(sent);
  });
});
