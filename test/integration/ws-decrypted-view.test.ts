// The Decrypted view of a real WebSocket through the proxy shows two handshakes, one per leg:
// the client's with the proxy and the proxy's with the server, each with its own
// Sec-WebSocket-Key and the Accept computed from that key (RFC 6455 §4.2.2). A real Node ws
// client (which records the key it sent and the Accept it got) and a real ws origin (which
// records the key it received and the Accept it sent) say what crossed on each leg; the view
// must pair them the same way. ws:// and wss:// (intercepted, the client trusts the proxy CA).
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowStore } from '../../src/store/index.ts';
import { stripTags } from '../../src/ui/text.ts';
import { decryptedView } from '../../src/ui/views/decrypted.ts';
import { WebSocket, WebSocketServer } from '../../src/util/ws.ts';
import { makeTestPki, openTunnel, startTestProxy, type TestProxy } from './helpers.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const acceptOf = (key: string): string =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

/** One handshake as one end saw it. */
interface Seen {
  key: string;
  accept: string;
}

let tp: TestProxy;
let plain: http.Server;
let secure: https.Server;
let rootPem: string;
/** What the origin saw, by the path the client asked for (one path per test). */
const atOrigin = new Map<string, Seen>();

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

beforeAll(async () => {
  const pki = makeTestPki();
  rootPem = pki.rootPem;
  const leaf = pki.leaf(['chat.test']);
  plain = http.createServer();
  secure = https.createServer({ cert: leaf.certPem, key: leaf.keyPem });
  for (const server of [plain, secure]) {
    const wss = new WebSocketServer({ server });
    // The origin's 101, as it is about to write it: the key it received, the Accept it sends.
    wss.on('headers', (lines: string[], req: http.IncomingMessage) => {
      const accept = lines.find((l) => /^sec-websocket-accept:/i.test(l))!.split(': ')[1]!;
      atOrigin.set(req.url ?? '', { key: String(req.headers['sec-websocket-key']), accept });
    });
    wss.on('connection', (ws) =>
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })),
    );
  }
  await Promise.all([listen(plain), listen(secure)]);
  tp = await startTestProxy({
    upstreamCa: [rootPem],
    resolve: [{ pattern: 'chat.test', address: '127.0.0.1' }],
  });
});

afterAll(async () => {
  await tp?.close();
  for (const s of [plain, secure]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});

/** A real ws client through a CONNECT tunnel: one message, its echo; what the client saw. */
async function chat(scheme: 'ws' | 'wss', path: string, text: string): Promise<Seen> {
  const port = ((scheme === 'ws' ? plain : secure).address() as net.AddressInfo).port;
  const { socket } = await openTunnel(tp.proxy.port, `chat.test:${port}`);
  let key = '';
  let accept = '';
  const ws = new WebSocket(`${scheme}://chat.test:${port}${path}`, {
    createConnection: () =>
      scheme === 'wss'
        ? tls.connect({ socket, servername: 'chat.test', ca: [tp.ca.certPem] })
        : socket,
    // ws's public hook on the request it is about to send: the key this client chose.
    finishRequest: (req: http.ClientRequest) => {
      key = String(req.getHeader('sec-websocket-key'));
      req.end();
    },
  } as never);
  ws.on('upgrade', (res: http.IncomingMessage) => {
    accept = String(res.headers['sec-websocket-accept']);
  });
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send(text));
    ws.on('message', () => ws.close());
    ws.on('close', () => resolve());
    ws.on('error', reject);
  });
  return { key, accept };
}

/** The Decrypted view of the flow that carried `text`, as plain text, split at "Leg 2". */
async function legsOf(text: string): Promise<{ all: string; leg1: string; leg2: string }> {
  const msg = await tp.waitFor('ws.message', (e) => e.preview === text);
  await tp.waitFor('ws.handshake', (e) => e.flowId === msg.flowId);
  const store = new FlowStore();
  for (const e of tp.events) store.apply(e);
  const flow = store.get(msg.flowId)!;
  const all = decryptedView(flow, { redact: true, width: 140 }).map(stripTags).join('\n');
  const at1 = all.indexOf('Leg 1: client <-> proxy');
  const at2 = all.indexOf('Leg 2: proxy <-> server');
  expect(at1, all).toBeGreaterThan(0);
  expect(at2, all).toBeGreaterThan(at1);
  const end = all.indexOf('WebSocket messages', at2);
  return { all, leg1: all.slice(at1, at2), leg2: all.slice(at2, end < 0 ? undefined : end) };
}

/** Each leg shows its own key and its own Accept, and both match what the two ends saw. */
function expectTwoHandshakes(
  view: { all: string; leg1: string; leg2: string },
  client: Seen,
  origin: Seen,
): void {
  // The fact being taught: two keys, because two handshakes.
  expect(client.key).not.toBe(origin.key);
  expect(client.accept).toBe(acceptOf(client.key));
  expect(origin.accept).toBe(acceptOf(origin.key));
  expect(view.all).toContain('The two keys differ: two separate handshakes, not one relayed.');
  expect(view.all).toContain('a server to the client and a client to the server');

  expect(view.leg1).toContain(`Sec-WebSocket-Key: ${client.key}`);
  expect(view.leg1).toContain(`Sec-WebSocket-Accept: ${client.accept}`);
  expect(view.leg1).toContain(`= ${client.accept}: matches this leg's key`);
  expect(view.leg1).not.toContain(origin.key);
  expect(view.leg1).not.toContain(origin.accept);

  expect(view.leg2).toMatch(new RegExp(`Sec-WebSocket-Key: ${escapeRe(origin.key)}`, 'i'));
  expect(view.leg2).toMatch(new RegExp(`Sec-WebSocket-Accept: ${escapeRe(origin.accept)}`, 'i'));
  expect(view.leg2).toContain(`= ${origin.accept}: matches this leg's key`);
  expect(view.leg2).not.toContain(client.key);
  expect(view.leg2).not.toContain(client.accept);
  expect(view.all).not.toContain('does NOT match');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

describe('the Decrypted view of a WebSocket', () => {
  it('ws://: the client leg with the client key, the server leg with the proxy key', async () => {
    const client = await chat('ws', '/plain-chat', 'hello over ws');
    const view = await legsOf('hello over ws');
    expectTwoHandshakes(view, client, atOrigin.get('/plain-chat')!);
    expect(view.all).toContain('plain HTTP: this was never encrypted');
    expect(view.leg1).toMatch(
      /GET ws:\/\/chat\.test:\d+\/plain-chat HTTP\/1\.1 {2}\(the client's request\)/,
    );
    expect(view.leg2).toContain("GET /plain-chat HTTP/1.1  (the proxy's own request)");
    expect(view.leg2).toContain("101 Switching Protocols HTTP/1.1  (the server's answer)");
    expect(view.all).toMatch(
      /WebSocket messages \(2\)\n {2}-> hello over ws\n {2}<- hello over ws/,
    );
  });

  it('wss:// intercepted: the same two handshakes, read by the proxy inside TLS', async () => {
    const client = await chat('wss', '/secure-chat', 'hello over wss');
    const view = await legsOf('hello over wss');
    expectTwoHandshakes(view, client, atOrigin.get('/secure-chat')!);
    expect(view.all).toContain('HTTPS, decrypted by the proxy');
    expect(view.leg1).toMatch(/GET wss:\/\/chat\.test:\d+\/secure-chat HTTP\/1\.1/);
    expect(view.leg2).toContain("GET /secure-chat HTTP/1.1  (the proxy's own request)");
  });

  it('ws.handshake carries the proxy side of both handshakes', async () => {
    const hs = tp.of('ws.handshake');
    expect(hs.length).toBeGreaterThanOrEqual(2);
    for (const e of hs) {
      const key = e.toServerHeaders.find(([n]) => n.toLowerCase() === 'sec-websocket-key')?.[1];
      const accept = e.toClientHeaders.find(
        ([n]) => n.toLowerCase() === 'sec-websocket-accept',
      )?.[1];
      const req = tp.of('http.request').find((r) => r.flowId === e.flowId)!;
      const clientKey = req.headers.find(([n]) => n.toLowerCase() === 'sec-websocket-key')?.[1];
      expect(key).toBeDefined();
      expect(accept).toBe(acceptOf(clientKey!));
      expect(key).not.toBe(clientKey);
      // One key upstream: the proxy's own, never the client's forwarded next to it.
      expect(e.toServerHeaders.filter(([n]) => /^sec-websocket-key$/i.test(n))).toHaveLength(1);
    }
  });
});
