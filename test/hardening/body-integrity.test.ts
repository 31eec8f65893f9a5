// Issue 13, item 4 (and Deliver 3, body integrity): when the server's connection failed in the
// middle of a body, http-mitm-proxy wrote `PROXY_TO_SERVER_REQUEST_ERROR: Error: read
// ECONNRESET` into the body and ended it cleanly — with a chunked server the client saw a
// complete 200 (curl exit 0), and the event and HAR said 200, whole, no error. Now the client's
// response is cut too (curl fails), and the flow is recorded as cut: `http.response`
// `incomplete`, an `upstream.error`, the HAR's `_error`, and the terminal UI's flow view.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyEvent } from '../../src/events/types.ts';
import { FlowStore } from '../../src/store/index.ts';
import { decryptedView } from '../../src/ui/views/decrypted.ts';
import { curl, makeTestPki, startOrigin, type Origin } from '../integration/helpers.ts';
import { closeServer, listenLoopback, trackSockets } from '../support/net.ts';
import { tempDir } from '../support/temp-dir.ts';
import { startCliProxy, type CliProxy } from './helpers.ts';

/** How each origin breaks off: what it sends after its headers, then how it leaves. */
const ORIGINS = {
  'chunked, then a reset': {
    head: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
    body: '6\r\nhello \r\n',
    leave: (s: net.Socket) => s.resetAndDestroy(),
  },
  'Content-Length, then a reset': {
    head: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n',
    body: 'hello ',
    leave: (s: net.Socket) => s.resetAndDestroy(),
  },
  'Content-Length, then a clean close': {
    head: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n',
    body: 'hello ',
    leave: (s: net.Socket) => s.end(),
  },
} satisfies Record<string, { head: string; body: string; leave: (s: net.Socket) => void }>;

/** A server that answers every request with `head` + `body`, then leaves as told. */
async function breakingOrigin(o: (typeof ORIGINS)[keyof typeof ORIGINS]) {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => {
      s.write(o.head + o.body);
      setTimeout(() => o.leave(s), 100);
    });
  });
  const sockets = trackSockets(server);
  const port = await listenLoopback(server);
  return { port, close: () => closeServer(server, sockets) };
}

describe('a response cut upstream is cut for the client and recorded (issue 13, item 4)', () => {
  let origin: Origin;
  let proxy: CliProxy;
  const dir = tempDir('mitm-lab-cut-');
  const har = path.join(dir.dir, 'flows.har');
  const cut = new Map<string, { curlCode: number | null; stdout: string }>();

  beforeAll(async () => {
    origin = await startOrigin(makeTestPki().leaf(['whole.test']));
    proxy = await startCliProxy(['--headless', '--har', har]);
    for (const [name, o] of Object.entries(ORIGINS)) {
      const server = await breakingOrigin(o);
      try {
        const r = await curl([
          '-x',
          proxy.url,
          `http://cut.localhost:${server.port}/${name.length}`,
        ]);
        cut.set(name, { curlCode: r.code, stdout: r.stdout });
      } finally {
        await server.close();
      }
    }
    console.info(
      'curl exit codes:',
      Object.fromEntries([...cut].map(([name, r]) => [name, r.curlCode])),
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await origin?.close();
    dir.cleanup();
  });

  for (const name of Object.keys(ORIGINS)) {
    it(`${name}: curl fails and never reads the proxy's error text as body`, () => {
      const r = cut.get(name)!;
      expect(r.curlCode, r.stdout).not.toBe(0);
      expect(r.stdout).toBe('hello ');
    });

    it(`${name}: http.response says incomplete, and an upstream.error follows`, async () => {
      const url = `/${name.length}`;
      const res = await proxy.waitForEvent('http.response', (e) =>
        proxy
          .events()
          .some((q) => q.type === 'http.request' && q.flowId === e.flowId && q.path === url),
      );
      expect(res.status).toBe(200);
      expect(res.incomplete?.code).toMatch(/^E[A-Z]+$/);
      expect(res.body).toMatchObject({ size: 6 });
      const err = await proxy.waitForEvent('upstream.error', (e) => e.flowId === res.flowId);
      expect(err).toMatchObject({ code: res.incomplete?.code, status: null });
    });
  }

  it('a whole response stays whole (incomplete: null, no upstream.error)', async () => {
    const r = await curl(['-x', proxy.url, `http://whole.localhost:${origin.httpPort}/whole`]);
    expect(r.code).toBe(0);
    const res = await proxy.waitForEvent('http.response', (e) =>
      proxy
        .events()
        .some((q) => q.type === 'http.request' && q.flowId === e.flowId && q.path === '/whole'),
    );
    expect(res.incomplete).toBeNull();
    expect(proxy.events().some((e) => e.type === 'upstream.error' && e.flowId === res.flowId)).toBe(
      false,
    );
  });

  it('the terminal UI shows the cut, and the HAR written at exit records it', async () => {
    await proxy.expectAlive(origin.httpPort);
    // The UI reads the same events through the flow store.
    const store = new FlowStore();
    for (const e of proxy.events()) store.apply(e as ProxyEvent);
    const flows = store.all().filter((f) => f.response?.incomplete);
    expect(flows).toHaveLength(Object.keys(ORIGINS).length);
    for (const f of flows) {
      expect(f.outcome).toBe('upstream-error');
      const text = decryptedView(f, { redact: false, width: 100 }).join('\n');
      expect(text).toMatch(/cut upstream/i);
    }
    proxy.process.kill('SIGTERM');
    expect((await proxy.process.exited).code).toBe(0);
    const entries = (
      JSON.parse(readFileSync(har, 'utf8')) as {
        log: {
          entries: { request: { url: string }; response: { status: number; _error?: string } }[];
        };
      }
    ).log.entries;
    const cutEntries = entries.filter((e) => e.request.url.includes('cut.localhost'));
    expect(cutEntries).toHaveLength(Object.keys(ORIGINS).length);
    for (const e of cutEntries) {
      expect(e.response.status).toBe(200);
      expect(e.response._error).toMatch(/^E[A-Z]+: .*cut/);
    }
    const whole = entries.find((e) => e.request.url.endsWith('/whole'));
    expect(whole?.response._error).toBeUndefined();
  });
});
