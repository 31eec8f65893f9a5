// The relay moves bodies with backpressure both ways (./src/proxy/http-relay.ts): a client that
// stops reading stops the server's sending, a server that stops reading stops the client's
// upload — the proxy never takes a whole body into memory because one side is slow. (The
// library's path before it wrote every chunk on at once: a 64 MiB download to a paused client
// sat whole in the proxy's memory.) And a client that leaves mid-download does not stall the
// server's connection: the rest is read to its end, the exchange is recorded, the next request
// is served.
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listenLoopback } from '../support/net.ts';
import { startTestProxy, type TestProxy } from './helpers.ts';

const MIB = 1024 * 1024;
const TOTAL = 64 * MIB;
/** Far below TOTAL: what socket buffers on loopback and the streams' own buffers can hold. */
const IN_FLIGHT_MAX = 24 * MIB;

let tp: TestProxy;
let server: http.Server;
let port = 0;
/** Bytes the origin has handed to its socket for the current download. */
let sent = 0;
/** Bytes of the current upload the origin has read. */
let received = 0;
let releaseUpload: (() => void) | null = null;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/big') {
      sent = 0;
      const chunk = Buffer.alloc(MIB, 0x61);
      const pump = (): void => {
        while (sent < TOTAL) {
          sent += chunk.length;
          const more = res.write(chunk);
          if (sent >= TOTAL) break;
          if (!more) return void res.once('drain', pump);
        }
        res.end();
      };
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': TOTAL });
      pump();
      return;
    }
    if (req.url === '/upload') {
      received = 0;
      req.pause();
      releaseUpload = () => {
        req.on('data', (c: Buffer) => (received += c.length));
        req.on('end', () => res.end(`got ${received}`));
        req.resume();
      };
      return;
    }
    res.end('small');
  });
  port = await listenLoopback(server);
  tp = await startTestProxy({ resolve: [{ pattern: '*.test', address: '127.0.0.1' }] });
});

afterAll(async () => {
  await tp?.close();
  if (server) await closeServer(server);
});

/** Resolve once `value()` has not changed for `quietMs` (it has stopped moving), or reject. */
async function settled(value: () => number, quietMs = 600, deadlineMs = 20_000): Promise<number> {
  const end = Date.now() + deadlineMs;
  let last = value();
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
    if (Date.now() > end) throw new Error(`still moving after ${deadlineMs} ms (at ${now})`);
  }
}

function connectProxy(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(tp.proxy.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

describe('the relay moves bodies with backpressure', () => {
  it('a client that stops reading stops the server; it gets every byte once it reads again', async () => {
    const s = await connectProxy();
    s.write(`GET http://big.test:${port}/big HTTP/1.1\r\nHost: big.test:${port}\r\n\r\n`);
    let got = 0;
    await new Promise<void>((resolve) =>
      s.once('data', (c: Buffer) => {
        got += c.length;
        s.pause();
        resolve();
      }),
    );
    const stalled = await settled(() => sent);
    expect(stalled, `the origin sent ${stalled} bytes to a paused client`).toBeLessThan(
      IN_FLIGHT_MAX,
    );
    const done = new Promise<void>((resolve) => {
      s.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= TOTAL) resolve();
      });
    });
    s.resume();
    await done;
    const res = await tp.waitFor('http.response', (e) => e.body.size === TOTAL, 20_000);
    expect(res.status).toBe(200);
    expect(res.incomplete).toBeNull();
    expect(got).toBeGreaterThan(TOTAL); // the head, then the whole body
    s.destroy();
  }, 60_000);

  it('a server that stops reading stops the upload; it gets every byte once it reads again', async () => {
    const s = await connectProxy();
    s.write(
      `POST http://big.test:${port}/upload HTTP/1.1\r\nHost: big.test:${port}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${TOTAL}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(MIB, 0x62);
    let written = 0;
    let wroteAll: () => void = () => {};
    const allWritten = new Promise<void>((resolve) => (wroteAll = resolve));
    const pump = (): void => {
      while (written < TOTAL) {
        written += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      wroteAll();
    };
    const answer = new Promise<string>((resolve) => {
      let text = '';
      s.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (text.includes(`got ${TOTAL}`)) resolve(text);
      });
    });
    pump();
    const stalled = await settled(() => written);
    expect(
      stalled,
      `the client could write ${stalled} bytes to a server that reads nothing`,
    ).toBeLessThan(IN_FLIGHT_MAX);
    expect(releaseUpload).not.toBeNull();
    releaseUpload?.();
    await allWritten;
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    expect(received).toBe(TOTAL);
    s.destroy();
  }, 60_000);

  it('a client that leaves mid-download: the rest is read, the exchange recorded, the next request served', async () => {
    const s = await connectProxy();
    s.write(`GET http://gone.test:${port}/big HTTP/1.1\r\nHost: gone.test:${port}\r\n\r\n`);
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    const req = await tp.waitFor('http.request', (e) => e.host === 'gone.test', 20_000);
    const res = await tp.waitFor('http.response', (e) => e.flowId === req.flowId, 20_000);
    expect(res.status).toBe(200);
    expect(res.body.size).toBe(TOTAL);
    expect(sent).toBe(TOTAL);
    const next = await fetchVia(`http://gone.test:${port}/small`);
    expect(next).toBe('small');
  }, 60_000);
});

function fetchVia(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: tp.proxy.port, path: url, headers: { Host: new URL(url).host } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      },
    );
    req.once('error', reject);
  });
}
