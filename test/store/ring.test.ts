// The store's bounded ring (src/store/ring.ts) on its own, without events or a fold: flows and
// connections kept in arrival order, the oldest dropped past `maxFlows` or the byte budget
// (whichever of a flow or a connection came first), and the badge counts kept as flows come,
// change badge and go.
import { describe, expect, it } from 'vitest';
import type { ConnInfo, Flow } from '../../src/store/index.ts';
import { OBJECT_BYTES } from '../../src/store/retained.ts';
import { FlowRing } from '../../src/store/ring.ts';

function conn(connId: string): ConnInfo {
  return {
    connId,
    openedAt: '2026-12-05T10:00:00.000Z',
    clientAddress: '127.0.0.1',
    clientPort: 50000,
    hello: null,
    forged: null,
    accepted: null,
    rejected: null,
    tunnel: null,
    upstreamErrors: [],
    wire: null,
    closed: null,
    flowCount: 0,
  };
}

function flow(id: string, c: ConnInfo): Flow {
  return {
    id,
    seq: 0,
    kind: 'http',
    connId: c.connId,
    at: c.openedAt,
    badge: 'HTTP plaintext',
    outcome: 'pending',
    visibility: 'wire',
    host: 'example.test',
    port: 80,
    method: 'GET',
    path: '/',
    url: 'http://example.test/',
    status: null,
    size: null,
    request: null,
    response: null,
    upstreamError: null,
    wsHandshake: null,
    ws: [],
    wsDropped: 0,
    hsts: null,
    conn: c,
  };
}

/** A ring whose connections each weigh `connBytes`. */
function ring(maxFlows: number, maxBytes: number, connBytes = OBJECT_BYTES): FlowRing {
  return new FlowRing(maxFlows, maxBytes, () => connBytes);
}

describe('FlowRing', () => {
  it('drops the oldest flow past maxFlows, and counts it evicted', () => {
    const r = ring(2, 1 << 30);
    const c = conn('c1');
    r.addConn(c);
    for (const id of ['f1', 'f2', 'f3']) r.insert(flow(id, c));
    expect(r.all().map((f) => f.id)).toEqual(['f2', 'f3']);
    expect(r.flow('f1')).toBeUndefined();
    expect(r.size).toBe(2);
    expect(r.evicted).toBe(1);
  });

  it('keeps the badge counts as flows change badge and leave', () => {
    const r = ring(2, 1 << 30);
    const c = conn('c1');
    r.addConn(c);
    const f1 = flow('f1', c);
    r.insert(f1);
    r.insert(flow('f2', c));
    r.setBadge(f1, 'HTTPS decrypted');
    expect(r.counts()['HTTP plaintext']).toBe(1);
    expect(r.counts()['HTTPS decrypted']).toBe(1);
    r.insert(flow('f3', c)); // f1 goes
    expect(r.counts()['HTTPS decrypted']).toBe(0);
    expect(r.counts()['HTTP plaintext']).toBe(2);
    // A flow no longer kept changes badge without touching the counts.
    r.setBadge(f1, 'HTTPS refused');
    expect(r.counts()['HTTPS refused']).toBe(0);
  });

  it('over the byte budget drops whichever of flow or connection arrived first', () => {
    const r = ring(100, 4 * OBJECT_BYTES);
    const old = conn('c-old');
    r.addConn(old); // arrival 1
    const c = conn('c2');
    r.addConn(c); // arrival 2
    r.insert(flow('f1', c)); // arrival 3
    r.insert(flow('f2', c)); // arrival 4: 4 objects counted, at the budget
    expect(r.bytes).toBe(4 * OBJECT_BYTES);
    r.chargeFlow(r.flow('f2')!, 100);
    r.settle(null);
    // The oldest connection went first; it had no flow, so its bytes are released.
    expect(r.conn('c-old')).toBeUndefined();
    expect(r.size).toBe(2);
    expect(r.bytes).toBe(3 * OBJECT_BYTES + 100);
    r.chargeFlow(r.flow('f2')!, OBJECT_BYTES);
    r.settle(null);
    // Then the connection c2 (arrived before its flows): listed no more, but its flows keep it
    // (and its bytes); so the oldest flow goes next.
    expect(r.conn('c2')).toBeUndefined();
    expect(r.all().map((f) => f.id)).toEqual(['f2']);
    expect(r.evicted).toBe(1);
  });

  it('keeps the newest flow even when it alone is over the budget', () => {
    const r = ring(100, OBJECT_BYTES);
    const c = conn('c1');
    r.addConn(c);
    r.insert(flow('f1', c));
    r.chargeFlow(r.flow('f1')!, 10 * OBJECT_BYTES);
    r.settle('c1');
    expect(r.all().map((f) => f.id)).toEqual(['f1']);
  });

  it('clear() forgets flows, connections, counts and bytes', () => {
    const r = ring(10, 1 << 30);
    const c = conn('c1');
    r.addConn(c);
    r.insert(flow('f1', c));
    r.clear();
    expect(r.size).toBe(0);
    expect(r.conn('c1')).toBeUndefined();
    expect(r.bytes).toBe(0);
    expect(r.counts()['HTTP plaintext']).toBe(0);
  });
});
