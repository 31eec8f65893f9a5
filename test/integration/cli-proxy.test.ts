// `mitm-lab proxy` end to end through the real entry point under plain node: port 0 reports
// the real port, real clients go through it, --events/--har/--keylog files are written,
// SIGTERM stops it cleanly (exit 0, HAR flushed); bad options are usage errors (exit 2).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, mebibytes, readProxyOptions } from '../../src/cli/proxy-options.ts';
import { LabError } from '../../src/util/lab-error.ts';
import { spawnCli } from '../support/cli.ts';
import { listenLoopback } from '../support/net.ts';
import { curl, makeTestPki, startOrigin, tempDir, type Origin } from './helpers.ts';

describe('mitm-lab proxy (process)', () => {
  let origin: Origin;
  const dir = tempDir('cli-proxy');
  const files = {
    ca: path.join(dir, 'ca'),
    events: path.join(dir, 'events.jsonl'),
    har: path.join(dir, 'flows.har'),
    keylog: path.join(dir, 'keys.log'),
    root: path.join(dir, 'origin-root.pem'),
  };

  beforeAll(async () => {
    const pki = makeTestPki();
    writeFileSync(files.root, pki.rootPem);
    origin = await startOrigin(pki.leaf(['cli.test']));
  });
  afterAll(async () => origin?.close());

  it('runs on port 0, serves clients, writes events/HAR/keylog, and stops cleanly on SIGTERM', async () => {
    const p = spawnCli([
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--ca-dir',
      files.ca,
      '--events',
      files.events,
      '--har',
      files.har,
      '--keylog',
      files.keylog,
      '--upstream-ca',
      files.root,
      '--resolve',
      'cli.test=127.0.0.1',
    ]);
    try {
      const banner = await p.waitForOutput(
        /listening on http:\/\/127\.0\.0\.1:(\d+)/,
        'the banner',
        15_000,
      );
      const port = Number(banner[1]);
      expect(port).toBeGreaterThan(0);
      const proxy = `http://127.0.0.1:${port}`;
      const plain = await curl([
        '-x',
        proxy,
        '-d',
        'pw=1',
        `http://cli.localhost:${origin.httpPort}/login`,
      ]);
      expect(plain.stdout).toBe('hello POST /login body=pw=1');
      const secure = await curl([
        '-x',
        proxy,
        '--cacert',
        path.join(files.ca, 'certs', 'ca.pem'),
        `https://cli.test:${origin.httpsPort}/s`,
      ]);
      expect(secure.stdout).toBe('hello GET /s body=');
      p.kill('SIGTERM');
      expect((await p.exited).code).toBe(0);
    } finally {
      await p.stop();
    }
    const events = readFileSync(files.events, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; url?: string });
    expect(events[0]?.type).toBe('proxy.listening');
    expect(events.filter((e) => e.type === 'http.request').map((e) => e.url)).toEqual([
      `http://cli.localhost:${origin.httpPort}/login`,
      `https://cli.test:${origin.httpsPort}/s`,
    ]);
    const har = JSON.parse(readFileSync(files.har, 'utf8')) as {
      log: {
        version: string;
        entries: { request: { method: string; url: string }; response: { status: number } }[];
      };
    };
    expect(har.log.version).toBe('1.2');
    expect(
      har.log.entries.map((e) => [e.request.method, e.request.url, e.response.status]),
    ).toEqual([
      ['POST', `http://cli.localhost:${origin.httpPort}/login`, 200],
      ['GET', `https://cli.test:${origin.httpsPort}/s`, 200],
    ]);
    const keylog = readFileSync(files.keylog, 'utf8').trim().split('\n');
    expect(keylog.length).toBeGreaterThanOrEqual(10); // TLS 1.3: 5 lines per handshake, two legs
    expect(keylog.every((l) => /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+$/.test(l))).toBe(true);
  });

  it('forges on the shared ECDSA P-256 key by default, on the RSA-2048 one with --leaf-key rsa', async () => {
    for (const [args, key] of [
      [[], 'EC prime256v1'],
      [['--leaf-key', 'rsa'], 'RSA 2048'],
    ] as const) {
      const events = path.join(dir, `leaf-${key.split(' ')[0]}.jsonl`);
      const p = spawnCli([
        'proxy',
        '--listen',
        '127.0.0.1:0',
        '--ca-dir',
        files.ca,
        '--events',
        events,
        '--upstream-ca',
        files.root,
        '--resolve',
        'cli.test=127.0.0.1',
        ...args,
      ]);
      try {
        const port = (
          await p.waitForOutput(/listening on http:\/\/127\.0\.0\.1:(\d+)/, 'banner')
        )[1];
        const r = await curl([
          '-x',
          `http://127.0.0.1:${port}`,
          '--cacert',
          path.join(files.ca, 'certs', 'ca.pem'),
          `https://cli.test:${origin.httpsPort}/k`,
        ]);
        expect(`${key}: ${r.stdout}`).toBe(`${key}: hello GET /k body=`);
        p.kill('SIGTERM');
        expect((await p.exited).code).toBe(0);
      } finally {
        await p.stop();
      }
      const forged = readFileSync(events, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; certificate?: { key: string } })
        .filter((e) => e.type === 'tls.forged');
      expect(forged.map((e) => e.certificate?.key)).toEqual([key]);
    }
  });

  it('--events - writes JSON Lines to stdout, the readable lines to stderr', async () => {
    const p = spawnCli(['proxy', '--listen', '127.0.0.1:0', '--ca-dir', files.ca, '--events', '-']);
    try {
      const banner = await p.waitForOutput(
        /listening on http:\/\/127\.0\.0\.1:(\d+)/,
        'the banner on stderr',
        15_000,
        'stderr',
      );
      const port = Number(banner[1]);
      await curl([
        '-x',
        `http://127.0.0.1:${port}`,
        `http://cli.localhost:${origin.httpPort}/jsonl`,
      ]);
      await p.waitForOutput(/"http\.response"/, 'the response event', 15_000);
      p.kill('SIGINT');
      expect((await p.exited).code).toBe(0);
    } finally {
      await p.stop();
    }
    const lines = p.out().trim().split('\n');
    const types = lines.map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types[0]).toBe('proxy.listening');
    expect(types).toContain('http.request');
  });

  it('a port in use is a clear runtime error (exit 1)', async () => {
    const blocker = net.createServer();
    const port = await listenLoopback(blocker);
    try {
      const p = spawnCli(['proxy', '--listen', `127.0.0.1:${port}`, '--ca-dir', files.ca]);
      expect((await p.exited).code).toBe(1);
      expect(p.err()).toContain('EADDRINUSE');
      expect(p.err()).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      blocker.close();
    }
  });

  it('--help answers how to point clients at it and how to trust the CA', async () => {
    const p = spawnCli(['proxy', '--help']);
    expect((await p.exited).code).toBe(0);
    expect(p.out()).toContain('curl -x http://127.0.0.1:8080');
    expect(p.out()).toContain('mitm-lab ca info');
    expect(p.out()).toContain('--mode');
  });

  it.each([
    [['--mode', 'sniff'], '--mode wants one of'],
    [['--listen', 'nowhere'], '--listen wants HOST:PORT'],
    [['--auth', 'nopassword'], '--auth wants USER:PASS'],
    [['--resolve', 'bank.test'], '--resolve wants NAME[:PORT]=ADDRESS[:PORT]'],
    [['--upstream-ca', '/nonexistent/root.pem'], 'cannot read it'],
    [['--bogus'], 'bogus'],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const p = spawnCli(['proxy', '--ca-dir', files.ca, ...args]);
    expect((await p.exited).code).toBe(2);
    expect(p.err()).toContain(message);
    expect(existsSync(files.events + '.never')).toBe(false);
  });
});

describe('readProxyOptions', () => {
  it('defaults to 127.0.0.1:8080, auto, validation on, no warnings', () => {
    const s = readProxyOptions({}, {});
    expect(s).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      mode: 'auto',
      insecureUpstream: false,
      auth: null,
      warnings: [],
    });
  });

  it('warns on a non-loopback address and recommends --auth', () => {
    const s = readProxyOptions({ listen: '0.0.0.0:8080' }, {});
    expect(s.warnings.join('\n')).toContain('--auth');
    const withAuth = readProxyOptions({ listen: '0.0.0.0:8080', auth: 'a:b' }, {});
    expect(withAuth.warnings.join('\n')).not.toContain('add --auth');
    expect(withAuth.warnings).toHaveLength(1);
  });

  it('warns loudly on --insecure-upstream', () => {
    expect(readProxyOptions({ 'insecure-upstream': true }, {}).warnings.join('\n')).toMatch(
      /NOT VALIDATED/,
    );
  });

  it('reads --upstream-ca files and refuses non-PEM ones', () => {
    const d = tempDir('opts');
    writeFileSync(path.join(d, 'bad.pem'), 'not a certificate');
    expect(() => readProxyOptions({ 'upstream-ca': [path.join(d, 'bad.pem')] }, {})).toThrow(
      LabError,
    );
  });

  it('takes --leaf-key ecdsa (the default) or rsa, and refuses anything else', () => {
    expect(readProxyOptions({}, {}).leafKey).toBe('ecdsa');
    expect(readProxyOptions({ 'leaf-key': 'rsa' }, {}).leafKey).toBe('rsa');
    expect(() => readProxyOptions({ 'leaf-key': 'dsa' }, {})).toThrow(
      /--leaf-key wants ecdsa or rsa, got "dsa"/,
    );
  });

  it('takes --events-max-mb as whole bytes never past N MiB, and names it as given', () => {
    const bytes = (mb: string): number =>
      readProxyOptions({ 'events-max-mb': mb }, {}).eventsMaxBytes;
    expect(bytes('0.05')).toBe(52_428); // 52,428.8 bytes: 52,429 would end a file past 0.05 MiB
    expect(bytes('256')).toBe(256 * 1024 * 1024);
    expect(bytes('0')).toBe(0); // no limit
    expect(bytes('0.0000001')).toBe(1); // a limit, however small, is not "none"
    expect(mebibytes(bytes('0.05'))).toBe('0.05');
    expect(mebibytes(bytes('1.2345'))).toBe('1.2345');
    expect(mebibytes(bytes('256'))).toBe('256');
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '192.168.1.2', '::'].some(isLoopback)).toBe(false);
  });
});
