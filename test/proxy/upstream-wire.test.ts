// The upstream leg's capture (`--pcap`): real loopback sockets to a small echo server, tapped as
// the engine taps its connections to servers. When `upstream.wire` goes out (after the client
// connection that used it closed; the end held back while one is still open), what it carries
// (both ways, the real ports), and where it is cut.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/events/types.ts';
import { UpstreamWire } from '../../src/proxy/upstream-wire.ts';
import { closeServer, listenLoopback } from '../support/net.ts';
import { waitUntil } from '../support/wait.ts';

type Wire = Extract<NewEvent, { type: 'upstream.wire' }>;

let echo: net.Server;
let port: number;
beforeAll(async () => {
  echo = net.createServer((s) => s.on('data', (d: Buffer) => s.write(d)));
  port = await listenLoopback(echo);
});
afterAll(() => closeServer(echo));

/** A capture, its events, and a connected socket to the echo server it taps. */
async function tapped(limitBytes = 64 * 1024) {
  const events: Wire[] = [];
  const wire = new UpstreamWire((e) => {
    if (e.type === 'upstream.wire') events.push(e);
  }, limitBytes);
  const socket = net.connect({ host: '127.0.0.1', port });
  wire.capture(socket, 'http');
  await new Promise((r) => socket.once('connect', r));
  let echoed = 0;
  socket.on('data', (d: Buffer) => (echoed += d.length));
  const say = async (text: string): Promise<void> => {
    const want = echoed + text.length;
    socket.write(text);
    expect(await waitUntil(() => echoed >= want, { timeoutMs: 5_000 })).toBe(true);
  };
  const closed = new Promise((r) => socket.once('close', r));
  return { wire, events, socket, say, closed };
}

const bytes = (e: Wire, dir: 'up' | 'down') =>
  Buffer.concat(e.chunks.filter((c) => c.dir === dir).map((c) => c.bytes)).toString();

describe('UpstreamWire', () => {
  it('sends what crossed both ways after the client connection that used it closed, with the real ports', async () => {
    const t = await tapped();
    t.wire.use(t.socket, 'c1');
    await t.say('GET / HTTP/1.1\r\n\r\n');
    expect(t.events).toEqual([]); // nothing while c1 is open
    t.wire.connClosed('c1');
    expect(t.events).toHaveLength(1);
    const e = t.events[0]!;
    expect(e).toMatchObject({
      connId: null,
      clientConnId: 'c1',
      upstreamId: 'u1',
      kind: 'http',
      localPort: t.socket.localPort,
      remotePort: port,
      bytesUp: 18,
      bytesDown: 18,
      truncated: false,
      closed: false,
    });
    expect(e.chunks[0]!.dir).toBe('up');
    expect(bytes(e, 'up')).toBe('GET / HTTP/1.1\r\n\r\n');
    expect(bytes(e, 'down')).toBe('GET / HTTP/1.1\r\n\r\n');
    // Its end, when it closes: no open client connection uses it any more.
    t.socket.destroy();
    await t.closed;
    expect(t.events).toHaveLength(2);
    expect(t.events[1]).toMatchObject({ chunks: [], closed: true });
  });

  it('holds its end back while a client connection that used it is still open', async () => {
    const t = await tapped();
    t.wire.use(t.socket, 'c1');
    await t.say('one');
    t.wire.connClosed('c1');
    t.wire.use(t.socket, 'c2'); // keep-alive: the next client connection
    await t.say('two');
    t.socket.destroy();
    await t.closed;
    expect(t.events.map((e) => e.closed)).toEqual([false]);
    t.wire.connClosed('c2');
    expect(t.events).toHaveLength(2);
    expect(t.events[1]).toMatchObject({ clientConnId: 'c2', closed: true });
    expect(bytes(t.events[1]!, 'up')).toBe('two');
    t.wire.connClosed('c2'); // twice: nothing more
    expect(t.events).toHaveLength(2);
  });

  it('keeps at most the limit per direction, and says it was cut', async () => {
    const t = await tapped(10);
    t.wire.use(t.socket, 'c1');
    await t.say('0123456789abcdef');
    t.wire.connClosed('c1');
    const e = t.events[0]!;
    expect(bytes(e, 'up')).toBe('0123456789');
    expect(bytes(e, 'down')).toBe('0123456789');
    expect(e).toMatchObject({ bytesUp: 16, bytesDown: 16, truncated: true });
    t.socket.destroy();
  });

  it('sends nothing for a connection that never connected', async () => {
    const events: NewEvent[] = [];
    const wire = new UpstreamWire((e) => events.push(e), 1024);
    const probe = net.createServer();
    const closedPort = await listenLoopback(probe);
    await closeServer(probe);
    const socket = net.connect({ host: '127.0.0.1', port: closedPort });
    socket.on('error', () => {});
    wire.capture(socket, 'tunnel');
    wire.use(socket, 'c1');
    await new Promise((r) => socket.once('close', r));
    wire.connClosed('c1');
    expect(events).toEqual([]);
  });
});
