// peekClientHello on real sockets: real clients' ClientHellos are read (SNI, ALPN, versions,
// suites, fingerprints, client hint), every byte is put back (a real TLS handshake or a real
// HTTP exchange still completes after the peek), and silence, half hellos and garbage end in
// their own outcome with no listener left behind.
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  guessClient,
  parseHello,
  peekClientHello,
  readClientHelloMessage,
  type HelloPeek,
} from '../../src/proxy/client-hello.ts';
import {
  curl,
  hasTool,
  python,
  run,
  startTappedRelay,
  startTlsServer,
  useSelfSignedCert,
} from './passive-tls-kit.ts';
import { closeServer, connectLoopback, listenLoopback } from '../support/net.ts';
import { sleep } from '../support/wait.ts';

// The library's own stream reader, the reference the synchronous reader is checked against.
const rtch = createRequire(import.meta.url)(
  'read-tls-client-hello',
) as typeof import('read-tls-client-hello');

const cert = useSelfSignedCert();

const WATCHED = ['readable', 'data', 'end', 'close', 'error'] as const;
function listenerCounts(s: net.Socket): number[] {
  return WATCHED.map((e) => s.listenerCount(e));
}

interface PeekServer {
  port: number;
  /** Next connection's peek result, the socket, and the listener counts before/after. */
  next(): Promise<{ peek: HelloPeek; socket: net.Socket; before: number[]; after: number[] }>;
  close(): Promise<void>;
}

/** A TCP server that peeks at each connection, then runs `then(socket, peek)`. */
async function startPeekServer(
  timeoutMs: number,
  then: (socket: net.Socket, peek: HelloPeek) => void = () => undefined,
  opts: { handOver?: boolean } = {},
): Promise<PeekServer> {
  type Result = Awaited<ReturnType<PeekServer['next']>>;
  const queue: Result[] = [];
  const waiters: ((r: Result) => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer(async (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const before = listenerCounts(socket);
    const peek = await peekClientHello(socket, timeoutMs, opts);
    const after = listenerCounts(socket);
    const result = { peek, socket, before, after };
    then(socket, peek);
    const w = waiters.shift();
    if (w) w(result);
    else queue.push(result);
  });
  return {
    port: await listenLoopback(server),
    next: () => {
      const r = queue.shift();
      return r ? Promise.resolve(r) : new Promise<Result>((res) => waiters.push(res));
    },
    close: () => closeServer(server, sockets),
  };
}

/** A TLS server fed by hand (after the peek), answering `ok:<alpn>` to any data. */
function handoffTlsServer(opts: tls.TlsOptions = {}): tls.Server {
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem, ...opts }, (s) => {
    s.on('error', () => s.destroy());
    s.on('data', () => s.end(`ok:${s.alpnProtocol || 'none'}`));
  });
  return server;
}

/** Capture the exact ClientHello bytes a Node TLS client sends. */
async function captureClientHello(opts: tls.ConnectionOptions = {}): Promise<Buffer> {
  const server = net.createServer();
  const port = await listenLoopback(server);
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
          resolve(all.subarray(0, 5 + all.readUInt16BE(3)));
          s.destroy();
        }
      });
    });
  });
  const client = tls.connect({ port, host: '127.0.0.1', servername: 'hello.test', ...opts });
  client.on('error', () => undefined);
  const hello = await got;
  client.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return hello;
}

const connect = connectLoopback;

function readAll(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}

describe('peekClientHello with a Node TLS client', () => {
  it('reads SNI, ALPN, versions, suites and fingerprints, then the handshake completes', async () => {
    const tlsServer = handoffTlsServer({ ALPNProtocols: ['h2', 'http/1.1'] });
    const peeker = await startPeekServer(5000, (socket) => tlsServer.emit('connection', socket));
    try {
      const client = tls.connect({
        port: peeker.port,
        host: '127.0.0.1',
        servername: 'bank.test',
        ca: [cert.certPem],
        checkServerIdentity: () => undefined, // the cert names localhost; SNI says bank.test
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      const answer = new Promise<string>((resolve, reject) => {
        client.on('secureConnect', () => client.write('hi'));
        client.on('error', reject);
        let out = '';
        client.on('data', (d: Buffer) => (out += d.toString()));
        client.on('end', () => resolve(out));
      });
      const { peek, before, after } = await peeker.next();
      expect(peek.kind).toBe('tls');
      if (peek.kind !== 'tls') return;
      const h = peek.hello;
      expect(h.sni).toBe('bank.test');
      expect(h.alpn).toEqual(['h2', 'http/1.1']);
      expect(h.versions).toEqual(['TLS 1.3', 'TLS 1.2']);
      expect(h.cipherSuites).toContain('TLS_AES_128_GCM_SHA256');
      expect(h.cipherSuites).toContain('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
      expect(h.cipherSuites.every((c) => /^(TLS_[A-Z0-9_]+|0x[0-9A-F]{4})$/.test(c))).toBe(true);
      expect(h.ja3).toMatch(/^[0-9a-f]{32}$/);
      expect(h.ja4).toMatch(/^t13d\d{4}h2_[0-9a-f]{12}_[0-9a-f]{12}$/);
      expect(h.clientHint).toBe('node');
      expect(after).toEqual(before);
      // Every byte was put back: the real handshake and an exchange complete after the peek.
      expect(await answer).toBe('ok:h2');
    } finally {
      await peeker.close();
    }
  });

  it('reports only TLS 1.2 for a client capped at TLS 1.2, and no SNI for an IP', async () => {
    const tlsServer = handoffTlsServer();
    const peeker = await startPeekServer(5000, (socket) => tlsServer.emit('connection', socket));
    try {
      const client = tls.connect({
        port: peeker.port,
        host: '127.0.0.1',
        ca: [cert.certPem],
        maxVersion: 'TLSv1.2',
      });
      const secured = new Promise<string | null>((resolve, reject) => {
        client.on('secureConnect', () => resolve(client.getProtocol()));
        client.on('error', reject);
      });
      const { peek } = await peeker.next();
      expect(peek.kind).toBe('tls');
      if (peek.kind !== 'tls') return;
      expect(peek.hello.sni).toBeNull();
      expect(peek.hello.versions).toEqual(['TLS 1.2']);
      expect(peek.hello.cipherSuites).not.toContain('TLS_AES_128_GCM_SHA256');
      expect(peek.hello.ja4.startsWith('t12i')).toBe(true);
      expect(await secured).toBe('TLSv1.2');
      client.destroy();
    } finally {
      await peeker.close();
    }
  });
});

describe('peekClientHello with real command-line clients (peek, then pipe to a TLS server)', () => {
  it.skipIf(!hasTool('curl'))(
    'reads curl: SNI, ALPN h2, hint curl; curl still gets its answer',
    async () => {
      const server = await startTlsServer(cert);
      const relay = await startTappedRelay(server.port, { peek: true });
      try {
        const r = await curl(relay.port, ['--cacert', cert.certPath]);
        expect(r.stdout).toBe('hello');
        const [conn] = await relay.settled(1);
        const peek = conn?.peek;
        expect(peek?.kind).toBe('tls');
        if (peek?.kind !== 'tls') return;
        expect(peek.hello.sni).toBe('localhost');
        expect(peek.hello.alpn).toContain('http/1.1');
        expect(peek.hello.versions[0]).toBe('TLS 1.3');
        expect(peek.hello.clientHint).toBe('curl');
      } finally {
        await relay.close();
        await server.close();
      }
    },
  );

  it.skipIf(!hasTool('openssl'))(
    'reads openssl s_client (no ALPN) and limits versions with -tls1_2',
    async () => {
      const server = await startTlsServer(cert);
      const relay = await startTappedRelay(server.port, { peek: true });
      try {
        const r = await run(
          'openssl',
          [
            's_client',
            '-connect',
            `127.0.0.1:${relay.port}`,
            '-servername',
            'shop.test',
            '-tls1_2',
          ],
          '',
        );
        expect(r.stdout).toContain('Protocol  : TLSv1.2');
        const [conn] = await relay.settled(1);
        const peek = conn?.peek;
        expect(peek?.kind).toBe('tls');
        if (peek?.kind !== 'tls') return;
        expect(peek.hello.sni).toBe('shop.test');
        expect(peek.hello.alpn).toEqual([]);
        expect(peek.hello.versions).toEqual(['TLS 1.2']);
        expect(peek.hello.clientHint).toBe('openssl');
      } finally {
        await relay.close();
        await server.close();
      }
    },
  );

  it.skipIf(!hasTool('python3'))(
    'reads python ssl: hint python, TLS 1.3 and 1.2 only',
    async () => {
      const server = await startTlsServer(cert);
      const relay = await startTappedRelay(server.port, { peek: true });
      try {
        const r = await python(relay.port, cert.certPath);
        expect(r.stdout).toContain('TLSv1.3');
        const [conn] = await relay.settled(1);
        const peek = conn?.peek;
        expect(peek?.kind).toBe('tls');
        if (peek?.kind !== 'tls') return;
        expect(peek.hello.sni).toBe('localhost');
        expect(peek.hello.versions).toEqual(['TLS 1.3', 'TLS 1.2']);
        expect(peek.hello.clientHint).toBe('python');
      } finally {
        await relay.close();
        await server.close();
      }
    },
  );
});

describe('peekClientHello outcomes other than a ClientHello', () => {
  it('says not-tls for plain HTTP and puts the request back for an HTTP server', async () => {
    const httpServer = http.createServer((req, res) => res.end(`seen ${req.method} ${req.url}`));
    const peeker = await startPeekServer(5000, (socket) => httpServer.emit('connection', socket));
    try {
      const s = await connect(peeker.port);
      const reply = readAll(s);
      s.write('GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const { peek, before, after } = await peeker.next();
      expect(peek.kind).toBe('not-tls');
      if (peek.kind !== 'not-tls') return;
      expect(peek.firstBytes.toString('latin1')).toMatch(/^GET \/plain HTTP\/1\.1/);
      expect(after).toEqual(before);
      expect(await reply).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*seen GET \/plain$/);
    } finally {
      await peeker.close();
    }
  });

  it('times out on a silent client, leaves nothing behind, and a late ClientHello still works', async () => {
    const tlsServer = handoffTlsServer();
    const peeker = await startPeekServer(150, (socket, peek) => {
      if (peek.kind === 'timeout') tlsServer.emit('connection', socket);
    });
    try {
      const raw = await connect(peeker.port);
      const t = Date.now();
      const { peek, before, after } = await peeker.next();
      expect(peek.kind).toBe('timeout');
      expect(Date.now() - t).toBeLessThan(2000);
      expect(after).toEqual(before);
      // Now the client speaks: a real TLS client over the same TCP connection.
      const client = tls.connect({ socket: raw, servername: 'localhost', ca: [cert.certPem] });
      const answer = new Promise<string>((resolve, reject) => {
        client.on('secureConnect', () => client.write('late'));
        client.on('data', (d: Buffer) => resolve(d.toString()));
        client.on('error', reject);
      });
      expect(await answer).toBe('ok:none');
      client.destroy();
    } finally {
      await peeker.close();
    }
  });

  it('puts back a partial ClientHello on timeout, and the rest completes it', async () => {
    const hello = await captureClientHello();
    const peeker = await startPeekServer(150);
    try {
      const s = await connect(peeker.port);
      s.write(hello.subarray(0, 40));
      const { peek, socket } = await peeker.next();
      expect(peek.kind).toBe('timeout');
      s.write(hello.subarray(40));
      const again = await peekClientHello(socket, 2000);
      expect(again.kind).toBe('tls');
      if (again.kind === 'tls') expect(again.hello.sni).toBe('hello.test');
      s.destroy();
    } finally {
      await peeker.close();
    }
  });

  it('says truncated when the client closes in the middle of its ClientHello', async () => {
    const hello = await captureClientHello();
    const peeker = await startPeekServer(5000);
    try {
      const s = await connect(peeker.port);
      s.end(hello.subarray(0, Math.floor(hello.length / 2)));
      const { peek, before, after } = await peeker.next();
      expect(peek).toEqual({ kind: 'truncated' });
      expect(after).toEqual(before);
    } finally {
      await peeker.close();
    }
  });

  it('says closed when the client leaves without a byte', async () => {
    const peeker = await startPeekServer(5000);
    try {
      const s = await connect(peeker.port);
      s.end();
      const { peek, before, after } = await peeker.next();
      expect(peek).toEqual({ kind: 'closed' });
      expect(after).toEqual(before);
    } finally {
      await peeker.close();
    }
  });

  it('says not-tls for garbage that starts like a handshake record', async () => {
    const peeker = await startPeekServer(5000);
    try {
      const s = await connect(peeker.port);
      s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x09, 0, 0, 1, 0]));
      const { peek } = await peeker.next();
      expect(peek.kind).toBe('not-tls');
      if (peek.kind === 'not-tls') expect(peek.firstBytes[0]).toBe(0x16);
      s.destroy();
    } finally {
      await peeker.close();
    }
  });

  it('reassembles a ClientHello fragmented over two records and sent byte by byte', async () => {
    const hello = await captureClientHello({ ALPNProtocols: ['http/1.1'] });
    const body = hello.subarray(5);
    const cut = 100;
    const record = (payload: Buffer): Buffer =>
      Buffer.concat([
        Buffer.from([0x16, 0x03, 0x01, payload.length >> 8, payload.length & 0xff]),
        payload,
      ]);
    const wire = Buffer.concat([record(body.subarray(0, cut)), record(body.subarray(cut))]);
    const peeker = await startPeekServer(5000);
    try {
      const s = await connect(peeker.port);
      s.setNoDelay(true);
      const sending = (async () => {
        for (let i = 0; i < wire.length; i += 37) {
          s.write(wire.subarray(i, i + 37));
          await sleep(2);
        }
      })();
      const { peek, socket } = await peeker.next();
      await sending;
      expect(peek.kind).toBe('tls');
      if (peek.kind !== 'tls') return;
      expect(peek.hello.sni).toBe('hello.test');
      expect(peek.hello.alpn).toEqual(['http/1.1']);
      // The original two-record bytes are what is put back, not the reassembled record.
      await sleep(20);
      const back = socket.read() as Buffer | null;
      expect(back?.equals(wire)).toBe(true);
      s.destroy();
    } finally {
      await peeker.close();
    }
  });

  it('hands a ClientHello and what came with it over when asked, leaving the socket empty', async () => {
    const hello = await captureClientHello({ ALPNProtocols: ['h2'] });
    const extra = Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]); // a ChangeCipherSpec after it
    const peeker = await startPeekServer(5000, undefined, { handOver: true });
    try {
      const s = await connect(peeker.port);
      s.write(Buffer.concat([hello, extra]));
      const { peek, socket, before, after } = await peeker.next();
      expect(peek.kind).toBe('tls');
      if (peek.kind !== 'tls') return;
      expect(peek.hello.alpn).toEqual(['h2']);
      // The bytes are the caller's now: none was put back for a second read.
      expect(peek.bytes.equals(Buffer.concat([hello, extra]))).toBe(true);
      expect(socket.readableLength).toBe(0);
      expect(after).toEqual(before);
      s.destroy();
    } finally {
      await peeker.close();
    }
  });
});

describe('parseHello', () => {
  it('parses a captured ClientHello record and rejects a non-ClientHello', async () => {
    const hello = await captureClientHello({ ALPNProtocols: ['h2'] });
    const info = await parseHello(hello);
    expect(info?.sni).toBe('hello.test');
    expect(info?.alpn).toEqual(['h2']);
    const notHello = Buffer.from(hello);
    notHello[5] = 2; // a ServerHello type byte
    expect(await parseHello(notHello)).toBeNull();
  });

  it("reads the same message as the library's stream reader, in one synchronous pass", async () => {
    for (const opts of [
      { ALPNProtocols: ['h2', 'http/1.1'] },
      { maxVersion: 'TLSv1.2' as const },
      { servername: 'a-rather-long-name.example.test', ALPNProtocols: ['http/1.1'] },
    ]) {
      const record = await captureClientHello(opts);
      const ours = readClientHelloMessage(record);
      const theirs = await rtch.readTlsClientHello(Readable.from(record, { objectMode: false }));
      expect(ours).toEqual(theirs);
      expect(ours?.extensions.length).toBeGreaterThan(3);
    }
  });

  it('refuses a ClientHello cut short or with a length that does not add up', async () => {
    const record = await captureClientHello({ ALPNProtocols: ['h2'] });
    const cut = Buffer.from(record.subarray(0, record.length - 10));
    cut.writeUInt16BE(cut.length - 5, 3); // the record says what it holds; the message does not
    expect(readClientHelloMessage(cut)).toBeNull();
    const shorterExtensions = Buffer.from(record);
    shorterExtensions.writeUIntBE(record.length - 5 - 4 + 1, 6, 3); // message length one too many
    expect(readClientHelloMessage(shorterExtensions)).toBeNull();
  });
});

describe('guessClient (the heuristic, on ClientHello shapes of clients not installed here)', () => {
  type Message = Parameters<typeof guessClient>[0];
  const ext = (id: number, data: Record<string, unknown> | null = null) => ({ id, data });
  const hello = (cipherSuites: number[], extensions: Message['extensions']): Message => ({
    version: 0x0303,
    random: Buffer.alloc(32),
    sessionId: Buffer.alloc(0),
    cipherSuites,
    compressionMethods: [0],
    extensions,
  });
  const alpn = (...protocols: string[]) => ext(16, { protocols });
  const TLS13 = [0x1301, 0x1302, 0x1303];

  it('says chromium for GREASE with ALPS', () => {
    const m = hello([0x7a7a, ...TLS13, 0xc02b], [ext(0x4a4a), alpn('h2', 'http/1.1'), ext(17513)]);
    expect(guessClient(m)).toBe('chromium');
  });

  it('says chromium for GREASE with brotli certificate compression', () => {
    const m = hello([0x0a0a, ...TLS13], [alpn('h2'), ext(27, { algorithms: [2] })]);
    expect(guessClient(m)).toBe('chromium');
  });

  it('says safari for GREASE and h2 without Chromium marks, null without h2', () => {
    expect(guessClient(hello([0x1a1a, ...TLS13], [alpn('h2', 'http/1.1')]))).toBe('safari');
    expect(guessClient(hello([0x1a1a, ...TLS13], [alpn('http/1.1')]))).toBeNull();
  });

  it('says firefox for record_size_limit with delegated_credentials and no GREASE', () => {
    expect(guessClient(hello([...TLS13, 0xc02b], [alpn('h2'), ext(28), ext(34)]))).toBe('firefox');
  });

  it('tells OpenSSL users apart by their TLS 1.2 cipher order and ALPN', () => {
    const openssl = [...TLS13, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xc013, 0x00ff];
    expect(guessClient(hello(openssl, [alpn('h2', 'http/1.1')]))).toBe('curl');
    expect(guessClient(hello(openssl, []))).toBe('openssl');
    expect(guessClient(hello(openssl, [alpn('h2')]))).toBeNull(); // OpenSSL order, unusual ALPN
    expect(guessClient(hello([...TLS13, 0xc02f, 0xc02b, 0x00ff], []))).toBe('node');
    expect(guessClient(hello([...TLS13, 0xc02c, 0xc030, 0xc02b, 0xc02f, 0x00ff], []))).toBe(
      'python',
    );
    // Python's order but with SHA-1 CBC suites is not Python's default: no guess.
    expect(guessClient(hello([...TLS13, 0xc02c, 0xc030, 0xc02b, 0xc013, 0x00ff], []))).toBeNull();
  });

  it('answers null when nothing is specific', () => {
    expect(guessClient(hello([...TLS13, 0xc02f], []))).toBeNull(); // no renegotiation SCSV
    expect(guessClient(hello([0xc02b, 0x00ff], []))).toBeNull();
  });
});
