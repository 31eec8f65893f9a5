// Issue 13, item 13: listening on 0.0.0.0, the proxy relayed `CONNECT 127.0.0.1:PORT` and
// `GET http://127.0.0.1:PORT/` to the machine's own loopback services. Now, unless it listens
// on 127.0.0.1 / ::1 only, targets on its own machine get 403 and a sentence unless
// --allow-target (or a --resolve rule) names them; and the proxy's own address is refused in
// every mode.
//
// A test cannot listen on a non-loopback address (loopback only, here), so the proxy listens
// on 127.0.0.2: another loopback alias, which stands in for a LAN address. The check applies
// to any --listen other than 127.0.0.1 / ::1 (src/proxy/target-guard.ts), so 127.0.0.2 is
// treated exactly as 0.0.0.0 or 192.168.1.10 would be.
import { rmSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  curl,
  makeTestPki,
  rawExchange,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from '../integration/helpers.ts';
import { ROOT, spawnCli, type CliProcess } from '../support/cli.ts';
import { tempDir } from '../support/temp-dir.ts';

const DENY_DNS = path.join(ROOT, 'test/support/deny-dns.mjs');

let origin: Origin;

beforeAll(async () => {
  origin = await startOrigin(makeTestPki().leaf(['127.0.0.1']));
});
afterAll(async () => {
  await origin?.close();
});

/**
 * `mitm-lab proxy --listen 127.0.0.2:0 ARGS`, once it listens; its URL. `dnsAnswers`: the
 * names its "system resolver" answers, and with what (support/deny-dns.mjs: no test asks a
 * real resolver; every other name fails as unknown).
 */
async function startOn127002(
  args: string[],
  dnsAnswers: Record<string, string> = {},
): Promise<{ p: CliProcess; url: string; stop: () => Promise<void> }> {
  const { dir } = tempDir('mitm-lab-own-');
  const p = spawnCli(
    ['proxy', '--listen', '127.0.0.2:0', '--headless', '--ca-dir', path.join(dir, 'ca'), ...args],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import ${DENY_DNS}`.trim(),
        MITM_LAB_TEST_DNS_ANSWERS: JSON.stringify(dnsAnswers),
      },
    },
  );
  const m = await p.waitForOutput(/listening on (http:\/\/127\.0\.0\.2:\d+)/, 'banner', 20_000);
  return {
    p,
    url: m[1] as string,
    stop: async () => {
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const SENTENCE =
  /is on the proxy's own machine: a proxy listening on 127\.0\.0\.2 does not let its clients reach this machine's own services/;

describe("a proxy listening beyond 127.0.0.1 refuses its own machine's services (issue 13, item 13)", () => {
  let proxy: Awaited<ReturnType<typeof startOn127002>>;
  beforeAll(async () => {
    proxy = await startOn127002([]);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('GET http://127.0.0.1:PORT/ → 403 with the sentence, the origin never asked', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '-w',
      '\n%{http_code}',
      '-x',
      proxy.url,
      `http://127.0.0.1:${origin.httpPort}/private`,
    ]);
    expect(r.stdout.trim().split('\n').pop()).toBe('403');
    expect(r.stdout).toMatch(SENTENCE);
    expect(r.stdout).toContain(`--allow-target 127.0.0.1:${origin.httpPort}`);
    expect(r.stdout).not.toContain('hello GET');
  });

  it('CONNECT 127.0.0.1:PORT → 403 with the sentence, no tunnel', async () => {
    const port = Number(new URL(proxy.url).port);
    const { reply } = await rawExchange(
      port,
      `CONNECT 127.0.0.1:${origin.httpsPort} HTTP/1.1\r\nHost: 127.0.0.1:${origin.httpsPort}\r\n\r\n`,
      { host: '127.0.0.2' },
    );
    expect(reply).toMatch(/^HTTP\/1\.1 403 /);
    expect(reply).toMatch(SENTENCE);
  });

  it('localhost is the same machine: 403', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '-w',
      '\n%{http_code}',
      '-x',
      proxy.url,
      `http://localhost:${origin.httpPort}/`,
    ]);
    expect(r.stdout.trim().split('\n').pop()).toBe('403');
    expect(r.stdout).toMatch(SENTENCE);
  });
});

describe('a name that resolves to the proxy machine is refused like its address (issue 13, Deliver 4)', () => {
  // What "the system resolver" answers in this proxy (support/deny-dns.mjs; no real DNS).
  const DNS = {
    'intranet.example': '127.0.0.1',
    'allowed.example': '127.0.0.1',
    'elsewhere.example': '192.0.2.10', // TEST-NET-1: another machine (never connected to here)
  };
  let proxy: Awaited<ReturnType<typeof startOn127002>>;
  let port: number;
  beforeAll(async () => {
    proxy = await startOn127002(['--allow-target', `allowed.example:${origin.httpPort}`], DNS);
    port = Number(new URL(proxy.url).port);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('GET http://NAME:PORT/ → 403 naming the address it resolved to, the origin never asked', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '-w',
      '\n%{http_code}',
      '-x',
      proxy.url,
      `http://intranet.example:${origin.httpPort}/private`,
    ]);
    expect(r.stdout.trim().split('\n').pop()).toBe('403');
    expect(r.stdout).toContain(
      `intranet.example:${origin.httpPort} (127.0.0.1) is on the proxy's own machine`,
    );
    expect(r.stdout).toMatch(SENTENCE);
    expect(r.stdout).toContain(`--allow-target intranet.example:${origin.httpPort}`);
    expect(r.stdout).not.toContain('hello GET');
  });

  it('CONNECT NAME:PORT → 403 with the sentence before any tunnel', async () => {
    const { reply } = await rawExchange(
      port,
      `CONNECT intranet.example:${origin.httpsPort} HTTP/1.1\r\nHost: intranet.example:${origin.httpsPort}\r\n\r\n`,
      { host: '127.0.0.2' },
    );
    expect(reply).toMatch(/^HTTP\/1\.1 403 /);
    expect(reply).toMatch(SENTENCE);
  });

  it('a WebSocket upgrade to NAME:PORT → 403 with the sentence, never a 101', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '-w',
      '\n%{http_code}',
      '-x',
      proxy.url,
      '-H',
      'Upgrade: websocket',
      '-H',
      'Connection: Upgrade',
      '-H',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      '-H',
      'Sec-WebSocket-Version: 13',
      `http://intranet.example:${origin.httpPort}/`,
    ]);
    expect(r.stdout.trim().split('\n').pop()).toBe('403');
    expect(r.stdout).toMatch(SENTENCE);
  });

  it('--allow-target NAME:PORT reaches the service', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '-x',
      proxy.url,
      `http://allowed.example:${origin.httpPort}/ok`,
    ]);
    expect(r.stdout).toContain('hello GET /ok');
  });

  it('a name that resolves to another machine is not refused (CONNECT answered 200)', async () => {
    // The client leaves right after the 200, before any ClientHello: nothing is connected to.
    const { reply } = await rawExchange(
      port,
      'CONNECT elsewhere.example:443 HTTP/1.1\r\nHost: elsewhere.example:443\r\n\r\n',
      { host: '127.0.0.2', timeoutMs: 1000 },
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('--allow-target names a service on the machine (issue 13, item 13)', () => {
  let proxy: Awaited<ReturnType<typeof startOn127002>>;
  beforeAll(async () => {
    proxy = await startOn127002([
      '--allow-target',
      `127.0.0.1:${origin.httpPort}`,
      '--allow-target',
      `127.0.0.1:${origin.httpsPort}`,
    ]);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('GET http://127.0.0.1:PORT/ reaches the origin', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '-x',
      proxy.url,
      `http://127.0.0.1:${origin.httpPort}/ok`,
    ]);
    expect(r.stdout).toContain('hello GET /ok');
  });

  it('CONNECT 127.0.0.1:PORT is answered 200', async () => {
    const port = Number(new URL(proxy.url).port);
    const { reply } = await rawExchange(
      port,
      `CONNECT 127.0.0.1:${origin.httpsPort} HTTP/1.1\r\nHost: 127.0.0.1:${origin.httpsPort}\r\n\r\n`,
      { host: '127.0.0.2', timeoutMs: 1500 },
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a port it does not name is still refused', async () => {
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '-w',
      '\n%{http_code}',
      '-x',
      proxy.url,
      `http://127.0.0.1:${origin.httpPort + 1 === origin.httpsPort ? origin.httpsPort + 1 : origin.httpPort + 1}/`,
    ]);
    expect(r.stdout.trim().split('\n').pop()).toBe('403');
  });
});

describe('the proxy itself is refused in every mode (issue 13, item 13)', () => {
  let tp: TestProxy;
  beforeAll(async () => {
    const selfLookup = ((
      host: string,
      opts: { all?: boolean },
      cb: (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void,
    ) => {
      if (host !== 'self.example') {
        const err: NodeJS.ErrnoException = new Error(`${host}: unknown (test lookup)`);
        err.code = 'ENOTFOUND';
        return process.nextTick(cb, err, undefined);
      }
      if (opts.all) process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
      else process.nextTick(cb, null, '127.0.0.1', 4);
    }) as unknown as LookupFunction;
    tp = await startTestProxy({ mode: 'eavesdrop', systemLookup: selfLookup });
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('a name that resolves to the proxy itself → 403, loop named', async () => {
    // The in-process proxy's system lookup answers self.example with 127.0.0.1 (no real DNS).
    const r = await curl([
      '-sS',
      '--max-time',
      '10',
      '-w',
      '\n%{http_code}',
      '-x',
      tp.proxy.url,
      `http://self.example:${tp.proxy.port}/`,
    ]);
    expect(r.stdout.trim().split('\n').pop()).toBe('403');
    expect(r.stdout).toContain(`self.example:${tp.proxy.port} is this proxy itself`);
  });

  it('listening on 127.0.0.1 (no other guard): CONNECT to its own port → 403, loop named', async () => {
    const { reply } = await rawExchange(
      tp.proxy.port,
      `CONNECT 127.0.0.1:${tp.proxy.port} HTTP/1.1\r\nHost: 127.0.0.1:${tp.proxy.port}\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 403 /);
    expect(reply).toContain('is this proxy itself');
    // …while other loopback targets are allowed on a loopback-only proxy.
    const { reply: ok } = await rawExchange(
      tp.proxy.port,
      `CONNECT 127.0.0.1:${origin.httpsPort} HTTP/1.1\r\nHost: 127.0.0.1:${origin.httpsPort}\r\n\r\n`,
      { timeoutMs: 1000 },
    );
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
  });
});
