// The relay on real sockets: a Node HTTP server hands its requests to HttpRelay, which sends
// them to an origin on 127.0.0.1 and back. What is checked here is what the relay's context
// carries for the engine: the request target as the client sent it (the relay rewrites an
// absolute-form `req.url` to origin-form), and the slot where the engine keeps its exchange
// (on the context, not in a WeakMap keyed by it: see RelayContext).
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpRelay, type RelayContext } from '../../src/proxy/http-relay.ts';

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/** Send `head` on a raw socket and read the whole answer (the server closes after it). */
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('HttpRelay', () => {
  const agent = new http.Agent({ keepAlive: false });
  const origin = http.createServer((req, res) => {
    res.setHeader('Connection', 'close');
    res.end(`origin saw ${req.url ?? ''}`);
  });
  const seen: { ctx: RelayContext; urlAtRequest: string | undefined }[] = [];
  const relay = new HttpRelay({
    connectRequestOf: () => undefined,
    agent: () => agent,
    onRequest: (ctx, send) => {
      seen.push({ ctx, urlAtRequest: ctx.clientToProxyRequest.url });
      send();
    },
    onResponse: (_ctx, next) => next(),
    onError: () => {},
  });
  const proxy = http.createServer((req, res) => relay.handle(false, req, res));
  let originPort = 0;
  let proxyPort = 0;

  beforeAll(async () => {
    originPort = await listen(origin);
    proxyPort = await listen(proxy);
  });
  afterAll(async () => {
    agent.destroy();
    proxy.closeAllConnections();
    origin.closeAllConnections();
    await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => origin.close(r))]);
  });

  it('keeps the absolute-form target the client sent while it sends origin-form upstream', async () => {
    const target = `http://127.0.0.1:${originPort}/shop/login?next=%2Fcart`;
    const answer = await rawRequest(
      proxyPort,
      `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('origin saw /shop/login?next=%2Fcart');
    const { ctx, urlAtRequest } = seen.at(-1)!;
    expect(ctx.originalUrl).toBe(target);
    expect(urlAtRequest).toBe('/shop/login?next=%2Fcart');
    // The engine's slot: the relay leaves it to the engine (./http-flows.ts fills it in).
    expect(ctx.exchange).toBeUndefined();
  });

  it('has no original target for a decrypted request (its target is origin-form already)', async () => {
    let decrypted: RelayContext | undefined;
    // Answered by the hook: nothing goes upstream.
    const inner = new HttpRelay({
      connectRequestOf: () => undefined,
      agent: () => agent,
      onRequest: (ctx) => {
        decrypted = ctx;
        ctx.proxyToClientResponse.end('answered by the hook');
      },
      onResponse: (_ctx, next) => next(),
      onError: () => {},
    });
    const tlsLike = http.createServer((req, res) => inner.handle(true, req, res));
    const port = await listen(tlsLike);
    try {
      const answer = await rawRequest(
        port,
        'GET /account HTTP/1.1\r\nHost: bank.test\r\nConnection: close\r\n\r\n',
      );
      expect(answer).toContain('answered by the hook');
      expect(decrypted?.isSSL).toBe(true);
      expect(decrypted?.originalUrl).toBeUndefined();
      expect(decrypted?.clientToProxyRequest.url).toBe('/account');
      expect(decrypted?.proxyToServerRequestOptions).toMatchObject({
        host: 'bank.test',
        port: 443,
      });
    } finally {
      tlsLike.closeAllConnections();
      await new Promise((r) => tlsLike.close(r));
    }
  });
});
