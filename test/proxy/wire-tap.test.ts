// WireTap and tapSocket on real sockets: the capture is bounded and exact, the tapped socket's
// bytes and flow are untouched (piping, paused reading, peek + unshift), writes are counted once.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { peekClientHello } from '../../src/proxy/client-hello.ts';
import { tapSocket, WireTap } from '../../src/proxy/wire-tap.ts';
import { listenLoopback } from '../support/net.ts';
import { sleep, waitUntil } from '../support/wait.ts';

interface Pair {
  client: net.Socket;
  server: net.Socket;
  close(): Promise<void>;
}

/** A connected client/server socket pair on 127.0.0.1. */
async function socketPair(onServer?: (s: net.Socket) => void): Promise<Pair> {
  const listener = net.createServer();
  const port = await listenLoopback(listener);
  const serverSide = new Promise<net.Socket>((resolve) =>
    listener.once('connection', (s) => {
      onServer?.(s);
      resolve(s);
    }),
  );
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', () => r()));
  const server = await serverSide;
  return {
    client,
    server,
    close: () =>
      new Promise<void>((r) => {
        client.destroy();
        server.destroy();
        listener.close(() => r());
      }),
  };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Read exactly `n` bytes from a socket. */
function collectN(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      have += c.length;
      if (have >= n) {
        s.removeListener('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    s.on('data', onData);
  });
}

function collect(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

describe('WireTap', () => {
  it('keeps the first limitBytes per direction, counts the rest, and says truncated', () => {
    const tap = new WireTap({ limitBytes: 10, tls: false });
    tap.up(Buffer.from('0123456'));
    tap.up(Buffer.from('789abcdef'));
    tap.down(Buffer.from('xyz'));
    const snap = tap.snapshot();
    expect(snap.up.bytes.toString()).toBe('0123456789');
    expect(snap.up).toMatchObject({ size: 16, truncated: true });
    expect(snap.down).toEqual({
      bytes: Buffer.from('xyz'),
      size: 3,
      truncated: false,
    });
    expect(snap.records).toEqual([]);
    expect(snap.tlsVersion).toBeNull();
    expect(snap.serverCertificates).toBeNull();
  });

  it('bounds the records it keeps and still counts and watches all of them', () => {
    const tap = new WireTap({ limitBytes: 1024, tls: true, t0: 0, maxRecords: 3 });
    const appData = Buffer.from([23, 3, 3, 0, 1, 0xaa]);
    for (let i = 0; i < 5; i++) tap.down(appData, 1);
    tap.up(Buffer.from([21, 3, 3, 0, 2, 2, 46]), 2); // a fatal certificate_unknown, 6th record
    const snap = tap.snapshot();
    expect(snap.records).toHaveLength(3);
    expect(snap.recordsTruncated).toBe(true);
    expect(tap.recordCount).toBe(6);
    expect(tap.clientAlert()).toEqual({ code: 46, name: 'certificate_unknown' });
  });

  it('starts parsing TLS only from beginTls(), after a CONNECT exchange', () => {
    const tap = new WireTap({ limitBytes: 1024, tls: false, t0: 0 });
    tap.up(Buffer.from('CONNECT bank.test:443 HTTP/1.1\r\nHost: bank.test:443\r\n\r\n'), 0);
    tap.down(Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n'), 0);
    tap.beginTls();
    tap.up(Buffer.from([21, 3, 3, 0, 2, 2, 48]), 5);
    const snap = tap.snapshot();
    expect(snap.records).toEqual([
      {
        dir: 'up',
        t: 5,
        contentType: 'alert',
        version: 'TLS 1.2',
        length: 2,
        alert: { level: 'fatal', code: 48, name: 'unknown_ca' },
      },
    ]);
    expect(snap.up.bytes.toString('latin1')).toMatch(/^CONNECT bank\.test/);
  });

  it('parses a pipelined head given to beginTls without counting it twice', () => {
    const tap = new WireTap({ limitBytes: 1024, tls: false, t0: 0 });
    const connect = Buffer.from('CONNECT bank.test:443 HTTP/1.1\r\n\r\n');
    const alert = Buffer.from([21, 3, 3, 0, 2, 2, 48]);
    tap.up(Buffer.concat([connect, alert.subarray(0, 3)]), 0); // the head arrived with the CONNECT
    tap.beginTls(alert.subarray(0, 3), 1);
    tap.up(alert.subarray(3), 2);
    expect(tap.bytesUp).toBe(connect.length + alert.length);
    expect(tap.clientAlert()).toEqual({ code: 48, name: 'unknown_ca' });
    expect(tap.snapshot().records).toHaveLength(1);
  });

  it('prefers a fatal client alert over an earlier warning', () => {
    const tap = new WireTap({ limitBytes: 64, tls: true });
    tap.up(Buffer.from([21, 3, 3, 0, 2, 1, 90]));
    tap.up(Buffer.from([21, 3, 3, 0, 2, 2, 42]));
    expect(tap.clientAlert()).toEqual({ code: 42, name: 'bad_certificate' });
  });

  it('copies captured bytes (a reused buffer does not change the capture)', () => {
    const tap = new WireTap({ limitBytes: 64, tls: false });
    const buf = Buffer.from('secret');
    tap.up(buf);
    buf.fill(0);
    expect(tap.snapshot().up.bytes.toString()).toBe('secret');
  });
});

describe('tapSocket', () => {
  it('observes a piped 1 MiB each way without altering a byte', async () => {
    const payloadUp = randomBytes(1024 * 1024);
    const payloadDown = randomBytes(1024 * 1024);
    const tap = new WireTap({ limitBytes: 4096, tls: false });
    // The server side is tapped (as the proxy taps its client sockets) and echoes through a pipe
    // to a second connection, which sends payloadDown back.
    const back = await socketPair();
    const pair = await socketPair((s) => {
      tapSocket(s, tap);
      s.pipe(back.client);
      back.client.pipe(s);
    });
    try {
      // Both directions at once, no half-close (which would end the relay early).
      const atBack = collectN(back.server, payloadUp.length);
      const atClient = collectN(pair.client, payloadDown.length);
      back.server.write(payloadDown);
      pair.client.write(payloadUp);
      const [gotBack, gotClient] = await Promise.all([atBack, atClient]);
      expect(sha(gotBack)).toBe(sha(payloadUp));
      expect(sha(gotClient)).toBe(sha(payloadDown));
      const snap = tap.snapshot();
      expect(snap.up.size).toBe(payloadUp.length);
      expect(snap.down.size).toBe(payloadDown.length);
      expect(snap.up.bytes.equals(payloadUp.subarray(0, 4096))).toBe(true);
      expect(snap.down.bytes.equals(payloadDown.subarray(0, 4096))).toBe(true);
      expect(snap.up.truncated && snap.down.truncated).toBe(true);
    } finally {
      await pair.close();
      await back.close();
    }
  });

  it('does not make a paused socket flow, yet sees its bytes as they arrive', async () => {
    const tap = new WireTap({ limitBytes: 1024, tls: false });
    const pair = await socketPair((s) => tapSocket(s, tap));
    try {
      pair.client.write('hello, paused world');
      await waitUntil(() => tap.bytesUp >= 19, { timeoutMs: 1000, intervalMs: 10 });
      expect(tap.bytesUp).toBe(19);
      expect(pair.server.readableFlowing).not.toBe(true);
      expect(pair.server.listenerCount('data')).toBe(0);
      // Nothing was consumed: a reader still gets every byte.
      expect((pair.server.read() as Buffer).toString()).toBe('hello, paused world');
    } finally {
      await pair.close();
    }
  });

  it('does not count bytes twice when peekClientHello puts them back', async () => {
    const tap = new WireTap({ limitBytes: 1024, tls: false });
    const pair = await socketPair((s) => tapSocket(s, tap));
    try {
      pair.client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const peek = await peekClientHello(pair.server, 2000);
      expect(peek.kind).toBe('not-tls');
      const got = collect(pair.server);
      pair.client.end();
      expect((await got).toString()).toBe('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(tap.bytesUp).toBe(27);
    } finally {
      await pair.close();
    }
  });

  it('counts write(string, encoding) and end(chunk) once each, as sent', async () => {
    const tap = new WireTap({ limitBytes: 1024, tls: false });
    const pair = await socketPair((s) => tapSocket(s, tap));
    try {
      const got = collect(pair.client);
      pair.server.write('HTTP/1.1 200 Connection established\r\n\r\n');
      pair.server.write('c3VyZQ==', 'base64');
      pair.server.end(Buffer.from('!'));
      const refused = new Promise((r) => pair.server.once('error', r));
      pair.server.write('after end is never sent');
      expect(await refused).toMatchObject({ code: 'ERR_STREAM_WRITE_AFTER_END' });
      expect((await got).toString()).toBe('HTTP/1.1 200 Connection established\r\n\r\nsure!');
      expect(tap.snapshot().down.bytes.toString()).toBe(
        'HTTP/1.1 200 Connection established\r\n\r\nsure!',
      );
    } finally {
      await pair.close();
    }
  });

  it('can be pointed at a new tap, and detached', async () => {
    const first = new WireTap({ limitBytes: 64, tls: false });
    const second = new WireTap({ limitBytes: 64, tls: false });
    let control: ReturnType<typeof tapSocket> | undefined;
    const pair = await socketPair((s) => (control = tapSocket(s, first)));
    try {
      const wait = (tap: WireTap, n: number): Promise<boolean> =>
        waitUntil(() => tap.bytesUp >= n, { timeoutMs: 1000, intervalMs: 10 });
      pair.client.write('one');
      await wait(first, 3);
      control?.setTap(second);
      expect(control?.tap).toBe(second);
      pair.client.write('two');
      await wait(second, 3);
      control?.detach();
      pair.client.write('three');
      await sleep(50);
      expect([first.bytesUp, second.bytesUp]).toEqual([3, 3]);
      expect((pair.server.read() as Buffer).toString()).toBe('onetwothree');
    } finally {
      await pair.close();
    }
  });
});
