// The corpus of bad inputs (issue 13): what an attacker, a typo or a broken client sends a proxy
// — malformed CONNECT targets, bytes that are no request, a huge header, a ClientHello cut short,
// and ClientHellos mutated at random (a seeded generator: the same corpus every run). Shared by
// ./corpus.test.ts (every input gets an answer or a close, and the proxy keeps serving) and
// `npm run soak` (thousands of them, with figures).
import net from 'node:net';
import tls from 'node:tls';

/** CONNECT targets the proxy refuses with 400 (Node's parser, or the engine, with a reason). */
export const BAD_CONNECT_TARGETS: readonly string[] = [
  '../../x:443',
  '[:443',
  ':443',
  'bank.test:99999',
  'bank.test:0',
  'bank.test:-1',
  'garbage',
  'a b:443',
  'bank.test:443/x',
  '1.2.3:443',
  '[zz]:443',
  '-bank.test:443',
  `${'a'.repeat(64)}.test:443`,
  `${'a.'.repeat(200)}test:443`,
  'bank.test:443:443',
  '%2e%2e:443',
];

/** Bytes sent as if they were a request. */
export const RAW_INPUTS: readonly { name: string; bytes: Buffer }[] = [
  {
    name: 'a TLS record header with nothing after',
    bytes: Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3, 0x0d, 0x0a, 0x0d, 0x0a]),
  },
  { name: 'a NUL byte', bytes: Buffer.from([0, 0x0d, 0x0a, 0x0d, 0x0a]) },
  { name: 'an HTTP/0.9 line', bytes: Buffer.from('GET /\r\n\r\n') },
  { name: 'an unknown method', bytes: Buffer.from('BREW http://x.test/ HTCPCP/1.0\r\n\r\n') },
  {
    name: 'a 1 MiB header',
    bytes: Buffer.from(
      `GET http://ok.test/ HTTP/1.1\r\nHost: ok.test\r\nX-Big: ${'a'.repeat(1 << 20)}\r\n\r\n`,
    ),
  },
  {
    name: 'a request with a negative Content-Length',
    bytes: Buffer.from(
      'POST http://ok.test/ HTTP/1.1\r\nHost: ok.test\r\nContent-Length: -1\r\n\r\n',
    ),
  },
  {
    name: 'both Content-Length and chunked (request smuggling)',
    bytes: Buffer.from(
      'POST http://ok.test/ HTTP/1.1\r\nHost: ok.test\r\nContent-Length: 4\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ),
  },
  { name: 'a bare CONNECT', bytes: Buffer.from('CONNECT\r\n\r\n') },
  {
    name: 'random bytes',
    bytes: Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 73) & 255)),
  },
];

/** A real ClientHello from Node's TLS client for `servername`, caught by a plain TCP listener. */
export async function captureClientHello(servername: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
  client.on('error', () => undefined); // the listener hangs up on it: expected
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

/** A seeded pseudo-random generator (mulberry32): the same corpus on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` mutations of `hello`: bytes flipped, cut short, length fields set to lie, bytes
 * inserted or repeated — each deterministic for its index.
 */
export function mutatedClientHellos(hello: Buffer, count: number, seed = 13): Buffer[] {
  const rnd = random(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const b = Buffer.from(hello);
    switch (i % 5) {
      case 0: // flip a few bytes anywhere
        for (let k = 1 + int(8); k > 0; k--) b[int(b.length)] = int(256);
        out.push(b);
        break;
      case 1: // cut short
        out.push(b.subarray(0, 1 + int(b.length - 1)));
        break;
      case 2: // a length field that lies (record, handshake, or one further in)
        {
          const at = [3, 6, 7, 43, 44][int(5)]!;
          b[at] = int(256);
          out.push(b);
        }
        break;
      case 3: // bytes inserted in the middle
        {
          const at = int(b.length);
          const extra = Buffer.from(Array.from({ length: 1 + int(64) }, () => int(256)));
          out.push(Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]));
        }
        break;
      default:
        {
          // a slice repeated (duplicate extensions, a record twice)
          const from = int(b.length);
          const to = Math.min(b.length, from + 1 + int(128));
          out.push(Buffer.concat([b, b.subarray(from, to)]));
        }
        break;
    }
  }
  return out;
}

/** What the proxy did with one input, in a few words (the first line of an HTTP answer, …). */
export type Outcome = string;

/** Send `bytes` on a new connection to the proxy; what came back within `waitMs`, or the close. */
export function sendRaw(proxyPort: number, bytes: Buffer, waitMs = 3000): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(proxyPort, '127.0.0.1');
    let got = Buffer.alloc(0);
    let settled = false;
    const done = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => done(got.length > 0 ? describeAnswer(got) : 'no answer yet (still open)'),
      waitMs,
    );
    s.once('connect', () => s.write(bytes));
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.includes('\r\n')) done(describeAnswer(got));
    });
    s.on('error', (err: NodeJS.ErrnoException) =>
      done(got.length > 0 ? describeAnswer(got) : `error ${err.code ?? err.message}`),
    );
    s.once('close', () => done(got.length > 0 ? describeAnswer(got) : 'closed'));
  });
}

/**
 * CONNECT `target` (answered 200), then `hello`: what the proxy's side of the TLS handshake did
 * within `waitMs` — a TLS answer (a ServerHello or an alert), the close, or nothing yet.
 */
export function sendHello(
  proxyPort: number,
  target: string,
  hello: Buffer,
  waitMs = 3000,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(proxyPort, '127.0.0.1');
    let head = '';
    let tlsBytes = Buffer.alloc(0);
    let connected = false;
    let settled = false;
    const done = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(outcome);
    };
    const tlsAnswer = (): Outcome =>
      tlsBytes[0] === 0x15 ? 'TLS alert' : tlsBytes[0] === 0x16 ? 'TLS handshake' : 'bytes';
    const timer = setTimeout(
      () => done(tlsBytes.length > 0 ? tlsAnswer() : 'no answer yet (still open)'),
      waitMs,
    );
    s.once('connect', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    s.on('data', (c: Buffer) => {
      if (!connected) {
        head += c.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!head.startsWith('HTTP/1.1 200')) return done(`CONNECT ${head.split('\r\n')[0]}`);
        connected = true;
        tlsBytes = Buffer.from(head.slice(end + 4), 'latin1');
        s.write(hello);
        return;
      }
      tlsBytes = Buffer.concat([tlsBytes, c]);
      if (tlsBytes.length >= 5) done(tlsAnswer());
    });
    s.on('error', (err: NodeJS.ErrnoException) =>
      done(tlsBytes.length > 0 ? tlsAnswer() : `error ${err.code ?? err.message}`),
    );
    s.once('close', () => done(tlsBytes.length > 0 ? tlsAnswer() : 'closed'));
  });
}

/** The first line of an HTTP answer (`HTTP/1.1 400 Bad Request`), or what else it was. */
function describeAnswer(got: Buffer): Outcome {
  const text = got.toString('latin1');
  return text.startsWith('HTTP/') ? (text.split('\r\n')[0] ?? text) : `${got.length} bytes`;
}

/** Run `inputs` through `send`, `parallel` at a time; how many of each outcome. */
export async function runCorpus(
  inputs: (() => Promise<Outcome>)[],
  parallel = 16,
): Promise<Map<Outcome, number>> {
  const counts = new Map<Outcome, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < inputs.length) {
        const outcome = await inputs[next++]!();
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
      }
    }),
  );
  return counts;
}
