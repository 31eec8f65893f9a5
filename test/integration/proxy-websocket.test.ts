// WebSocket messages through the proxy, over ws:// (visible on the wire) and wss://
// (decrypted by the proxy for a client that trusts its CA): each message is a ws.message event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/util/ws.ts';
import {
  makeTestPki,
  openTunnel,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from './helpers.ts';
import tls from 'node:tls';

let origin: Origin;
let tp: TestProxy;
let rootPem: string;

beforeAll(async () => {
  const pki = makeTestPki();
  rootPem = pki.rootPem;
  origin = await startOrigin(pki.leaf(['chat.test']));
  tp = await startTestProxy({
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: 'chat.test', address: '127.0.0.1' }],
  });
});

afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

/** Open a WebSocket through a CONNECT tunnel (TLS inside for wss), send, await the echo. */
async function echo(
  scheme: 'ws' | 'wss',
  port: number,
  messages: (string | Buffer)[],
  via: { proxy: TestProxy; connectHost: string } = { proxy: tp, connectHost: 'chat.test' },
): Promise<(string | Buffer)[]> {
  const { socket } = await openTunnel(via.proxy.proxy.port, `${via.connectHost}:${port}`);
  const ws = new WebSocket(`${scheme}://chat.test:${port}/chat`, {
    createConnection: () =>
      scheme === 'wss'
        ? tls.connect({ socket, servername: 'chat.test', ca: [via.proxy.ca.certPem] })
        : socket,
  } as never);
  const got: (string | Buffer)[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => {
      for (const m of messages) ws.send(m);
    });
    ws.on('message', (data, isBinary) => {
      got.push(isBinary ? (data as Buffer) : data.toString());
      if (got.length === messages.length) ws.close();
    });
    ws.on('close', () => resolve());
    ws.on('error', reject);
  });
  return got;
}

describe('WebSockets', () => {
  it('wss:// through a CONNECT to an address reaches that address (the name needs no DNS)', async () => {
    const bare = await startTestProxy({ upstreamCa: [rootPem] });
    try {
      const got = await echo('wss', origin.httpsPort, ['via address'], {
        proxy: bare,
        connectHost: '127.0.0.1',
      });
      expect(got).toEqual(['via address']);
      await bare.waitFor(
        'ws.message',
        (e) => e.preview === 'via address' && e.direction === 'server-to-client',
      );
    } finally {
      await bare.close();
    }
  });

  it('ws:// messages are events with visibility wire', async () => {
    const got = await echo('ws', origin.httpPort, ['hello over ws', Buffer.from([1, 2, 3])]);
    expect(got[0]).toBe('hello over ws');
    const up = await tp.waitFor(
      'ws.message',
      (e) => e.preview === 'hello over ws' && e.direction === 'client-to-server',
    );
    expect(up).toMatchObject({ kind: 'text', size: 13, visibility: 'wire', truncated: false });
    const down = await tp.waitFor(
      'ws.message',
      (e) => e.preview === 'hello over ws' && e.direction === 'server-to-client',
    );
    expect(down.flowId).toBe(up.flowId);
    const bin = await tp.waitFor(
      'ws.message',
      (e) => e.kind === 'binary' && e.direction === 'client-to-server',
    );
    expect(bin).toMatchObject({ size: 3, preview: null });
  });

  it('wss:// messages are decrypted, visibility proxy-only', async () => {
    const long = 'x'.repeat(500);
    const got = await echo('wss', origin.httpsPort, ['secret over wss', long]);
    expect(got).toEqual(['secret over wss', long]);
    const m = await tp.waitFor(
      'ws.message',
      (e) => e.preview === 'secret over wss' && e.direction === 'server-to-client',
    );
    expect(m.visibility).toBe('proxy-only');
    const cut = await tp.waitFor('ws.message', (e) => e.size === 500);
    expect(cut.truncated).toBe(true);
    expect(cut.preview?.length).toBe(200);
    const req = tp.of('http.request').find((e) => e.flowId === m.flowId);
    expect(req?.url).toBe(`wss://chat.test:${origin.httpsPort}/chat`);
    const res = tp.of('http.response').find((e) => e.flowId === m.flowId);
    expect(res?.status).toBe(101);
    expect(res?.upstreamCertificate?.sans).toContain('DNS:chat.test');
  });
});
