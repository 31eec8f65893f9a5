// Issue 13, item 16: names. `http://user:pass@host/` made the proxy look up the user name as a
// host (http-mitm-proxy splits `user:pass@host` at the first colon), and the offline lab
// (`mitm-lab start`) asked the system resolver for every name outside the lab — Chromium's
// background hosts included. Now credentials in a URL are never a host, and `start` resolves
// lab names by its rules and refuses the rest at once with a sentence, unless --online.
//
// No test here queries the system resolver: the spawned CLI runs with support/deny-dns.mjs
// preloaded (dns.lookup recorded to a file and failed at once), and the in-process test gives
// the proxy its own lookup hook (and fails dns.lookup, should anything still call it).
import dns from 'node:dns';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type LookupFunction } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ROOT, spawnCli, type CliProcess } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { startTestProxy } from '../integration/helpers.ts';

const HAVE_CURL = hasTool('curl');
const DENY_DNS = path.join(ROOT, 'test/support/deny-dns.mjs');
const OFFLINE = 'not a lab name: mitm-lab start is offline; use --online to reach real sites';
const tmp = tempDir('mitm-lab-names-');
const started: CliProcess[] = [];

afterAll(async () => {
  for (const p of started) await p.stop();
  tmp.cleanup();
});

/** `mitm-lab start --headless` with the system resolver replaced by a recorder. */
async function startLab(name: string, ...args: string[]) {
  const dnsLog = path.join(tmp.dir, `${name}.dns`);
  const p = spawnCli(
    [
      'start',
      '--headless',
      '--listen',
      '127.0.0.1:0',
      '--ca-dir',
      path.join(tmp.dir, 'ca'),
      ...args,
    ],
    {
      env: {
        ...process.env,
        NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import ${DENY_DNS}`.trim(),
        MITM_LAB_TEST_DNS_LOG: dnsLog,
      },
    },
  );
  started.push(p);
  const m = await p.waitForOutput(/proxy (http:\/\/127\.0\.0\.1:\d+)/, 'the banner', 60_000);
  const looked = () =>
    existsSync(dnsLog) ? readFileSync(dnsLog, 'utf8').split('\n').filter(Boolean) : [];
  return { p, proxy: m[1]!, looked };
}

/** curl through the proxy: status, body and time. */
async function curl(proxy: string, ...args: string[]) {
  const r = await runTool('curl', [
    '-sS',
    '--max-time',
    '5',
    '-x',
    proxy,
    '-w',
    '\n%{http_code} %{time_total}',
    ...args,
  ]);
  const lines = r.stdout.split('\n');
  const [status, seconds] = (lines.pop() ?? '').split(' ');
  return {
    code: r.code,
    status: Number(status),
    seconds: Number(seconds),
    body: lines.join('\n'),
    stderr: r.stderr,
  };
}

describe.skipIf(!HAVE_CURL)('names in the offline lab (issue 13, item 16)', () => {
  it('credentials in an absolute URL are never looked up as a host', async () => {
    const { proxy, looked } = await startLab('userinfo');
    // curl sends the request target as given: the userinfo stays in the request line.
    const r = await curl(
      proxy,
      '--request-target',
      'http://alice:s3cret@bank.test/',
      'http://bank.test/',
    );
    expect(r.status, r.body + r.stderr).toBe(200);
    expect(r.body).toContain('bank.test');
    const raw = await curl(
      proxy,
      '--request-target',
      'http://alice@bank.test:80/',
      'http://bank.test/',
    );
    expect(raw.status, raw.body + raw.stderr).toBe(200);
    expect(looked()).toEqual([]);
  }, 90_000);

  it('start refuses a name outside the lab at once, with a sentence, asking no resolver', async () => {
    const { p, proxy, looked } = await startLab('offline');
    const plain = await curl(proxy, 'http://example.com/');
    expect(plain.status, plain.body).toBe(502);
    expect(plain.body).toContain(OFFLINE);
    expect(plain.seconds).toBeLessThan(2);
    // HTTPS to a real site: the CA does not cover it, so it is tunnelled, and the tunnel is
    // refused just as quickly (curl sees the connection fail, the events say why).
    const tls = await runTool('curl', [
      '-sS',
      '--max-time',
      '5',
      '-x',
      proxy,
      'https://www.example.org/',
    ]);
    expect(tls.code).not.toBe(0);
    expect(tls.code).not.toBe(28); // not a timeout: refused at once
    // A lab name still works, by the lab's rules.
    expect((await curl(proxy, 'http://bank.test/')).status).toBe(200);
    expect(looked()).toEqual([]);
    await p.waitForOutput(/www\.example\.org/, 'the refused tunnel in the headless lines', 10_000);
  }, 90_000);

  it('start --online asks the system resolver for real sites (here: the recorder)', async () => {
    const { proxy, looked } = await startLab('online', '--online');
    const r = await curl(proxy, 'http://example.com/');
    expect(r.status).toBe(502);
    expect(r.body).not.toContain(OFFLINE);
    expect(r.body).toContain('ENOTFOUND');
    expect(looked()).toEqual(['example.com']);
  }, 90_000);
});

describe('the proxy lookup hook (issue 13, item 16)', () => {
  afterEach(() => vi.restoreAllMocks());

  /** A lookup that records the name and fails at once: no resolver is ever asked. */
  function recorder(calls: string[]): LookupFunction {
    return ((host: string, options: unknown, callback?: unknown) => {
      calls.push(host);
      const done = (typeof options === 'function' ? options : callback) as (e: Error) => void;
      const err = Object.assign(new Error(`test: ${host} not looked up`), { code: 'ENOTFOUND' });
      process.nextTick(done, err);
    }) as unknown as LookupFunction;
  }

  /** GET an absolute URL through the proxy: status and body. */
  function get(port: number, url: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: url }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
    });
  }

  it('with refuseUnknownNames, a non-lab name reaches no lookup at all; without, only the hook', async () => {
    // Should anything still call Node's resolver, it is recorded here and asks nobody. (IP
    // literals pass: listen() looks its own address up, and that asks no resolver.)
    const systemCalls: string[] = [];
    const realLookup = dns.lookup;
    const fake = recorder(systemCalls) as unknown as (...a: unknown[]) => void;
    vi.spyOn(dns, 'lookup').mockImplementation(((host: string, ...rest: unknown[]) =>
      net.isIP(host)
        ? (realLookup as (...a: unknown[]) => void)(host, ...rest)
        : fake(host, ...rest)) as never);

    const refusedHook: string[] = [];
    const offline = await startTestProxy({
      refuseUnknownNames: 'not a lab name: offline',
      systemLookup: recorder(refusedHook),
    });
    const askedHook: string[] = [];
    const online = await startTestProxy({ systemLookup: recorder(askedHook) });
    try {
      const refused = await get(offline.proxy.port, 'http://outside.example/');
      expect(refused.status).toBe(502);
      expect(refused.body).toContain('not a lab name: offline');
      expect(refusedHook).toEqual([]);
      // The same request to a proxy without the rule goes to its lookup hook, not to Node's.
      const asked = await get(online.proxy.port, 'http://outside.example/');
      expect(asked.status).toBe(502);
      expect(askedHook).toEqual(['outside.example']);
      expect(systemCalls).toEqual([]);
    } finally {
      await offline.close();
      await online.close();
    }
  });
});
