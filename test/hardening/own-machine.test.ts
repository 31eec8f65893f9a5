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
import { spawnCli, type CliProcess } from '../support/cli.ts';
import { tempDir } from '../support/temp-dir.ts';

let origin: Origin;

beforeAll(async () => {
  origin = await startOrigin(makeTestPki().leaf(['127.0.0.1']));
});
afterAll(async () => {
  await origin?.close();
});

/** `mitm-lab proxy --listen 127.0.0.2:0 ARGS`, once it listens; its URL. */
async function startOn127002(
  args: string[],
): Promise<{ p: CliProcess; url: string; stop: () => Promise<void> }> {
  const { dir } = tempDir('mitm-lab-own-');
  const p = spawnCli([
    'proxy',
    '--listen',
    '127.0.0.2:0',
    '--headless',
    '--ca-dir',
    path.join(dir, 'ca'),
    ...args,
  ]);
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
    tp = await startTestProxy({ mode: 'eavesdrop' });
  });
  afterAll(async () => {
    await tp?.close();
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
