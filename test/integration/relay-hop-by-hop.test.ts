// Hop-by-hop headers stay on their own leg (RFC 9110 §7.6.1; ./src/proxy/http-relay.ts). A
// client's `Connection: close` no longer closes the proxy's pooled connection to the server
// (which cost a new upstream handshake per request), a server's `Connection: keep-alive` no
// longer holds open a client that asked to close, and a header the `Connection` header names
// is not passed on.
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listenLoopback } from '../support/net.ts';
import { startTestProxy, type TestProxy } from './helpers.ts';

let tp: TestProxy;
let server: http.Server;
let port = 0;
/** What the origin received: headers and the client port of the connection they came on. */
const seen: { url: string; headers: http.IncomingHttpHeaders; peerPort: number }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers, peerPort: req.socket.remotePort ?? 0 });
    // The server speaks of its own connection: keep it alive, for 5 s.
    res.writeHead(200, {
      'Content-Type': 'text/plain',
      Connection: 'keep-alive, X-Server-Hop',
      'Keep-Alive': 'timeout=5',
      'X-Server-Hop': 'for the proxy only',
    });
    res.end(`hello ${req.url ?? ''}`);
  });
  port = await listenLoopback(server);
  tp = await startTestProxy({ resolve: [{ pattern: '*.test', address: '127.0.0.1' }] });
});

afterAll(async () => {
  await tp?.close();
  if (server) await closeServer(server);
});

/** One request on a new connection to the proxy; resolves with what came back once it closed. */
function oneShot(path: string, extra: string): Promise<{ text: string; closedByProxy: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(tp.proxy.port, '127.0.0.1', () =>
      s.write(
        `GET http://hop.test:${port}${path} HTTP/1.1\r\nHost: hop.test:${port}\r\n${extra}\r\n`,
      ),
    );
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => (text += c));
    s.once('error', reject);
    // The proxy ends the connection itself after the response: the client asked it to.
    s.once('end', () => {
      s.destroy();
      resolve({ text, closedByProxy: true });
    });
  });
}

describe('hop-by-hop headers stay on their leg', () => {
  it("a client's Connection: close ends its own connection, not the pooled one to the server", async () => {
    const first = await oneShot(
      '/one',
      'Connection: close, X-Client-Hop\r\nX-Client-Hop: secret\r\n',
    );
    const second = await oneShot('/two', 'Connection: close\r\n');
    expect(first.text).toMatch(/^HTTP\/1\.1 200/);
    expect(first.text).toContain('hello /one');
    expect(second.text).toContain('hello /two');
    // The client was told, and its connection ended by the proxy.
    expect(first.text.toLowerCase()).toContain('connection: close');
    expect(first.closedByProxy).toBe(true);
    const one = seen.find((r) => r.url === '/one');
    const two = seen.find((r) => r.url === '/two');
    expect(one && two).toBeTruthy();
    // The server saw the proxy's own keep-alive, not the client's close, nor what it named.
    expect(one?.headers.connection).toBe('keep-alive');
    expect(one?.headers['x-client-hop']).toBeUndefined();
    // And the second request came on the same connection, kept in the proxy's pool.
    expect(two?.peerPort).toBe(one?.peerPort);
  });

  it("a server's Connection and Keep-Alive, and what it names, do not reach the client", async () => {
    const { text } = await oneShot('/three', 'Connection: close\r\n');
    const head = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toContain('connection: close');
    expect(head).not.toContain('keep-alive');
    expect(head).not.toContain('x-server-hop');
    expect(head).toContain('content-type: text/plain');
    // The event shows the server's response as it came: its headers, hop-by-hop ones too.
    const req = await tp.waitFor('http.request', (e) => e.path === '/three');
    const res = await tp.waitFor('http.response', (e) => e.flowId === req.flowId);
    expect(res.headers.map(([n]) => n.toLowerCase())).toContain('keep-alive');
  });
});
