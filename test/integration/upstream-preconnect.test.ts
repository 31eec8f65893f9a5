// The server connection opened ahead (issue 12, item 3: minting off the new host's wait): an
// intercepted CONNECT makes the proxy open its TLS connection to the server at once, while the
// client does its handshake with the proxy, and the first decrypted request goes over that
// connection. One opened for nothing is closed when the client leaves; one that fails leaves
// the request to connect afresh and fail as it always did (the same 502, the same words).
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRECONNECT_MAX, PRECONNECT_WAIT_MS } from '../../src/proxy/upstream.ts';
import { closeServer, freePort, listenLoopback } from '../support/net.ts';
import { makeTestPki, openTunnel, startTestProxy, type TestProxy } from './helpers.ts';

/** An origin for `good.test` that shows which of its connections carried which request. */
interface WatchedOrigin {
  port: number;
  /** TCP connections accepted, in order. */
  connections: net.Socket[];
  /** The TCP connections of completed TLS handshakes, in order. */
  handshakes: net.Socket[];
  /** Requests, with the TCP connection each came on. */
  requests: { url: string; socket: net.Socket }[];
  /** Resolves with `list[i]` once there is one. */
  nth(list: net.Socket[], i: number): Promise<net.Socket>;
  close(): Promise<void>;
}

/** How long the origin's `/slow` takes to answer: longer than the strict proxy's connect limit. */
const SLOW_SERVER_MS = 400;

/** The plain socket under a TLS one. */
const rawOf = (s: net.Socket): net.Socket =>
  (s as unknown as { _parent?: net.Socket })._parent ?? s;

async function startWatchedOrigin(cert: {
  certPem: string;
  keyPem: string;
}): Promise<WatchedOrigin> {
  const connections: net.Socket[] = [];
  const handshakes: net.Socket[] = [];
  const requests: { url: string; socket: net.Socket }[] = [];
  const changed = new Set<() => void>();
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    requests.push({ url: req.url ?? '', socket: rawOf(req.socket) });
    const answer = (): void => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`hello ${req.url ?? ''}`);
    };
    // `/slow`: a server that thinks for a while before it answers.
    if (req.url === '/slow') setTimeout(answer, SLOW_SERVER_MS);
    else answer();
  });
  const note = (list: net.Socket[]) => (s: net.Socket) => {
    list.push(rawOf(s));
    for (const check of [...changed]) check();
  };
  server.on('connection', note(connections));
  server.on('secureConnection', note(handshakes));
  const port = await listenLoopback(server);
  return {
    port,
    connections,
    handshakes,
    requests,
    nth(list, i) {
      return new Promise((resolve) => {
        const check = (): void => {
          const s = list[i];
          if (!s) return;
          changed.delete(check);
          resolve(s);
        };
        changed.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await closeServer(server);
    },
  };
}

/** TLS through an open tunnel trusting the proxy's CA, one request, the whole answer. */
async function getOver(
  socket: net.Socket,
  host: string,
  path: string,
  via: TestProxy = tp,
): Promise<string> {
  const s = tls.connect({ socket, servername: host, ca: [via.ca.certPem] });
  s.on('error', () => undefined);
  await new Promise((r) => s.once('secureConnect', r));
  let reply = '';
  s.on('data', (c: Buffer) => (reply += c.toString()));
  s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  await new Promise((r) => s.once('close', r));
  return reply;
}

const closed = (s: net.Socket): Promise<void> =>
  s.destroyed ? Promise.resolve() : new Promise((r) => s.once('close', () => r()));

let tp: TestProxy;
/** A proxy whose connect limit is shorter than the slow server's thinking time. */
let strict: TestProxy;
let origin: WatchedOrigin;

beforeAll(async () => {
  const pki = makeTestPki();
  origin = await startWatchedOrigin(pki.leaf(['good.test', 'left.test'])); // not other.test
  const opts = {
    mode: 'intercept' as const,
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
  };
  tp = await startTestProxy(opts);
  strict = await startTestProxy({
    ...opts,
    timeouts: { upstreamConnectMs: SLOW_SERVER_MS / 2, upstreamFirstByteMs: 10_000 },
  });
});

afterAll(async () => {
  await tp?.close();
  await strict?.close();
  await origin?.close();
});

describe('the server connection opened ahead', () => {
  it('is bounded in number and in time (written down so a change is deliberate)', () => {
    expect(PRECONNECT_MAX).toBe(64);
    expect(PRECONNECT_WAIT_MS).toBe(10_000);
  });

  it('is opened on the CONNECT alone, and carries the first decrypted request', async () => {
    const connections = origin.connections.length;
    const mark = origin.handshakes.length;
    const { socket } = await openTunnel(tp.proxy.port, `good.test:${origin.port}`);
    // The client has sent nothing but its CONNECT: the proxy's handshake with the server is done.
    const opened = await origin.nth(origin.handshakes, mark);
    const reply = await getOver(socket, 'good.test', '/first');
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply).toContain('hello /first');
    expect(origin.requests.at(-1)).toEqual({ url: '/first', socket: opened });
    expect(origin.connections.length).toBe(connections + 1);
    // Its timings and the server's certificate are shown as for any new connection.
    const req = await tp.waitFor('http.request', (e) => e.path === '/first');
    const res = await tp.waitFor('http.response', (e) => e.flowId === req.flowId);
    expect(res.timings.tlsMs).not.toBeNull();
    expect(res.upstreamCertificate?.subject).toContain('good.test');
    // Its certificate was minted at the CONNECT too, and tls.forged says it was a new one.
    const forged = await tp.waitFor('tls.forged', (e) => e.connId === req.connId);
    expect(forged).toMatchObject({ host: 'good.test', cached: false });
  });

  it('connected before its request came: the connect limit does not cut a slow answer', async () => {
    const mark = origin.handshakes.length;
    const { socket } = await openTunnel(strict.proxy.port, `good.test:${origin.port}`);
    await origin.nth(origin.handshakes, mark);
    // The server thinks longer than the connect limit: not a 504 "no TLS handshake".
    const reply = await getOver(socket, 'good.test', '/slow', strict);
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(strict.of('upstream.error')).toEqual([]);
  });

  it('is closed when the client leaves without a request', async () => {
    // A name no earlier test used: good.test's server connection is kept alive in the pool
    // (the proxy does not pass a client's Connection header on), and a name with an idle
    // pooled connection opens none ahead.
    const mark = origin.handshakes.length;
    const { socket } = await openTunnel(tp.proxy.port, `left.test:${origin.port}`);
    const opened = await origin.nth(origin.handshakes, mark);
    socket.destroy();
    await closed(opened);
    expect(opened.destroyed).toBe(true);
  });

  it('failing (a name the certificate lacks): the request connects afresh and gets the usual 502', async () => {
    const mark = origin.connections.length;
    const { socket } = await openTunnel(tp.proxy.port, `other.test:${origin.port}`);
    // The proxy refuses the server's certificate for other.test on the connection opened ahead.
    const ahead = await origin.nth(origin.connections, mark);
    await closed(ahead);
    const reply = await getOver(socket, 'other.test', '/refused');
    expect(reply).toMatch(/^HTTP\/1\.1 502/);
    expect(reply).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(origin.connections.length).toBe(mark + 2); // the request's own, refused too
    const err = await tp.waitFor('upstream.error', (e) => e.host === 'other.test');
    expect(err).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID', status: 502 });
    expect(origin.requests.some((r) => r.url === '/refused')).toBe(false);
  });

  it('failing (nothing listens): the request gets the usual 502 naming ECONNREFUSED', async () => {
    const port = await freePort();
    const { socket } = await openTunnel(tp.proxy.port, `gone.test:${port}`);
    const reply = await getOver(socket, 'gone.test', '/');
    expect(reply).toMatch(/^HTTP\/1\.1 502/);
    expect(reply).toContain('ECONNREFUSED');
    const err = await tp.waitFor('upstream.error', (e) => e.host === 'gone.test');
    expect(err).toMatchObject({ code: 'ECONNREFUSED', status: 502, port });
  });
});
