// Child process of store-memory.test.ts, run with --expose-gc: folds the events of many
// connections, each with a large wire capture and body, into a FlowStore the way a live proxy
// with the terminal UI does (enqueue; a read every few connections, like a frame), then prints
// what the heap holds after full collections, as one JSON line.
//
// CONNS connections (default 4500), each a response of BODY_BYTES (default 80 KiB). MODE=closed
// (default): every connection closes (conn.close carries the engine's whole 64 KiB capture).
// MODE=open: keep-alive connections that stay open, their capture growing by small deltas.
import { randomBytes } from 'node:crypto';
import { EventBus } from '../../src/events/bus.ts';
import type { WireDelta } from '../../src/events/types.ts';
import { FlowStore } from '../../src/store/index.ts';
import { connWire } from '../store/fixtures.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run me with --expose-gc');

const conns = Number(process.env['CONNS'] ?? 4500);
const bodyBytes = Number(process.env['BODY_BYTES'] ?? 80 * 1024);
const open = process.env['MODE'] === 'open';
/** The engine's default wire capture limit (src/proxy/options.ts). */
const ENGINE_WIRE = 64 * 1024;
/** Delta size in open mode: small, as a live connection's 500 ms deltas often are. */
const SMALL_DELTA = 1500;

function heap(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

const before = heap();
const store = new FlowStore();
const bus = new EventBus();
bus.on((e) => store.enqueue(e));

const delta = (offset: number, bytes: Buffer, size: number): WireDelta => ({
  offset,
  // A copy, as the engine's capture hands out: the store must keep its own.
  bytes: Buffer.from(bytes),
  size,
  truncated: size > ENGINE_WIRE,
});
const wireEvent = connWire;

for (let i = 0; i < conns; i++) {
  const connId = `c${i}`;
  const flowId = `f${i}`;
  // Fresh strings for every connection, as the engine makes them.
  const body = randomBytes((bodyBytes * 3) / 4).toString('base64');
  const up = Buffer.from(`GET http://big.test/${i} HTTP/1.1\r\nHost: big.test\r\n\r\n`, 'latin1');
  const resHead = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`;
  const down = Buffer.from(resHead + body, 'latin1');
  const kept = down.subarray(0, ENGINE_WIRE);
  const port = 40000 + (i % 20000);
  bus.emit({ type: 'conn.open', connId, clientAddress: '127.0.0.1', clientPort: port });
  bus.emit({
    type: 'http.request',
    connId,
    flowId,
    scheme: 'http',
    method: 'GET',
    url: `http://big.test/${i}`,
    host: 'big.test',
    path: `/${i}`,
    httpVersion: '1.1',
    headers: [['Host', 'big.test']],
    body: { text: '', size: 0, truncated: false },
    visibility: 'wire',
  });
  const none = (at: number) => delta(at, Buffer.alloc(0), at);
  if (open) {
    bus.emit(wireEvent(connId, delta(0, up, up.length), none(0)));
    for (let at = 0; at < kept.length; at += SMALL_DELTA) {
      const part = kept.subarray(at, at + SMALL_DELTA);
      bus.emit(wireEvent(connId, none(up.length), delta(at, part, at + part.length)));
    }
  } else {
    const half = 32 * 1024;
    bus.emit(wireEvent(connId, delta(0, up, up.length), delta(0, kept.subarray(0, half), half)));
    bus.emit(wireEvent(connId, none(up.length), delta(half, kept.subarray(half), down.length)));
  }
  bus.emit({
    type: 'http.response',
    connId,
    flowId,
    status: 200,
    statusMessage: 'OK',
    httpVersion: '1.1',
    headers: [['Content-Length', String(body.length)]],
    body: { text: body, size: body.length, truncated: false },
    visibility: 'wire',
    timings: { dnsMs: null, connectMs: null, tlsMs: null, ttfbMs: 1, totalMs: 2 },
    upstreamCertificate: null,
    upstreamProtocol: null,
    upstreamCipher: null,
  });
  if (!open) {
    bus.emit({
      type: 'conn.close',
      connId,
      durationMs: 5,
      wire: {
        up: { bytes: Buffer.from(up), size: up.length, truncated: false },
        down: { bytes: Buffer.from(kept), size: down.length, truncated: true },
        records: [],
        recordsTruncated: false,
        serverCertificates: null,
        tlsVersion: null,
      },
    });
  }
  // A frame every 20 connections: the UI reads the newest flow and its wire.
  if (i % 20 === 19) void store.get(flowId)?.conn.wire?.down.bytes.length;
}
const flows = store.size;
const after = heap();
const s = store as unknown as { bytes?: number; maxBytes?: number };
process.stdout.write(
  `${JSON.stringify({
    conns,
    flows,
    evicted: store.evicted,
    growth: after - before,
    accounted: s.bytes ?? null,
    budget: s.maxBytes ?? null,
  })}\n`,
);
