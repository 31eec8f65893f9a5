// Issue 13, item 7 (and Deliver 2): stalled clients were never let go. After `CONNECT 200` with
// nothing or half a ClientHello the client side stayed open (3 descriptors each, ~350 took the
// proxy down at 1,024); slow clients inside intercepted TLS never timed out; slow plain headers
// only after 90 s. Now every stage has its limit (src/proxy/timeouts.ts) — short ones here,
// injected into the engine running in a process of its own under `ulimit -n 1024` — and each
// stalled client is closed in bounded time, with its outcome event and its `conn.close`, and
// its descriptors released.
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyEvent } from '../../src/events/types.ts';
import { closeServer, listenLoopback, trackSockets } from '../support/net.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { FD_LIMIT, startEngineProcess, type CliProxy } from './helpers.ts';
import { readFileSync } from 'node:fs';

const LIMITS = {
  clientSilentMs: 600,
  requestHeadersMs: 800,
  afterConnectMs: 600,
  handshakeMs: 800,
};
/** Every stalled client must be closed within its limit plus this (scheduling, checks). */
const SLACK_MS = 1500;

/** A real ClientHello from Node's TLS client, captured by a plain TCP listener. */
async function captureClientHello(servername: string): Promise<Buffer> {
  const server = net.createServer();
  const port = await listenLoopback(server);
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) =>
      s.once('data', (c: Buffer) => {
        resolve(c);
        s.destroy();
      }),
    ),
  );
  const client = tls.connect({ port, host: '127.0.0.1', servername });
  client.on('error', () => undefined);
  const hello = await got;
  client.destroy();
  await closeServer(server);
  return hello;
}

describe('stalled clients are let go (issue 13, item 7)', () => {
  let proxy: CliProxy;
  let silent: { port: number; close(): Promise<void> };
  let hello: Buffer;
  /** One ClientHello per name: auto mode would tunnel a name once one attempt timed out. */
  const hellos: Buffer[] = [];
  let baseline: number;

  beforeAll(async () => {
    const server = net.createServer((s) => s.on('error', () => undefined));
    const sockets = trackSockets(server);
    silent = { port: await listenLoopback(server), close: () => closeServer(server, sockets) };
    hello = await captureClientHello('stall.test');
    for (let i = 0; i < 30; i++) hellos.push(await captureClientHello(`stall-${i}.test`));
    proxy = await startEngineProcess(
      { timeouts: LIMITS, resolve: [{ pattern: '*.test', address: '127.0.0.1' }] },
      { fdLimit: FD_LIMIT },
    );
    baseline = proxy.openFds();
  });
  afterAll(async () => {
    await proxy?.stop();
    await silent?.close();
  });

  /**
   * Open `n` connections, let `start` stall each one, and wait until the proxy has closed them
   * all; resolves to the connection ids the proxy gave them and the slowest close (ms).
   */
  async function stall(
    n: number,
    limitMs: number,
    start: (s: net.Socket, i: number) => void | Promise<void>,
  ): Promise<{ connIds: string[]; slowestMs: number }> {
    const before = new Set(
      proxy.events().flatMap((e) => (e.type === 'conn.open' ? [e.connId] : [])),
    );
    const closes: Promise<number>[] = [];
    for (let i = 0; i < n; i++) {
      const s = net.connect(proxy.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      const opened = Date.now();
      // How long the proxy held it, from its connection (the limit runs from a stage inside).
      closes.push(new Promise((resolve) => s.once('close', () => resolve(Date.now() - opened))));
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      await start(s, i);
    }
    const times = await Promise.race([
      Promise.all(closes),
      sleep(limitMs + SLACK_MS + 5000).then(() => null),
    ]);
    expect(times, 'the proxy closed every stalled client').not.toBeNull();
    const slowestMs = Math.max(...times!);
    console.info(
      `${n} stalled clients: the last closed ${slowestMs} ms after connecting (limit ${limitMs} ms)`,
    );
    expect(slowestMs).toBeLessThan(limitMs + SLACK_MS + 2000);
    let connIds: string[] = [];
    await waitFor(
      () => {
        connIds = proxy
          .events()
          .flatMap((e) => (e.type === 'conn.open' && !before.has(e.connId) ? [e.connId] : []));
        return connIds.length >= n;
      },
      `${n} conn.open`,
      { timeoutMs: 5000 },
    );
    // Each ends with exactly one conn.close.
    await waitFor(
      () =>
        connIds.every(
          (id) =>
            proxy.events().filter((e) => e.type === 'conn.close' && e.connId === id).length === 1,
        ),
      'a conn.close for each',
      { timeoutMs: 5000 },
    );
    return { connIds, slowestMs };
  }

  const eventsOf = (connId: string): ProxyEvent[] =>
    proxy.events().filter((e) => e.connId === connId);

  /** Descriptors back near where they were: nothing of the stalled clients stays behind. */
  async function descriptorsReleased(): Promise<void> {
    let now = proxy.openFds();
    await waitFor(
      () => (now = proxy.openFds()) <= baseline + 5,
      `descriptors back (now ${now}, baseline ${baseline})`,
      {
        timeoutMs: 5000,
      },
    );
  }

  it('TCP silent: a connection that sends nothing is closed, with a diag', async () => {
    const { connIds, slowestMs } = await stall(50, LIMITS.clientSilentMs, () => undefined);
    for (const id of connIds) {
      expect(eventsOf(id).some((e) => e.type === 'diag' && /sent nothing/.test(e.message))).toBe(
        true,
      );
    }
    expect(slowestMs).toBeGreaterThanOrEqual(LIMITS.clientSilentMs - 50);
    await descriptorsReleased();
  });

  it('slow plain headers: 408 and closed at the headers limit, not after 90 s', async () => {
    const drips: NodeJS.Timeout[] = [];
    try {
      const { connIds } = await stall(50, LIMITS.requestHeadersMs, (s) => {
        s.write('GET http://slow.localhost/ HTTP/1.1\r\nHost: slow.localhost\r\nX-Slow: ');
        drips.push(setInterval(() => s.writable && s.write('a'), 100));
      });
      for (const id of connIds) {
        expect(eventsOf(id).some((e) => e.type === 'diag' && /answered 408/.test(e.message))).toBe(
          true,
        );
      }
    } finally {
      for (const d of drips) clearInterval(d);
    }
    await descriptorsReleased();
  });

  it('an HTTP/0.9 request line: 408 and closed', async () => {
    const { connIds } = await stall(10, LIMITS.requestHeadersMs, (s) => {
      s.write('GET /\r\n');
    });
    for (const id of connIds) {
      expect(eventsOf(id).some((e) => e.type === 'diag' && /answered 408/.test(e.message))).toBe(
        true,
      );
    }
    await descriptorsReleased();
  });

  it('after CONNECT 200, nothing (and a silent server): tunnelled, then closed', async () => {
    const { connIds } = await stall(30, LIMITS.afterConnectMs * 2, (s) => {
      s.write(
        `CONNECT mute.test:${silent.port} HTTP/1.1\r\nHost: mute.test:${silent.port}\r\n\r\n`,
      );
    });
    for (const id of connIds) {
      const mine = eventsOf(id);
      expect(mine.filter((e) => e.type === 'tunnel.summary')).toHaveLength(1);
      expect(
        mine.some((e) => e.type === 'diag' && /neither the client nor the server/.test(e.message)),
      ).toBe(true);
    }
    await descriptorsReleased();
  });

  it('after CONNECT 200, half a ClientHello: closed, with a diag', async () => {
    const { connIds } = await stall(30, LIMITS.afterConnectMs, (s) => {
      s.write(
        Buffer.concat([
          Buffer.from(`CONNECT half.test:443 HTTP/1.1\r\nHost: half.test:443\r\n\r\n`),
          hello.subarray(0, Math.floor(hello.length / 2)),
        ]),
      );
    });
    for (const id of connIds) {
      expect(
        eventsOf(id).some(
          (e) => e.type === 'diag' && /bytes of a ClientHello, then nothing/.test(e.message),
        ),
      ).toBe(true);
    }
    await descriptorsReleased();
  });

  it('mid-handshake (a ClientHello, then nothing): a timeout refusal, then closed', async () => {
    const { connIds } = await stall(30, LIMITS.handshakeMs, (s, i) => {
      s.write(
        Buffer.concat([
          Buffer.from(`CONNECT stall-${i}.test:443 HTTP/1.1\r\nHost: stall-${i}.test:443\r\n\r\n`),
          hellos[i]!,
        ]),
      );
    });
    for (const id of connIds) {
      const outcomes = eventsOf(id).filter(
        (e) => e.type === 'tls.client-rejected' || e.type === 'tls.client-accepted',
      );
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]).toMatchObject({ type: 'tls.client-rejected', outcome: 'timeout' });
    }
    await descriptorsReleased();
  });

  it('300 slow clients inside intercepted TLS: 408, closed, each accepted once', async () => {
    const caPem = readFileSync(proxy.caCert, 'utf8');
    const drips: NodeJS.Timeout[] = [];
    try {
      const { connIds } = await stall(300, LIMITS.requestHeadersMs, async (s) => {
        s.write('CONNECT slow.test:443 HTTP/1.1\r\nHost: slow.test:443\r\n\r\n');
        await new Promise<void>((resolve) => s.once('data', () => resolve()));
        s.removeAllListeners('data');
        const t = tls.connect({ socket: s, servername: 'slow.test', ca: [caPem] });
        t.on('error', () => undefined);
        await new Promise<void>((resolve) => t.once('secureConnect', () => resolve()));
        t.write('GET / HTTP/1.1\r\nHost: slow.test\r\nX-Slow: ');
        drips.push(setInterval(() => t.writable && t.write('a'), 100));
      });
      for (const id of connIds) {
        const mine = eventsOf(id);
        expect(mine.filter((e) => e.type === 'tls.client-accepted')).toHaveLength(1);
        expect(mine.filter((e) => e.type === 'tls.client-rejected')).toHaveLength(0);
      }
    } finally {
      for (const d of drips) clearInterval(d);
    }
    await descriptorsReleased();
    expect(proxy.process.running()).toBe(true);
  }, 60_000);
});
