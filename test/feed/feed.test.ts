// The event feed with real WebSocket connections on 127.0.0.1: replay then live, the token,
// clear errors, bounded history, a slow viewer dropped without slowing the emitter, and the
// same UI fed from the feed (attach's proof that views depend on events only).
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { connectFeed, followFeed, startFeedServer, type FeedServer } from '../../src/feed/index.ts';
import { FlowStore } from '../../src/store/index.ts';
import { LabError } from '../../src/util/lab-error.ts';
import { WebSocket, WebSocketServer } from '../../src/util/ws.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  bigWsMessage,
  decryptedHttps,
  listening,
  plaintextLogin,
  refusedHttps,
  tunnelled,
} from '../store/fixtures.ts';
import { headless } from '../ui/harness.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function feed(
  bus: EventBus,
  opts: Partial<Parameters<typeof startFeedServer>[0]> = {},
): Promise<FeedServer> {
  const server = await startFeedServer({ bus, host: '127.0.0.1', port: 0, ...opts });
  cleanups.push(() => server.close());
  return server;
}

const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('feed server', () => {
  it('serves ws://127.0.0.1:PORT/?token=… and replays history, then streams live events', async () => {
    const bus = new EventBus();
    const server = await feed(bus);
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
    listening(bus);
    plaintextLogin(bus);
    decryptedHttps(bus);

    const store = new FlowStore();
    const seen: ProxyEvent[] = [];
    const client = await connectFeed(server.url, {
      onEvent: (e) => {
        seen.push(e);
        store.apply(e);
      },
    });
    cleanups.push(() => client.close());
    expect(client.hello.listening?.port).toBe(8080);
    expect(client.hello.history).toBe(seen.length || client.hello.history);
    await until(() => store.size === 2);
    expect(store.get('f1')?.badge).toBe('HTTP plaintext');
    expect(server.viewers).toBe(1);

    refusedHttps(bus);
    await until(() => store.get('tls:c3') !== undefined);
    expect(store.get('tls:c3')?.badge).toBe('HTTPS refused');
    // history first, in order, then live: ids strictly increase
    const ids = seen.map((e) => Number(e.id.slice(1)));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a wrong or missing token with a clear error (exit 1 kind)', async () => {
    const bus = new EventBus();
    const server = await feed(bus);
    const wrong = server.url.replace(/token=.*/, 'token=not-the-token');
    const err = await connectFeed(wrong, { onEvent: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe('runtime');
    expect((err as LabError).message).toContain('refused the token');
    // a raw client without any token gets 401 as well
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(401);
    expect(server.viewers).toBe(0);
  });

  it('says "connection refused" when nothing listens, and rejects bad URLs as usage errors', async () => {
    const free = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const err = (await connectFeed(`ws://127.0.0.1:${free}/?token=abc`, {
      onEvent: () => {},
    }).catch((e: unknown) => e)) as LabError;
    expect(err.kind).toBe('runtime');
    expect(err.message).toContain('connection refused');
    for (const bad of [
      'not a url',
      'http://127.0.0.1:1/?token=a',
      'ws://127.0.0.1/?token=a',
      'ws://127.0.0.1:9/',
    ])
      expect(() => connectFeed(bad, { onEvent: () => {} })).toThrow(LabError);
    try {
      void connectFeed('nope', { onEvent: () => {} });
    } catch (e) {
      expect((e as LabError).kind).toBe('usage');
    }
  });

  it('listens on loopback only', async () => {
    await expect(
      startFeedServer({ bus: new EventBus(), host: '0.0.0.0', port: 0 }),
    ).rejects.toThrow(/loopback only/);
  });

  it('keeps a bounded history, and always the proxy announcement', async () => {
    const bus = new EventBus();
    const server = await feed(bus, { historyEvents: 3 });
    listening(bus);
    for (let i = 0; i < 5; i++) plaintextLogin(bus, `c${i}`, `f${i}`);
    const seen: ProxyEvent[] = [];
    const client = await connectFeed(server.url, { onEvent: (e) => seen.push(e) });
    cleanups.push(() => client.close());
    expect(client.hello.history).toBe(3);
    expect(client.hello.evicted).toBe(1 + 5 * 4 - 3);
    expect(client.hello.listening?.type).toBe('proxy.listening');
    await until(() => seen.length === 3);
    expect(seen.map((e) => e.type)).toEqual(['http.request', 'http.response', 'conn.close']);
  });

  it('drops a viewer that stops reading, without slowing the emitter or the other viewers', async () => {
    const bus = new EventBus();
    const server = await feed(bus, { maxBufferedBytes: 256 * 1024, stallMs: 200 });
    // A good viewer, reading normally.
    let good = 0;
    let goodSkipped = 0;
    const client = await connectFeed(server.url, {
      onEvent: () => good++,
      onSkipped: (n) => (goodSkipped += n),
    });
    cleanups.push(() => client.close());
    // A stuck viewer: a raw TCP client that completes the WebSocket upgrade and never reads.
    const url = new URL(server.url);
    const stuck = net.connect(server.port, '127.0.0.1');
    cleanups.push(() => stuck.destroy());
    await new Promise<void>((resolve, reject) => {
      stuck.once('error', reject);
      stuck.write(
        `GET /?token=${url.searchParams.get('token')} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      stuck.once('data', (d) => {
        expect(d.toString()).toMatch(/^HTTP\/1\.1 101/);
        stuck.pause();
        resolve();
      });
    });
    await until(() => server.viewers === 2);

    let slowest = 0;
    let sent = 0;
    const deadline = Date.now() + 15_000;
    while (server.dropped === 0 && Date.now() < deadline) {
      const t0 = performance.now();
      bigWsMessage(bus, 64 * 1024);
      slowest = Math.max(slowest, performance.now() - t0);
      sent++;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(server.dropped).toBe(1);
    expect(server.viewers).toBe(1);
    expect(slowest).toBeLessThan(100); // emitting never waited for the stuck viewer
    // The good viewer stays connected and accounts for every event: received, or skipped
    // with a notice when it briefly fell behind this deliberately tiny buffer limit.
    bus.emit({ type: 'diag', connId: null, level: 'info', source: 'test', message: 'last' });
    await until(() => good + goodSkipped === sent + 1, 10_000).catch((e: unknown) => {
      throw new Error(
        `good ${good} skipped ${goodSkipped} sent ${sent} garbage ${client.garbage} ${String(e)}`,
      );
    });
    expect(good).toBeGreaterThan(sent / 2);
  });
});

/** A bare WebSocket on the feed, past its hello: every later message's text, as it comes. */
async function rawViewer(url: string): Promise<{ ws: WebSocket; messages: string[] }> {
  const messages: string[] = [];
  const ws = new WebSocket(url);
  cleanups.push(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve()); // the hello
    ws.once('error', reject);
  });
  ws.on('message', (d) => messages.push(d.toString()));
  return { ws, messages };
}

describe('feed batching (protocol 2)', () => {
  it('events of one turn go out as one WebSocket message, every line an event, in order', async () => {
    const bus = new EventBus();
    const server = await feed(bus);
    const { messages } = await rawViewer(server.url);
    for (let i = 0; i < 100; i++)
      bus.emit({ type: 'diag', connId: null, level: 'info', source: 'batch', message: `m${i}` });
    await until(() => messages.join('\n').split('\n').length >= 100);
    const lines = messages.join('\n').split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
    expect(messages.length).toBeLessThan(5); // one per turn, not one per event
    // A viewer that joins later gets the same 100 in the history, batched, and none twice.
    let replayed = 0;
    const late = await connectFeed(server.url, { onEvent: () => replayed++ });
    cleanups.push(() => late.close());
    expect(late.hello.protocol).toBe(2);
    expect(late.hello.history).toBe(100);
    await until(() => replayed === 100);
    bus.emit({ type: 'diag', connId: null, level: 'info', source: 'batch', message: 'after' });
    await until(() => replayed === 101);
  });

  it('under load, one message per interval; what is held reaches the viewer before the goodbye', async () => {
    const bus = new EventBus();
    // An interval no test outlives: anything after the first burst is held until close().
    const server = await startFeedServer({ bus, flushIntervalMs: 600_000 });
    let closed = false;
    cleanups.push(() => (closed ? undefined : server.close()));
    const { ws, messages } = await rawViewer(server.url);
    const gone = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const diag = (message: string) =>
      bus.emit({ type: 'diag', connId: null, level: 'info', source: 'batch', message });
    diag('first');
    // After a quiet spell the first burst goes out at the end of its turn.
    await until(() => messages.length === 1);
    // The next turns' events wait for the interval.
    diag('second');
    await new Promise((r) => setImmediate(r));
    diag('third');
    // A round trip on the same connection: had they been sent, they would be here first.
    await new Promise<void>((resolve) => {
      ws.once('pong', () => resolve());
      ws.ping();
    });
    expect(messages).toHaveLength(1);
    closed = true;
    await server.close();
    expect(await gone).toBe(1001);
    const lines = messages.join('\n').split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual([
      'first',
      'second',
      'third',
    ]);
    expect(messages).toHaveLength(2); // the held two together
  });

  it('a viewer decodes every line of a batch, UTF-8 beyond ASCII included', async () => {
    const bus = new EventBus();
    const server = await feed(bus);
    const seen: string[] = [];
    const client = await connectFeed(server.url, {
      onEvent: (e) => {
        if (e.type === 'diag') seen.push(e.message);
      },
    });
    cleanups.push(() => client.close());
    const texts = ['café', 'naïve – “quoted”', '', 'Grüße\\n (an escaped newline)', 'ascii'];
    for (const message of texts)
      bus.emit({ type: 'diag', connId: null, level: 'info', source: 'utf8', message });
    await until(() => seen.length === texts.length);
    expect(seen).toEqual(texts);
    expect(client.garbage).toBe(0);
  });

  it('held events go out by themselves when the interval has passed', async () => {
    const bus = new EventBus();
    const server = await feed(bus, { flushIntervalMs: 30 });
    const seen: string[] = [];
    const client = await connectFeed(server.url, {
      onEvent: (e) => {
        if (e.type === 'diag') seen.push(e.message);
      },
    });
    cleanups.push(() => client.close());
    for (const m of ['a', 'b', 'c']) {
      bus.emit({ type: 'diag', connId: null, level: 'info', source: 'batch', message: m });
      await new Promise((r) => setImmediate(r));
    }
    await until(() => seen.length === 3);
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('a viewer refuses a feed newer than it knows, and says what to do', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) =>
      ws.send(
        JSON.stringify({ feed: 'hello', protocol: 99, listening: null, history: 0, evicted: 0 }),
      ),
    );
    const port = (wss.address() as AddressInfo).port;
    await expect(
      connectFeed(`ws://127.0.0.1:${port}/?token=t`, { onEvent: () => undefined }),
    ).rejects.toThrow(/speaks protocol 99, this mitm-lab only 2/);
  });
});

describe('feed client', () => {
  it('survives garbage and events it cannot fold, and keeps receiving', async () => {
    const { WebSocketServer } = await import('../../src/util/ws.ts');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const port = (wss.address() as net.AddressInfo).port;
    wss.on('connection', (ws) => {
      ws.send(
        JSON.stringify({ feed: 'hello', protocol: 1, listening: null, history: 0, evicted: 0 }),
      );
      ws.send('this is not json');
      ws.send(JSON.stringify({ type: 'http.response', id: 'e1', at: 'x' })); // no body: cannot fold
      ws.send(Buffer.from([1, 2, 3]));
      ws.send(
        JSON.stringify({
          type: 'diag',
          id: 'e2',
          at: new Date().toISOString(),
          connId: null,
          level: 'info',
          source: 't',
          message: 'ok',
        }),
      );
    });
    const store = new FlowStore();
    const got: string[] = [];
    const client = await connectFeed(`ws://127.0.0.1:${port}/?token=t`, {
      onEvent: (e) => {
        store.apply(e);
        got.push(e.id);
      },
    });
    cleanups.push(() => client.close());
    await until(() => got.includes('e2'));
    expect(client.garbage).toBe(3);
    expect(store.diags.at(-1)?.message).toBe('ok');
  });
});

describe('attach: the same UI from the feed', () => {
  it('shows the flows of a live proxy bus through a feed, in the real UI', async () => {
    const bus = new EventBus();
    const server = await feed(bus);
    listening(bus);
    plaintextLogin(bus);
    refusedHttps(bus);
    const store = new FlowStore();
    const client = await connectFeed(server.url, { onEvent: (e) => store.apply(e) });
    cleanups.push(() => client.close());
    const h = headless(store, { cols: 100, rows: 30 });
    cleanups.push(() => h.close());
    await until(() => store.size === 2);
    tunnelled(bus);
    await until(() => store.size === 3);
    const s = h.screen();
    expect(s).toMatch(/HTTP plaintext\s+shop\.test\s+POST\s+\/login/);
    expect(s).toMatch(/HTTPS refused\s+shop\.test/);
    expect(s).toMatch(/HTTPS tunnelled\s+news\.test/);
    await h.press('m');
    expect(h.screen()).toContain('not available when attached');
  });

  it('tells the viewer when the proxy stops', async () => {
    const bus = new EventBus();
    const server = await startFeedServer({ bus, port: 0 });
    const client = await connectFeed(server.url, { onEvent: () => {} });
    await server.close();
    const c = await client.closed;
    expect(c.normal).toBe(true);
    expect(c.reason).toBe('the proxy stopped');
  });
});

/**
 * A feed peer that plays a script, one step per connection (on 127.0.0.1): the real server's
 * drop of a slow viewer is tested above; here the client's side of a drop, a restart and a
 * feed that never comes back is driven exactly. `refuse` answers the upgrade with 401, as
 * the real server does for a token it does not know.
 */
async function scriptedFeed(
  steps: Array<((ws: WebSocket) => void) | 'refuse'>,
): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ noServer: true });
  let n = 0;
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => {
    const step = steps[Math.min(n, steps.length - 1)];
    n++;
    if (step === 'refuse' || !step) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => step(ws));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((r) => server.close(() => r()));
  };
  cleanups.push(close);
  return { url: `ws://127.0.0.1:${port}/?token=t`, connections: () => n, close };
}

const hello = (history: number) =>
  JSON.stringify({ feed: 'hello', protocol: 1, listening: null, history, evicted: 0 });
const diag = (id: string) =>
  JSON.stringify({
    type: 'diag',
    id,
    at: '2026-11-23T03:00:00.000Z',
    connId: null,
    level: 'info',
    source: 'test',
    message: id,
  });

describe('followFeed (attach staying connected)', () => {
  it('reconnects after the feed drops it as too slow, resets the viewer, replays the history', async () => {
    let second: WebSocket | null = null;
    const feedPeer = await scriptedFeed([
      (ws) => {
        ws.send(hello(1));
        ws.send(diag('e1'));
        setTimeout(() => ws.close(4001, 'viewer too slow: reconnect to catch up'), 50);
      },
      (ws) => {
        second = ws;
        ws.send(hello(2));
        ws.send(diag('e1'));
        ws.send(diag('e2'));
      },
    ]);
    const seen: string[] = [];
    const news: string[] = [];
    const feed = await followFeed(feedPeer.url, {
      onEvent: (e) => seen.push(e.id),
      onReset: () => seen.push('RESET'),
      onStatus: (t) => news.push(t),
      retryDelaysMs: [30],
    });
    await until(() => seen.length === 4);
    expect(seen).toEqual(['e1', 'RESET', 'e1', 'e2']);
    expect(news[0]).toMatch(
      /dropped this viewer: it could not keep up; reconnecting in .* \(attempt 1 of 12\)/,
    );
    await until(() => news.some((t) => t.startsWith('reconnected')));
    // Then the proxy stops: that is the end, not a reason to reconnect.
    (second as WebSocket | null)?.close(1001, 'the proxy stopped');
    await expect(feed.ended).resolves.toEqual({ reason: 'the proxy stopped', normal: true });
    expect(feedPeer.connections()).toBe(2);
  });

  it('gives up after its attempts when the feed does not come back, saying why', async () => {
    const feedPeer = await scriptedFeed([(ws) => ws.send(hello(0))]);
    const news: string[] = [];
    const feed = await followFeed(feedPeer.url, {
      onEvent: () => {},
      onReset: () => {},
      onStatus: (t) => news.push(t),
      retryDelaysMs: [20],
      maxAttempts: 2,
    });
    await feedPeer.close(); // the connection breaks (1006) and nothing listens any more
    const end = await feed.ended;
    expect(end.normal).toBe(false);
    expect(end.reason).toMatch(/reconnecting failed 2 times .*connection refused/);
    expect(news).toHaveLength(2);
    expect(news[1]).toMatch(
      /^the connection to the feed broke; reconnecting in 20 ms \(attempt 2 of 2\): last try said .*connection refused/,
    );
  });

  it('stops at once when the feed refuses the token (the proxy restarted)', async () => {
    const feedPeer = await scriptedFeed([
      (ws) => {
        ws.send(hello(0));
        setTimeout(() => ws.terminate(), 30);
      },
      'refuse',
    ]);
    const feed = await followFeed(feedPeer.url, {
      onEvent: () => {},
      onReset: () => {},
      onStatus: () => {},
      retryDelaysMs: [20],
    });
    const end = await feed.ended;
    expect(end.normal).toBe(false);
    expect(end.reason).toMatch(/refused the token: the proxy restarted with a new feed URL/);
    expect(feedPeer.connections()).toBe(2); // no point in asking again
  });

  it('quits while waiting to reconnect without connecting again', async () => {
    const feedPeer = await scriptedFeed([
      (ws) => {
        ws.send(hello(0));
        setTimeout(() => ws.close(4001, 'viewer too slow'), 20);
      },
      (ws) => ws.send(hello(0)),
    ]);
    const news: string[] = [];
    const feed = await followFeed(feedPeer.url, {
      onEvent: () => {},
      onReset: () => {},
      onStatus: (t) => news.push(t),
      retryDelaysMs: [60_000],
    });
    await until(() => news.length === 1);
    feed.close();
    await expect(feed.ended).resolves.toEqual({ reason: 'viewer quit', normal: true });
    expect(feedPeer.connections()).toBe(1);
  });

  it('with the real feed server: a proxy that stops ends the feed, no reconnect', async () => {
    const bus = new EventBus();
    const server = await startFeedServer({ bus, port: 0 });
    const news: string[] = [];
    const feed = await followFeed(server.url, {
      onEvent: () => {},
      onReset: () => {},
      onStatus: (t) => news.push(t),
      retryDelaysMs: [10],
    });
    await server.close();
    await expect(feed.ended).resolves.toEqual({ reason: 'the proxy stopped', normal: true });
    expect(news).toEqual([]);
  });
});
