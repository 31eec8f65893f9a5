// Issue 13, item 6: no upstream timeout. An origin that accepts and never answers (HTTP, HTTPS,
// or a silent TLS peer), an address that never connects, or an absolute URL with port 99999
// left the client waiting for good, with no answer and no upstream.error. Now each stage has a
// limit (src/proxy/timeouts.ts), injected short here: 504 with a sentence and an
// upstream.error (400 for the invalid port), and a body that stalls mid-way is cut.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/util/ws.ts';
import {
  curl,
  makeTestPki,
  openTunnel,
  rawExchange,
  startTestProxy,
  type TestProxy,
} from '../integration/helpers.ts';
import { closeServer, listenLoopback, trackSockets } from '../support/net.ts';
import { blackholePort } from './helpers.ts';

const LIMIT_MS = 800;

/** A server that takes connections (and TLS, with `tlsCert`), reads, and never answers. */
async function silentServer(
  opts: { tlsCert?: { certPem: string; keyPem: string }; halfBody?: boolean } = {},
) {
  const onSocket = (s: net.Socket): void => {
    s.on('error', () => undefined);
    if (opts.halfBody) {
      s.once('data', () =>
        s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 50\r\n\r\nhalf '),
      );
    }
  };
  const server = opts.tlsCert
    ? tls.createServer({ cert: opts.tlsCert.certPem, key: opts.tlsCert.keyPem }, onSocket)
    : net.createServer(onSocket);
  const sockets = trackSockets(server);
  const port = await listenLoopback(server);
  return { port, close: () => closeServer(server, sockets) };
}

describe('upstream time limits (issue 13, item 6)', () => {
  let tp: TestProxy;
  let plain: Awaited<ReturnType<typeof silentServer>>;
  let secure: Awaited<ReturnType<typeof silentServer>>;
  let tlsSilent: Awaited<ReturnType<typeof silentServer>>;
  let half: Awaited<ReturnType<typeof silentServer>>;
  let hole: Awaited<ReturnType<typeof blackholePort>>;

  beforeAll(async () => {
    const pki = makeTestPki();
    plain = await silentServer();
    secure = await silentServer({ tlsCert: pki.leaf(['silent.test']) });
    tlsSilent = await silentServer();
    half = await silentServer({ halfBody: true });
    hole = await blackholePort();
    tp = await startTestProxy({
      upstreamCa: [pki.rootPem],
      resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
      timeouts: {
        upstreamConnectMs: LIMIT_MS,
        upstreamFirstByteMs: LIMIT_MS,
        upstreamIdleMs: LIMIT_MS,
      },
    });
  });
  afterAll(async () => {
    await tp?.close();
    for (const s of [plain, secure, tlsSilent, half]) await s?.close();
    hole?.close();
  });

  /** curl through the proxy: `\n<status>` appended; bounded at 10 s (far above the limits). */
  const get = (url: string, extra: string[] = []) =>
    curl(['-w', '\n%{http_code}', '-x', tp.proxy.url, ...extra, url]);

  it('an HTTP server that accepts and never answers: 504 and an upstream.error', async () => {
    const started = Date.now();
    const r = await get(`http://silent.localhost:${plain.port}/`);
    expect(r.stdout).toMatch(/sent no response within 800 ms[\s\S]*\n504$/);
    expect(Date.now() - started).toBeLessThan(5000);
    await tp.waitFor(
      'upstream.error',
      (e) => e.port === plain.port && e.code === 'UPSTREAM_FIRST_BYTE_TIMEOUT' && e.status === 504,
    );
  });

  it('an HTTPS server that completes TLS and never answers: 504', async () => {
    const r = await get(`https://silent.test:${secure.port}/`, ['--cacert', tp.ca.certPath]);
    expect(r.stdout).toMatch(/sent no response within[\s\S]*\n504$/);
    await tp.waitFor(
      'upstream.error',
      (e) => e.port === secure.port && e.code === 'UPSTREAM_FIRST_BYTE_TIMEOUT',
    );
  });

  it('a silent TLS peer (takes the connection, never a ServerHello): 504', async () => {
    const r = await get(`https://mute.test:${tlsSilent.port}/`, ['--cacert', tp.ca.certPath]);
    expect(r.stdout).toMatch(/did not complete a TLS handshake within[\s\S]*\n504$/);
    await tp.waitFor(
      'upstream.error',
      (e) => e.port === tlsSilent.port && e.code === 'ETIMEDOUT' && e.status === 504,
    );
  });

  it('an address that never connects: 504 (HTTP), and a tunnel gives up too', async () => {
    const r = await get(`http://hole.localhost:${hole.port}/`);
    expect(r.stdout).toMatch(/no connection to .* within 800 ms[\s\S]*\n504$/);
    await tp.waitFor('upstream.error', (e) => e.port === hole.port && e.flowId !== null);
    // Not TLS inside the CONNECT, nothing from the client: tunnelled after the ClientHello wait
    // — here the tunnel's own connect is what must give up.
    const eaves = await startTestProxy({
      mode: 'eavesdrop',
      timeouts: { upstreamConnectMs: LIMIT_MS },
    });
    try {
      const { socket } = await openTunnel(eaves.proxy.port, `127.0.0.1:${hole.port}`);
      socket.on('error', () => undefined);
      socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0]));
      await eaves.waitFor('upstream.error', (e) => e.code === 'ETIMEDOUT' && e.flowId === null);
      await new Promise<void>((resolve) =>
        socket.destroyed ? resolve() : socket.once('close', () => resolve()),
      );
    } finally {
      await eaves.close();
    }
  });

  it('port 99999 in an absolute URL: 400 at once', async () => {
    // curl refuses such a URL itself: a raw request, as a hand-written client sends it.
    const r = await rawExchange(
      tp.proxy.port,
      'GET http://127.0.0.1:99999/ HTTP/1.1\r\nHost: 127.0.0.1:99999\r\n\r\n',
    );
    expect(r.reply).toMatch(/^HTTP\/1\.1 400 [\s\S]*outside 1-65535/);
  });

  it('a body that stalls mid-way is cut for the client and recorded', async () => {
    const r = await get(`http://half.localhost:${half.port}/`);
    expect(r.code).not.toBe(0);
    const res = await tp.waitFor('http.response', (e) =>
      tp.of('http.request').some((q) => q.flowId === e.flowId && q.host === 'half.localhost'),
    );
    expect(res.incomplete?.code).toBe('UPSTREAM_IDLE_TIMEOUT');
    await tp.waitFor(
      'upstream.error',
      (e) => e.flowId === res.flowId && e.code === 'UPSTREAM_IDLE_TIMEOUT',
    );
  });

  it('a WebSocket upgrade to a server that never answers: 504', async () => {
    const { socket } = await openTunnel(tp.proxy.port, `ws.test:${plain.port}`);
    const ws = new WebSocket(`ws://ws.test:${plain.port}/`, {
      createConnection: () => socket,
    } as never);
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res: http.IncomingMessage) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', reject);
    });
    expect(status).toBe(504);
    await tp.waitFor('upstream.error', (e) => e.port === plain.port && e.code === 'ETIMEDOUT');
  });
});
