// Issue 13, item 5: the library's WebSocket server answered the client 101 before it even tried
// the origin, so an origin that is no WebSocket server (or no server at all) still looked like
// one to the client. Now the upstream handshake comes first: the client gets the origin's 101,
// or the origin's own answer (status and body), or 502 with a sentence — never a 101 the origin
// did not give. ws://, ws:// inside a CONNECT, and wss:// intercepted.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/util/ws.ts';
import { makeTestPki, openTunnel, startOrigin, type Origin } from '../integration/helpers.ts';
import { closeServer, freePort, listenLoopback } from '../support/net.ts';
import { tempDir } from '../support/temp-dir.ts';
import { startCliProxy, type CliProxy } from './helpers.ts';

interface Answer {
  status: number;
  body: string;
  /** Messages echoed back, when it opened. */
  echoed?: string;
}

/** Open a WebSocket to `url` through the proxy (CONNECT tunnel; TLS inside for wss). */
async function tryWebSocket(proxy: CliProxy, url: string, caPem: string): Promise<Answer> {
  const u = new URL(url);
  const secure = u.protocol === 'wss:';
  const { socket } = await openTunnel(proxy.port, `${u.hostname}:${u.port}`);
  const ws = new WebSocket(url, {
    createConnection: () =>
      secure ? tls.connect({ socket, servername: u.hostname, ca: [caPem] }) : socket,
  } as never);
  return answerOf(ws);
}

/** What the client got: the echo, the refusal, or (after 3 s) a 101 that led nowhere. */
function answerOf(ws: WebSocket): Promise<Answer> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.send('ping?');
      setTimeout(() => {
        resolve({ status: 101, body: '', echoed: '(nothing: the 101 led nowhere)' });
        ws.terminate();
      }, 3000);
    });
    ws.once('message', (data) => {
      resolve({ status: 101, body: '', echoed: data.toString() });
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    ws.once('error', reject);
  });
}

describe('WebSocket upgrades to origins that are not WebSocket servers (issue 13, item 5)', () => {
  let echo: Origin;
  let plain: http.Server;
  let secure: https.Server;
  let plainPort: number;
  let securePort: number;
  let deadPort: number;
  let proxy: CliProxy;
  let caPem: string;
  const dir = tempDir('mitm-lab-ws5-');

  beforeAll(async () => {
    const pki = makeTestPki();
    echo = await startOrigin(pki.leaf(['echo.test']));
    const handler: http.RequestListener = (req, res) => {
      const status = req.url === '/missing' ? 404 : 200;
      res.writeHead(status, { 'content-type': 'text/plain', 'x-origin': 'plain' });
      res.end(`no websocket here (${status})`);
    };
    plain = http.createServer(handler);
    const leaf = pki.leaf(['plain.test']);
    secure = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, handler);
    plainPort = await listenLoopback(plain);
    securePort = await listenLoopback(secure);
    deadPort = await freePort();
    const root = path.join(dir.dir, 'root.pem');
    writeFileSync(root, pki.rootPem);
    proxy = await startCliProxy([
      '--headless',
      '--mode',
      'intercept',
      '--resolve',
      '*.test=127.0.0.1',
      '--upstream-ca',
      root,
    ]);
    caPem = readFileSync(proxy.caCert, 'utf8');
  });
  afterAll(async () => {
    await proxy?.stop();
    await echo?.close();
    for (const s of [plain, secure]) if (s) await closeServer(s);
    dir.cleanup();
  });

  it('a real WebSocket origin still opens (ws:// and wss://)', async () => {
    expect(await tryWebSocket(proxy, `ws://echo.test:${echo.httpPort}/`, caPem)).toEqual({
      status: 101,
      body: '',
      echoed: 'ping?',
    });
    expect(await tryWebSocket(proxy, `wss://echo.test:${echo.httpsPort}/`, caPem)).toEqual({
      status: 101,
      body: '',
      echoed: 'ping?',
    });
  });

  for (const [scheme, port] of [
    ['ws', () => plainPort],
    ['wss', () => securePort],
  ] as const) {
    it(`${scheme}:// to a plain web server: the client gets its 200 and its body, not 101`, async () => {
      const a = await tryWebSocket(proxy, `${scheme}://plain.test:${port()}/`, caPem);
      expect(a).toEqual({ status: 200, body: 'no websocket here (200)' });
    });

    it(`${scheme}:// to a missing page: the client gets the 404`, async () => {
      const a = await tryWebSocket(proxy, `${scheme}://plain.test:${port()}/missing`, caPem);
      expect(a).toEqual({ status: 404, body: 'no websocket here (404)' });
      const res = await proxy.waitForEvent('http.response', (e) => e.status === 404);
      const req = proxy.events().find((e) => e.type === 'http.request' && e.flowId === res.flowId);
      expect(req).toMatchObject({ path: '/missing' });
    });
  }

  it('ws:// to a port where nothing listens: 502 with a sentence and an upstream.error', async () => {
    const a = await tryWebSocket(proxy, `ws://plain.test:${deadPort}/`, caPem);
    expect(a.status).toBe(502);
    expect(a.body).toMatch(/ECONNREFUSED/);
    await proxy.waitForEvent(
      'upstream.error',
      (e) => e.port === deadPort && e.code === 'ECONNREFUSED' && e.status === 502,
    );
  });

  it('an absolute-form upgrade sent straight to the proxy gets the origin answer too', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: proxy.port,
        path: `http://plain.test:${plainPort}/missing`,
        headers: {
          host: `plain.test:${plainPort}`,
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
        },
      });
      req.once('upgrade', () => resolve('101'));
      req.once('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      });
      req.once('error', reject);
      req.end();
    });
    expect(answer).toBe('404 no websocket here (404)');
    await proxy.expectAlive(echo.httpPort);
  });
});
