// Bad input gets a clear error or a close, loses nothing, and the proxy keeps serving:
// malformed CONNECT targets (400 + diag), garbage bytes, a truncated ClientHello, a client
// that resets mid-handshake, a 1 MiB header, plain HTTP and non-HTTP inside a CONNECT.
// And nothing is ever written outside the CA folder (http-mitm-proxy wrote leaf files named
// after the raw CONNECT host: `CONNECT ../../x:443` escaped its folder).
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  curl,
  listFiles,
  makeTestPki,
  openTunnel,
  rawExchange,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from './helpers.ts';

let origin: Origin;
let tp: TestProxy;
let caFilesBefore: string[];
let tmpBefore: string[];
let cwdBefore: string[];

beforeAll(async () => {
  const pki = makeTestPki();
  origin = await startOrigin(pki.leaf(['ok.test']));
  tp = await startTestProxy({
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
    timeouts: { afterConnectMs: 1500, handshakeMs: 3000 },
  });
  caFilesBefore = listFiles(tp.caDir);
  tmpBefore = readdirSync(os.tmpdir());
  cwdBefore = readdirSync(process.cwd());
});

afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

/** A real ClientHello from Node's TLS client, captured by a plain TCP listener. */
async function captureClientHello(servername: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) =>
      s.once('data', (c: Buffer) => {
        resolve(c);
        s.destroy();
      }),
    ),
  );
  const client = tls.connect({
    port: (server.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    servername,
  });
  client.on('error', () => undefined);
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

/** The proxy still answers a normal request. */
async function stillServes(): Promise<void> {
  const r = await curl(['-x', tp.proxy.url, `http://next.localhost:${origin.httpPort}/next`]);
  expect(r.stdout).toBe('hello GET /next body=');
}

describe('bad CONNECT targets', () => {
  for (const target of [
    '../../x:443',
    '[:443',
    ':443',
    'bank.test:99999',
    'bank.test:0',
    'garbage',
    'a b:443',
    'bank.test:443/x',
    '1.2.3:443',
  ]) {
    it(`refuses ${JSON.stringify(target)} with 400 and a diag`, async () => {
      const { reply, closed } = await rawExchange(
        tp.proxy.port,
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`,
      );
      expect(closed).toBe(true);
      expect(reply).toMatch(/^HTTP\/1\.1 400/);
      // Node's parser refuses some targets itself (400, no diag); the engine refuses the rest.
      if (!/^HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\n\r\n$/.test(reply)) {
        expect(reply).toContain('bad CONNECT request');
        await tp.waitFor(
          'diag',
          (e) => e.source === 'connect' && e.message.includes('refused CONNECT'),
        );
      }
      await stillServes();
    });
  }
});

describe('garbage and broken clients', () => {
  it('garbage bytes get a 400 and a close', async () => {
    const { reply, closed } = await rawExchange(
      tp.proxy.port,
      Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3, 0x0d, 0x0a, 0x0d, 0x0a]),
    );
    expect(closed).toBe(true);
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    await stillServes();
  });

  it('a 1 MiB header gets 431 and a close', async () => {
    const { reply, closed } = await rawExchange(
      tp.proxy.port,
      `GET http://ok.test/ HTTP/1.1\r\nHost: ok.test\r\nX-Big: ${'a'.repeat(1024 * 1024)}\r\n\r\n`,
    );
    expect(closed).toBe(true);
    expect(reply).toMatch(/^HTTP\/1\.1 431/);
    await stillServes();
  });

  it('a 1 MiB header inside intercepted HTTPS gets 431 and a close (the client had accepted)', async () => {
    const { socket } = await openTunnel(tp.proxy.port, `big.test:${origin.httpsPort}`);
    const s = tls.connect({ socket, servername: 'big.test', ca: [tp.ca.certPem] });
    await new Promise((r) => s.once('secureConnect', r));
    let reply = '';
    s.on('data', (c: Buffer) => (reply += c.toString()));
    s.on('error', () => undefined);
    s.write(`GET / HTTP/1.1\r\nHost: big.test\r\nX-Big: ${'a'.repeat(1024 * 1024)}\r\n\r\n`);
    await new Promise((r) => s.once('close', r));
    expect(reply).toMatch(/^HTTP\/1\.1 431/);
    const accepted = await tp.waitFor('tls.client-accepted', (e) => e.host === 'big.test');
    expect(tp.of('tls.client-rejected').filter((e) => e.connId === accepted.connId)).toHaveLength(
      0,
    );
    // One answer and one diag, however many chunks of the header came after the parse error.
    await tp.waitFor('conn.close', (e) => e.connId === accepted.connId);
    const malformed = tp
      .of('diag')
      .filter((e) => e.connId === accepted.connId && e.message.includes('malformed decrypted'));
    expect(malformed.map((e) => e.message)).toEqual([
      'malformed decrypted request (HPE_HEADER_OVERFLOW): answered 431 Request Header Fields Too Large',
    ]);
    await stillServes();
  });

  it('a truncated ClientHello: a diag naming it, and a close', async () => {
    const { socket } = await openTunnel(tp.proxy.port, `ok.test:${origin.httpsPort}`);
    // A record header announcing 512 bytes, then only a few of them, then FIN.
    socket.end(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    await new Promise((r) => socket.once('close', r));
    await tp.waitFor('diag', (e) => e.message.includes('middle of its ClientHello'));
    await stillServes();
  });

  it('a client that resets in the middle of the handshake: reset-during-handshake', async () => {
    const hello = await captureClientHello('reset.test');
    const { socket } = await openTunnel(tp.proxy.port, `reset.test:${origin.httpsPort}`);
    socket.write(hello);
    // Reset as soon as the server's first flight arrives: the forged certificate never gets judged.
    socket.once('data', () => socket.resetAndDestroy());
    const rej = await tp.waitFor('tls.client-rejected', (e) => e.host === 'reset.test');
    expect(rej.outcome).toBe('reset-during-handshake');
    await stillServes();
  });

  it('a slow client (CONNECT and ClientHello dribbled in small pieces) is served', async () => {
    const hello = await captureClientHello('slow.test');
    const socket = net.connect(tp.proxy.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const pause = () => new Promise((r) => setTimeout(r, 15));
    const request = `CONNECT slow.test:${origin.httpsPort} HTTP/1.1\r\nHost: slow.test\r\n\r\n`;
    const replies: Buffer[] = [];
    socket.on('data', (c: Buffer) => replies.push(c));
    for (let i = 0; i < request.length; i += 7) {
      socket.write(request.slice(i, i + 7));
      await pause();
    }
    for (let i = 0; i < hello.length; i += 64) {
      socket.write(hello.subarray(i, i + 64));
      await pause();
    }
    const forged = await tp.waitFor('tls.forged', (e) => e.host === 'slow.test');
    expect(forged.sni).toBe('slow.test');
    // The 200, then the server's first flight: a TLS handshake record. Wait for the bytes
    // themselves (a loaded machine may take a while to mint and answer), bounded at 10 s.
    const handshakeSeen = (): boolean => Buffer.concat(replies).includes(Buffer.from([0x16, 0x03]));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 10_000);
      function done(): void {
        clearTimeout(timer);
        socket.off('data', check);
        resolve();
      }
      function check(): void {
        if (handshakeSeen()) done();
      }
      socket.on('data', check);
      check();
    });
    const text = Buffer.concat(replies);
    expect(text.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    expect(text.includes(Buffer.from([0x16, 0x03]))).toBe(true);
    socket.destroy();
    await stillServes();
  });

  it('a client that stalls after its ClientHello: the attempt ends as a timeout', async () => {
    const hello = await captureClientHello('stall.test');
    const { socket } = await openTunnel(tp.proxy.port, `stall.test:${origin.httpsPort}`);
    socket.on('data', () => undefined); // read the server's flight, answer nothing
    socket.on('error', () => undefined);
    socket.write(hello);
    const rej = await tp.waitFor('tls.client-rejected', (e) => e.host === 'stall.test', 8000);
    expect(rej.outcome).toBe('timeout');
    socket.destroy();
  });

  it('a client that pipelines its ClientHello right behind the CONNECT is read once, as TLS', async () => {
    const hello = await captureClientHello('pipelined.test');
    const socket = net.connect(tp.proxy.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.on('data', () => undefined);
    socket.write(
      Buffer.concat([
        Buffer.from(
          `CONNECT pipelined.test:${origin.httpsPort} HTTP/1.1\r\nHost: pipelined.test\r\n\r\n`,
        ),
        hello,
      ]),
    );
    const forged = await tp.waitFor('tls.forged', (e) => e.host === 'pipelined.test');
    socket.destroy();
    const close = await tp.waitFor('conn.close', (e) => e.connId === forged.connId);
    expect(close.wire.records[0]).toMatchObject({
      dir: 'up',
      handshake: ['ClientHello'],
      length: hello.length - 5,
    });
    expect(close.wire.up.size).toBe(
      hello.length +
        Buffer.byteLength(
          `CONNECT pipelined.test:${origin.httpsPort} HTTP/1.1\r\nHost: pipelined.test\r\n\r\n`,
        ),
    );
  });

  it('a client that never sends a ClientHello is tunnelled after the timeout (the server may speak first)', async () => {
    const { socket } = await openTunnel(tp.proxy.port, `silent.test:${origin.httpPort}`);
    await tp.waitFor('diag', (e) => e.message.includes('no ClientHello within'), 4000);
    // It is a tunnel to the origin's HTTP port now: speak HTTP through it.
    socket.write('GET /late HTTP/1.1\r\nHost: silent.test\r\nConnection: close\r\n\r\n');
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('close', () => resolve(text));
    });
    expect(reply).toContain('hello GET /late');
    const summary = await tp.waitFor('tunnel.summary', (e) => e.host === 'silent.test');
    expect(summary.reason).toBe('not-tls');
  });

  it('plain HTTP inside a CONNECT tunnel is shown like plain HTTP', async () => {
    const { socket } = await openTunnel(tp.proxy.port, `inner.localhost:${origin.httpPort}`);
    socket.write(
      'POST /inside HTTP/1.1\r\nHost: inner.localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
    );
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('close', () => resolve(text));
    });
    expect(reply).toContain('hello POST /inside body=hello');
    const req = await tp.waitFor('http.request', (e) => e.path === '/inside');
    expect(req).toMatchObject({ scheme: 'http', visibility: 'wire', body: { text: 'hello' } });
  });

  it('a client that connects and says nothing is closed by nobody but costs nothing; close() still returns', async () => {
    const idle = net.connect(tp.proxy.port, '127.0.0.1');
    await new Promise((r) => idle.once('connect', r));
    await stillServes();
    idle.destroy();
  });
});

describe('files', () => {
  it('nothing was written outside the CA folder, and no leaf file inside it', () => {
    expect(listFiles(tp.caDir)).toEqual(caFilesBefore);
    // http-mitm-proxy wrote `<ca>/keys/<host>.key` and `<ca>/certs/<host>.pem`: for
    // `CONNECT ../../x:443` that is x.key and x.pem next to the CA folder.
    const parent = path.dirname(tp.caDir);
    for (const f of ['x.key', 'x.pem']) expect(existsSync(path.join(parent, f)), f).toBe(false);
    // No key or certificate file appeared in the temp folder or the working directory (other
    // test files run in parallel: their own files live in mitm-lab-* folders).
    const keyish = (f: string): boolean => /\.(key|pem|crt)$/.test(f);
    expect(readdirSync(os.tmpdir()).filter((f) => keyish(f) && !tmpBefore.includes(f))).toEqual([]);
    expect(readdirSync(process.cwd()).filter((f) => keyish(f) && !cwdBefore.includes(f))).toEqual(
      [],
    );
  });
});

describe('a throw inside the engine', () => {
  it('becomes a diag event, the connection is closed, and the proxy keeps serving', async () => {
    const broken = await startTestProxy({ resolve: [{ pattern: '*.test', address: '127.0.0.1' }] });
    try {
      // A CA whose name check throws: an internal bug, as far as the engine can tell.
      const ca = Object.create(broken.ca) as typeof broken.ca;
      ca.permits = () => {
        throw new Error('boom in permits');
      };
      const inner = await startTestProxy({
        ca,
        resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
      });
      try {
        const r = await curl([
          '-x',
          inner.proxy.url,
          '--cacert',
          broken.ca.certPath,
          `https://bug.test:${origin.httpsPort}/`,
        ]);
        expect(r.code).not.toBe(0);
        const d = await inner.waitFor(
          'diag',
          (e) => e.level === 'error' && e.message.includes('boom in permits'),
        );
        expect(d.message).toContain('internal error');
        const ok = await curl([
          '-x',
          inner.proxy.url,
          `http://after.localhost:${origin.httpPort}/after`,
        ]);
        expect(ok.stdout).toBe('hello GET /after body=');
      } finally {
        await inner.close();
      }
    } finally {
      await broken.close();
    }
  });
});
