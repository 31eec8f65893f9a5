// Issue 13, item 12: ways around `--auth`.
//  - The internal TLS servers (where intercepted clients are decrypted) listen on 127.0.0.1;
//    any local process could connect to them straight and have its requests forwarded with no
//    credentials. Now they take no connection from the network: the engine hands them its
//    clients' sockets in the process (./src/proxy/tls-handoff.ts).
//  - Wrong passwords were answered as fast as they came (2,000 in 779 ms on one connection).
//    Now, after 5 from one address, each further 407 waits (./src/proxy/auth-throttle.ts).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_DELAY_MS, FREE_FAILURES } from '../../src/proxy/auth-throttle.ts';
import {
  curl,
  makeTestPki,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from '../integration/helpers.ts';

const USER = 'alice';
const PASS = 's3cret';
const basic = (user: string, pass: string): string =>
  `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

let origin: Origin;
let tp: TestProxy;

beforeAll(async () => {
  const pki = makeTestPki();
  origin = await startOrigin(pki.leaf(['bank.test']));
  tp = await startTestProxy({
    mode: 'intercept',
    auth: { user: USER, pass: PASS },
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: 'bank.test', address: '127.0.0.1' }],
  });
});

afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

/**
 * The TCP ports this process listens on (its own sockets in /proc/net/tcp): how a local process
 * finds the internal servers — the engine itself reads them from the library's `httpsPort`.
 */
function ownListeningPorts(): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9] as string)) continue;
    ports.push(parseInt((f[1] as string).split(':')[1] as string, 16));
  }
  return ports;
}

/** Connect to `port`, send `data`, return what came back before the close (or the timeout). */
function knock(port: number, data: Buffer): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ reply: Buffer.concat(chunks), closed: false });
    }, 3000);
    s.on('connect', () => s.write(data));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks), closed: true });
    });
  });
}

describe('the internal TLS servers take only what the engine hands them (issue 13, item 12)', () => {
  it('an intercepted request with the password works; a straight connection is closed unanswered', async () => {
    // Through the door: CONNECT with the password, decrypted, answered.
    const ok = await curl([
      '-sS',
      '--max-time',
      '10',
      '-x',
      tp.proxy.url,
      '--proxy-user',
      `${USER}:${PASS}`,
      '--cacert',
      tp.ca.certPath,
      `https://bank.test:${origin.httpsPort}/through-the-door`,
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain('hello GET /through-the-door');

    const known = new Set([tp.proxy.port, origin.httpPort, origin.httpsPort]);
    const internal = ownListeningPorts().filter((p) => !known.has(p));
    // The library's SNI server and the engine's no-SNI server.
    expect(internal.length).toBeGreaterThanOrEqual(2);
    const requests = tp.of('http.request').length;
    for (const port of internal) {
      // A real ClientHello: a server that took the connection would answer a ServerHello.
      const hello = await clientHelloBytes();
      const { reply, closed } = await knock(port, hello);
      expect(closed).toBe(true);
      expect(reply.length).toBe(0);
    }
    expect(tp.of('http.request').length).toBe(requests);
    const diags = tp.of('diag').filter((d) => d.message.includes('did not come through CONNECT'));
    expect(diags.length).toBeGreaterThanOrEqual(internal.length);
  });
});

/** The first flight of a real TLS client (Node's), captured from a throwaway socket pair. */
async function clientHelloBytes(): Promise<Buffer> {
  const tls = await import('node:tls');
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      s.once('data', (c: Buffer) => {
        resolve(c);
        s.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const c = tls.connect({ port, host: '127.0.0.1', servername: 'bank.test' });
      c.on('error', () => undefined);
    });
    server.on('error', reject);
  });
}

describe('wrong passwords are slowed per client address (issue 13, item 12)', () => {
  it('200 wrong passwords on one connection take seconds (not 78 ms); the right one still works', async () => {
    const s = net.connect(tp.proxy.port, '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    let buffered = '';
    s.on('data', (c: Buffer) => (buffered += c.toString('latin1')));
    /** Send one request, wait for one complete response (407 bodies are short and fixed). */
    const ask = async (auth: string): Promise<string> => {
      buffered = '';
      s.write(
        `GET http://127.0.0.1:${origin.httpPort}/x HTTP/1.1\r\nHost: 127.0.0.1:${origin.httpPort}\r\n` +
          `Proxy-Authorization: ${auth}\r\n\r\n`,
      );
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end >= 0) {
          const head = buffered.slice(0, end);
          const len = /content-length:\s*(\d+)/i.exec(head);
          const chunked = /transfer-encoding:\s*chunked/i.test(head);
          const body = buffered.slice(end + 4);
          if (len && body.length >= Number(len[1])) return head.split('\r\n')[0] as string;
          if (chunked && body.endsWith('0\r\n\r\n')) return head.split('\r\n')[0] as string;
        }
        if (s.destroyed) throw new Error(`connection closed; got ${JSON.stringify(buffered)}`);
        await new Promise<void>((r) => s.once('data', () => r()));
      }
    };
    const start = performance.now();
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      expect(await ask(basic(USER, `wrong${i}`))).toContain('407');
      times.push(performance.now() - t0);
    }
    const elapsed = performance.now() - start;
    // Before: 2,000 in 779 ms, so 200 in ~78 ms. Now every one after the 5th waits 20 ms.
    expect(elapsed).toBeGreaterThan((200 - FREE_FAILURES) * BASE_DELAY_MS * 0.9);
    const slowed = times.slice(FREE_FAILURES).filter((t) => t >= BASE_DELAY_MS * 0.9);
    expect(slowed.length).toBe(200 - FREE_FAILURES);

    const t0 = performance.now();
    expect(await ask(basic(USER, PASS))).toContain('200');
    expect(performance.now() - t0).toBeLessThan(2000);
    console.log(
      `200 wrong passwords: ${Math.round(elapsed)} ms; right one after: ${Math.round(performance.now() - t0)} ms`,
    );
    s.destroy();
  });
});
