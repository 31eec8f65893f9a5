// Issue 13, item 15: files and signals. What was found: --har in a missing folder was accepted
// and every flow lost at exit with exit code 0; --har/--keylog could overwrite the CA's own
// files; an existing 0644 --events file stayed 0644 although it holds passwords; --events grew
// without bound; a second Ctrl-C or a SIGHUP lost the HAR; --ca-dir /proc/x spun at 100 % CPU.
// Each is checked on the real CLI process.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, runCli, spawnCli, type CliProcess } from '../support/cli.ts';
import { listenLoopback } from '../support/net.ts';
import { hasTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const tmp = tempDir('mitm-lab-files-');
const caDir = path.join(tmp.dir, 'ca');
let origin: http.Server;
let originUrl = '';
const started: CliProcess[] = [];

beforeAll(async () => {
  expect((await runCli(['ca', 'init', '--ca-dir', caDir])).code).toBe(0);
  // /big answers 200 KB: a few hundred of them make a HAR that takes a while to write.
  const big = 'abcdefgh'.repeat(25_000);
  origin = http.createServer((req, res) => res.end(req.url === '/big' ? big : `hi ${req.url}`));
  originUrl = `http://127.0.0.1:${await listenLoopback(origin)}`;
}, 60_000);

afterAll(async () => {
  for (const p of started) await p.stop();
  origin?.close();
  tmp.cleanup();
});

/** A proxy on a free port (headless), stopped by the test or in afterAll. */
async function proxy(...args: string[]): Promise<{ p: CliProcess; url: string }> {
  const p = spawnCli([
    'proxy',
    '--headless',
    '--listen',
    '127.0.0.1:0',
    '--ca-dir',
    caDir,
    ...args,
  ]);
  started.push(p);
  const m = await p.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 'the banner', 30_000);
  return { p, url: m[1]! };
}

/** GET `pathname` from the origin through the proxy; resolves to the status. */
function get(proxyUrl: string, pathname: string): Promise<number> {
  const { hostname, port } = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: hostname, port, path: `${originUrl}${pathname}`, timeout: 10_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const mode = (file: string) => statSync(file).mode & 0o777;
const harEntries = (file: string) =>
  (JSON.parse(readFileSync(file, 'utf8')) as { log: { entries: unknown[] } }).log.entries.length;
const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('output files are checked at start (issue 13, item 15)', () => {
  it('--har in a missing folder: exit 2 with a sentence, before anything runs', async () => {
    const har = path.join(tmp.dir, 'no-such-folder', 'flows.har');
    const r = await runCli(
      ['proxy', '--headless', '--listen', '127.0.0.1:0', '--ca-dir', caDir, '--har', har],
      {
        timeoutMs: 20_000,
      },
    );
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(`--har ${har}: the folder ${path.dirname(har)} does not exist`);
    noStack(r.stderr);
  });

  it('--har, --keylog and --events may not land in the CA folder: its files stay as they were', async () => {
    const caPem = path.join(caDir, 'certs', 'ca.pem');
    const caKey = path.join(caDir, 'keys', 'ca.private.key');
    const before = [sha(caPem), sha(caKey)];
    for (const [option, file] of [
      ['--har', caPem],
      ['--keylog', caKey],
      ['--events', path.join(caDir, 'events.jsonl')],
    ] as const) {
      const r = await runCli(
        ['proxy', '--headless', '--listen', '127.0.0.1:0', '--ca-dir', caDir, option, file],
        {
          timeoutMs: 20_000,
        },
      );
      expect(r.code, `${option}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`${option} ${file}: that is inside the CA folder ${caDir}`);
      noStack(r.stderr);
    }
    expect([sha(caPem), sha(caKey)]).toEqual(before);
    expect(existsSync(path.join(caDir, 'events.jsonl'))).toBe(false);
  });

  it('--ca-dir /proc/x: exit 2 with a sentence, at once (it used to spin at 100 % CPU)', async () => {
    const started = Date.now();
    for (const command of ['proxy', 'start']) {
      const r = await runCli(
        [command, '--headless', '--listen', '127.0.0.1:0', '--ca-dir', '/proc/x'],
        {
          timeoutMs: 20_000,
        },
      );
      expect(r.code, `${command}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('--ca-dir /proc/x: cannot create that folder');
      noStack(r.stderr);
    }
    const r = await runCli(['ca', 'init', '--ca-dir', '/proc/x'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('cannot create the CA folder /proc/x');
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('files holding secrets (issue 13, item 15)', () => {
  it('an existing 0644 --events, --keylog or --har file ends up 0600', async () => {
    const files = ['events.jsonl', 'keys.log', 'flows.har'].map((f) => path.join(tmp.dir, f));
    for (const f of files) {
      writeFileSync(f, '');
      chmodSync(f, 0o644);
    }
    const [events, keylog, har] = files as [string, string, string];
    const { p, url } = await proxy('--events', events, '--keylog', keylog, '--har', har);
    expect(await get(url, '/login?password=hunter2')).toBe(200);
    p.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    expect(readFileSync(events, 'utf8')).toContain('hunter2');
    expect(files.map((f) => [path.basename(f), mode(f).toString(8)])).toEqual(
      files.map((f) => [path.basename(f), '600']),
    );
  });

  it('--events-max-mb: the file stops at the limit with a last line saying so; the proxy goes on', async () => {
    const events = path.join(tmp.dir, 'bounded.jsonl');
    const limit = 0.05 * 1024 * 1024; // --events-max-mb 0.05: 52,428 bytes
    const { p, url } = await proxy('--events', events, '--events-max-mb', '0.05');
    for (let i = 0; i < 60; i++) expect(await get(url, `/page-${i}?${'q'.repeat(500)}`)).toBe(200);
    p.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    const text = readFileSync(events, 'utf8');
    const lines = text.trim().split('\n');
    const last = JSON.parse(lines.at(-1)!) as { type: string; source: string; message: string };
    expect(last).toMatchObject({ type: 'diag', source: 'sink' });
    expect(last.message).toContain('writing stopped at --events-max-mb 0.05');
    // Everything before the notice fits the limit; the notice is the one line past it.
    expect(Buffer.byteLength(text) - Buffer.byteLength(`${lines.at(-1)}\n`)).toBeLessThanOrEqual(
      limit,
    );
    // The first line that does not fit stops the file, so it ends short of the limit by up to
    // one line; a `conn.wire` can carry the exchanges of 50 ms together (several KB each here).
    expect(Buffer.byteLength(text)).toBeGreaterThan(limit * 0.5);
    // And the proxy said so on its own output too.
    expect(p.out()).toContain('writing stopped');
  });
});

describe('the HAR survives the ways a session ends (issue 13, item 15)', () => {
  it('SIGHUP (the terminal closed) writes the HAR and exits 0', async () => {
    const har = path.join(tmp.dir, 'hup.har');
    const { p, url } = await proxy('--har', har);
    expect(await get(url, '/one')).toBe(200);
    p.kill('SIGHUP');
    const exit = await p.exited;
    expect(exit, p.err()).toEqual({ code: 0, signal: null });
    expect(harEntries(har)).toBe(1);
  });

  it('a second Ctrl-C while stopping writes the HAR at once', async () => {
    const har = path.join(tmp.dir, 'twice.har');
    const { p, url } = await proxy('--har', har);
    // 150 responses of 200 KB: a ~40 MB archive, which takes a moment to write.
    for (let i = 0; i < 150; i++) expect(await get(url, '/big')).toBe(200);
    p.kill('SIGINT');
    await p.waitForOutput(/stopping/, 'the first Ctrl-C to start stopping', 10_000);
    p.kill('SIGINT'); // impatient: again, while it is still writing
    const exit = await p.exited;
    expect(exit, p.err()).toEqual({ code: 0, signal: null });
    expect(harEntries(har)).toBe(150);
  }, 90_000);

  it.skipIf(!hasTool('python3', ['--version']))(
    'closing the terminal of the UI (SIGHUP on its pty) writes the HAR',
    async () => {
      const har = path.join(tmp.dir, 'ui.har');
      const log = path.join(tmp.dir, 'ui-screen.log');
      const pidFile = path.join(tmp.dir, 'ui.pid');
      const reader = spawn(
        'python3',
        [
          path.join(ROOT, 'test/support/pty-reader.py'),
          log,
          pidFile,
          '120',
          '40',
          '--',
          process.execPath,
          ...CLI,
          'proxy',
          '--listen',
          '127.0.0.1:0',
          '--ca-dir',
          caDir,
          '--har',
          har,
        ],
        { cwd: ROOT, env: { ...process.env, TERM: 'xterm-256color' }, stdio: 'ignore' },
      );
      const screen = () => (existsSync(log) ? readFileSync(log, 'latin1') : '');
      try {
        await waitFor(() => /mitm-lab.{0,40}proxy 127\.0\.0\.1:\d+/.test(screen()), 'the UI', {
          timeoutMs: 60_000,
          intervalMs: 100,
        });
        const port = /proxy 127\.0\.0\.1:(\d+)/.exec(screen())![1]!;
        expect(await get(`http://127.0.0.1:${port}`, '/from-the-ui')).toBe(200);
        const pid = Number(readFileSync(pidFile, 'utf8'));
        reader.kill('SIGKILL'); // the terminal window goes away: its pty hangs up
        const gone = () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        };
        await waitFor(gone, 'the proxy to exit after its terminal closed', { timeoutMs: 20_000 });
        expect(harEntries(har)).toBe(1);
      } finally {
        reader.kill('SIGKILL');
      }
    },
    90_000,
  );
});
