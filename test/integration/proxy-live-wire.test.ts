// The wire of a connection that stays open: `conn.wire` deltas arrive while a keep-alive
// client holds its connection, the flow store folds them into `ConnInfo.wire`, and what it
// built is exactly the start of the final capture `conn.close` carries. Throttled: at most one
// per 500 ms per connection, only when something new crossed (plus one within 50 ms of a
// response, several responses of those 50 ms in one).
import http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnWireEvent, WireCapture } from '../../src/events/types.ts';
import { FlowStore } from '../../src/store/index.ts';
import { EXCHANGE_WIRE_MS } from '../../src/proxy/live-wire.ts';
import {
  makeTestPki,
  openTunnel,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from './helpers.ts';

let origin: Origin;
let tp: TestProxy;
let rootPem: string;
const store = new FlowStore();

beforeAll(async () => {
  const pki = makeTestPki();
  rootPem = pki.rootPem;
  origin = await startOrigin(pki.leaf(['live.test', 'tunnel.test']));
  tp = await startTestProxy({
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
  });
  tp.bus.on((e) => store.apply(e));
});

afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

/** A keep-alive HTTP client over one given socket (every request reuses it). */
function clientOver(socket: net.Socket, host: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let used = false;
  agent.createConnection = () => {
    if (used) throw new Error('the kept-alive connection was lost');
    used = true;
    return socket;
  };
  return {
    get(path: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const req = http.get({ agent, host, path, headers: { host } }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
      });
    },
  };
}

/** The live capture must be the start of the final one, byte for byte and record for record. */
function expectPrefixOf(live: WireCapture, final: WireCapture): void {
  expect(final.up.bytes.subarray(0, live.up.bytes.length)).toEqual(live.up.bytes);
  expect(final.down.bytes.subarray(0, live.down.bytes.length)).toEqual(live.down.bytes);
  expect(final.records.slice(0, live.records.length)).toEqual(live.records);
}

/**
 * A plain-HTTP client that keeps one connection to the proxy at `proxyPort` and GETs paths of
 * `host` on the origin through it (absolute-form): the body of each.
 */
function keepAliveClient(proxyPort: number, host: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const target = `http://${host}:${origin.httpPort}${path}`;
      http
        .get({ host: '127.0.0.1', port: proxyPort, path: target, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
  return { agent, get };
}

describe('conn.wire: the wire of a connection that stays open', () => {
  it('intercepted HTTPS keep-alive: the store shows the wire before the connection closes', async () => {
    const { socket } = await openTunnel(tp.proxy.port, `live.test:${origin.httpsPort}`);
    const secure = tls.connect({ socket, servername: 'live.test', ca: [tp.ca.certPem] });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    const client = clientOver(secure, 'live.test');
    try {
      expect(await client.get('/one')).toBe('hello GET /one body=');
      const first = await tp.waitFor('http.request', (e) => e.url.endsWith('/one'));
      const connId = first.connId;
      // Right after the response: a conn.wire for this connection, while it is open.
      await tp.waitFor('conn.wire', (e) => e.connId === connId);
      expect(await client.get('/two')).toBe('hello GET /two body=');
      // The response records reach the client a moment after http.response: wait (by events)
      // until the store's live capture holds application data both ways and both requests.
      const live = (): WireCapture | null => store.connection(connId)?.wire ?? null;
      await tp.waitFor('conn.wire', () => {
        const w = live();
        return (
          !!w &&
          tp.of('http.response').filter((r) => r.connId === connId).length === 2 &&
          w.records.filter((r) => r.contentType === 'application_data' && r.dir === 'down')
            .length >= 2
        );
      });
      const conn = store.connection(connId)!;
      expect(conn.closed).toBeNull();
      expect(tp.of('conn.close').some((e) => e.connId === connId)).toBe(false);
      const w = conn.wire!;
      expect(w.up.bytes.toString('latin1')).toMatch(/^CONNECT live\.test:\d+ HTTP\/1\.1/);
      expect(w.records[0]).toMatchObject({ dir: 'up', handshake: ['ClientHello'] });
      expect(w.tlsVersion).toBe('TLS 1.3');
      expect(w.cipherSuite).toMatch(/^TLS_/);
      expect(w.keyExchangeGroup).not.toBeNull();
      expect(w.up.size).toBeGreaterThan(0);
      // Never a byte twice: each delta starts where the previous one ended.
      const deltas = tp.of('conn.wire').filter((e) => e.connId === connId);
      let up = 0;
      let recs = 0;
      for (const d of deltas) {
        expect(d.up.offset).toBe(up);
        expect(d.recordsFrom).toBe(recs);
        up += d.up.bytes.length;
        recs += d.records.length;
      }

      secure.end();
      const close = await tp.waitFor('conn.close', (e) => e.connId === connId);
      expectPrefixOf(w, close.wire);
      expect(store.connection(connId)?.wire).toEqual(store.connection(connId)?.closed?.wire);
      // Nothing follows conn.close.
      const mine = tp.events.filter((e) => e.connId === connId);
      expect(mine.at(-1)?.type).toBe('conn.close');
    } finally {
      secure.destroy();
    }
  });

  it('plain HTTP keep-alive: both requests and responses readable on the live wire', async () => {
    const { agent, get } = keepAliveClient(tp.proxy.port, 'plain.localhost');
    try {
      expect(await get('/a')).toBe('hello GET /a body=');
      expect(await get('/b')).toBe('hello GET /b body=');
      const reqs = tp.of('http.request').filter((e) => e.host === 'plain.localhost');
      expect(reqs.map((e) => e.connId)).toEqual([reqs[0]!.connId, reqs[0]!.connId]);
      const connId = reqs[0]!.connId;
      const text = (b: Buffer | undefined): string => (b ?? Buffer.alloc(0)).toString('latin1');
      // The deltas of this connection so far hold the second response (the store, which folds
      // the same events, is checked below: a waiter may run before the store's listener).
      await tp.waitFor('conn.wire', () =>
        text(
          Buffer.concat(
            tp
              .of('conn.wire')
              .filter((e) => e.connId === connId)
              .map((e) => e.down.bytes),
          ),
        ).includes('hello GET /b body='),
      );
      const conn = store.connection(connId)!;
      expect(text(conn.wire?.down.bytes)).toContain('hello GET /b body=');
      expect(conn.closed).toBeNull();
      const up = text(conn.wire?.up.bytes);
      expect(up).toContain(`GET http://plain.localhost:${origin.httpPort}/a HTTP/1.1`);
      expect(up).toContain(`GET http://plain.localhost:${origin.httpPort}/b HTTP/1.1`);
      expect(conn.wire?.records).toEqual([]);
      expect(conn.wire?.cipherSuite).toBeNull();
    } finally {
      agent.destroy();
    }
  });

  it('a full capture: responses on a long keep-alive connection no longer bring a conn.wire each', async () => {
    // A proxy whose capture holds 512 bytes per direction: full after two or three exchanges.
    // From then on a response adds only counts, which the throttled conn.wire (500 ms) carries.
    const small = await startTestProxy({ captureLimitBytes: 512 });
    const { agent, get } = keepAliveClient(small.proxy.port, 'full.localhost');
    try {
      const started = Date.now();
      for (let i = 0; i < 40; i++) expect(await get(`/r${i}`)).toBe(`hello GET /r${i} body=`);
      const elapsedMs = Date.now() - started;
      const reqs = small.of('http.request');
      expect(new Set(reqs.map((e) => e.connId)).size).toBe(1);
      const connId = reqs[0]!.connId;
      const wires = small.of('conn.wire').filter((e) => e.connId === connId);
      // One per response while the capture grew (a few), then at most one per 500 ms — not 40.
      expect(wires.length).toBeLessThanOrEqual(4 + Math.ceil(elapsedMs / 500) + 1);
      expect(wires.length).toBeLessThan(40);
      // The counts still go out with the throttled one: every request line counted.
      const total = reqs.reduce((n, e) => n + e.url.length, 0);
      const counted = await small.waitFor(
        'conn.wire',
        (e) => e.connId === connId && e.up.size > total,
        3000,
      );
      expect(counted.up.truncated).toBe(true);
    } finally {
      agent.destroy();
      await small.close();
    }
  });

  it('back-to-back exchanges: one conn.wire per 50 ms carries several, and every byte arrives', async () => {
    // The capture (64 KiB) holds all 40 exchanges, so each response adds something new; under
    // load they go out together, at most one conn.wire per EXCHANGE_WIRE_MS.
    const { agent, get } = keepAliveClient(tp.proxy.port, 'burst.localhost');
    try {
      const started = Date.now();
      for (let i = 0; i < 40; i++) expect(await get(`/b${i}`)).toBe(`hello GET /b${i} body=`);
      const elapsedMs = Date.now() - started;
      const reqs = tp.of('http.request').filter((e) => e.host === 'burst.localhost');
      expect(new Set(reqs.map((e) => e.connId)).size).toBe(1);
      const connId = reqs[0]!.connId;
      const downOf = (): string =>
        Buffer.concat(
          tp
            .of('conn.wire')
            .filter((e) => e.connId === connId)
            .map((e) => e.down.bytes),
        ).toString('latin1');
      // The last exchange arrives within 50 ms of its response, on the open connection.
      await tp.waitFor('conn.wire', () => downOf().includes('hello GET /b39 body='));
      for (let i = 0; i < 40; i++) expect(downOf()).toContain(`hello GET /b${i} body=`);
      const wires = tp.of('conn.wire').filter((e) => e.connId === connId);
      expect(wires.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / EXCHANGE_WIRE_MS) + 2);
      // Each starts where the previous one ended: nothing sent twice, nothing skipped.
      let down = 0;
      for (const w of wires) {
        expect(w.down.offset).toBe(down);
        down += w.down.bytes.length;
      }
    } finally {
      agent.destroy();
    }
  });

  it('a tunnel kept busy: at most one conn.wire per 500 ms, each with something new', async () => {
    tp.proxy.controls.setMode('eavesdrop');
    const { socket } = await openTunnel(tp.proxy.port, `tunnel.test:${origin.httpsPort}`);
    const secure = tls.connect({ socket, servername: 'tunnel.test', ca: [rootPem] });
    try {
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
    } finally {
      tp.proxy.controls.setMode('auto');
    }
    const client = clientOver(secure, 'tunnel.test');
    try {
      const hello = await tp.waitFor('tls.client-hello', (e) => e.host === 'tunnel.test');
      const connId = hello.connId;
      const mine = (): ConnWireEvent[] => tp.of('conn.wire').filter((e) => e.connId === connId);
      // Keep the tunnel busy (a request every 20 ms) until three conn.wire events came.
      for (let i = 0; i < 400 && mine().length < 3; i++) {
        expect(await client.get(`/r${i}`)).toBe(`hello GET /r${i} body=`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const deltas = mine();
      expect(deltas.length).toBeGreaterThanOrEqual(3);
      // No http.response in a tunnel: every conn.wire here came from the throttle.
      expect(tp.of('http.response').some((e) => e.connId === connId)).toBe(false);
      for (let i = 1; i < deltas.length; i++) {
        const gap = Date.parse(deltas[i]!.at) - Date.parse(deltas[i - 1]!.at);
        expect(gap, `gap between conn.wire ${i - 1} and ${i}`).toBeGreaterThanOrEqual(480);
      }
      for (const d of deltas) {
        const grew = d.up.bytes.length + d.down.bytes.length + d.records.length;
        expect(grew, 'a conn.wire with nothing new').toBeGreaterThan(0);
      }
      const live = store.connection(connId)!.wire!;
      expect(
        live.records.some((r) => r.dir === 'down' && r.contentType === 'application_data'),
      ).toBe(true);
      expect(live.cipherSuite).toMatch(/^TLS_/);

      // Quiet connection: no more conn.wire while nothing crosses.
      const before = mine().length;
      await new Promise((r) => setTimeout(r, 1200));
      const quiet = mine().slice(before);
      expect(quiet.length).toBeLessThanOrEqual(1); // the last requests' leftovers, once

      secure.end();
      const close = await tp.waitFor('conn.close', (e) => e.connId === connId);
      expectPrefixOf(live, close.wire);
    } finally {
      secure.destroy();
    }
  });
});
