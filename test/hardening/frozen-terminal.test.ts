// Issue 13, item 11: a frozen terminal froze the proxy. `process.stdout` on a terminal is
// synchronous in Node on Linux: once the terminal stops reading (SIGSTOP of the emulator, a
// stalled SSH session) the pty buffer fills, and the UI's next write blocks the whole event
// loop, proxy included. Requests then timed out.
//
// Here the UI runs on a pty whose only reader is a small Python program (support/pty-reader.py)
// that this test SIGSTOPs: nothing drains the pty any more. Twenty curl requests through the
// proxy must each answer within 2 s while the terminal is frozen; when it reads again, the UI
// catches up (the last flow shows) and says it skipped frames.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from '../support/cli.ts';
import { freePort, listenLoopback } from '../support/net.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const SKIP = !hasTool('python3', ['--version']) ? 'python3' : !hasTool('curl') ? 'curl' : null;
const READER = path.join(ROOT, 'test/support/pty-reader.py');
const tmp = tempDir('mitm-lab-frozen-');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) {
    // Ours, by PID: wake a stopped reader, then end it (its pty closes, the proxy gets SIGHUP).
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
  }
  tmp.cleanup();
});

/** What the terminal was sent so far, escape sequences and all. */
function screenLog(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

describe('a frozen terminal does not freeze the proxy (issue 13, item 11)', () => {
  if (SKIP) {
    it.skip(`needs ${SKIP}, which is not installed`, () => {});
    return;
  }

  it('answers every request within 2 s (20 at least, for 3 s) while nothing reads the terminal', async () => {
    // Each response is big enough that a new flow redraws a screenful of detail (the Wire
    // view's dump): a few frames fill the pty buffer (~64 KiB on Linux).
    const page = 'abcdefghij'.repeat(400);
    const origin = http.createServer((req, res) => res.end(`${req.url} ${page}\n`));
    const originPort = await listenLoopback(origin);
    const port = await freePort();
    const log = path.join(tmp.dir, 'screen.log');
    const pidFile = path.join(tmp.dir, 'proxy.pid');
    const reader = spawn(
      'python3',
      [
        READER,
        log,
        pidFile,
        '200',
        '60',
        '--',
        process.execPath,
        ...CLI,
        'proxy',
        '--listen',
        `127.0.0.1:${port}`,
        '--ca-dir',
        path.join(tmp.dir, 'ca'),
      ],
      { cwd: ROOT, env: { ...process.env, TERM: 'xterm-256color' }, stdio: 'ignore' },
    );
    children.push(reader);
    const curl = (n: number, path = `/r${n}`) =>
      runTool('curl', [
        '-sS',
        '--max-time',
        '2',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{time_total}',
        '-x',
        `http://127.0.0.1:${port}`,
        `http://127.0.0.1:${originPort}${path}`,
      ]);
    try {
      await waitFor(() => /No flows yet/.test(screenLog(log)), 'the UI start page', {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      expect((await curl(0)).stdout).toMatch(/^200 /);

      reader.kill('SIGSTOP'); // the terminal stops reading
      // At least 20 requests, and for at least 3 s: the UI draws at most 10 frames a second, so
      // a fast machine must keep the flows coming long enough for the frames (a screenful
      // each) to fill the pty buffer. Bounded: 300 requests at most.
      const results: string[] = [];
      const stoppedAt = Date.now();
      for (let n = 1; n <= 300 && (n <= 20 || Date.now() - stoppedAt < 3000); n++) {
        const r = await curl(n);
        results.push(`r${n}: exit ${r.code} ${r.stdout}${r.stderr.trim()}`);
      }
      const failed = results.filter((r) => !/exit 0 200 /.test(r));
      expect(failed, results.join('\n')).toEqual([]);
      for (const r of results) expect(Number(r.split(' ').at(-1))).toBeLessThan(2);

      reader.kill('SIGCONT'); // it reads again: the UI catches up with a flow made after
      // (the screen is redrawn by differences, so a unique path is looked for, not /rN)
      expect((await curl(0, '/after-resume-marker')).stdout).toMatch(/^200 /);
      await waitFor(() => screenLog(log).includes('after-resume-marker'), 'the UI caught up', {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      // The footer says frames were skipped (the terminal only gets the cells that changed, so
      // the rest of the sentence may be cursor moves over letters already on screen).
      expect(screenLog(log)).toMatch(/terminal not reading: \d+/);
      const proxyPid = Number(readFileSync(pidFile, 'utf8'));
      process.kill(proxyPid, 'SIGTERM'); // the proxy this test started, by its PID
      await waitFor(() => reader.exitCode !== null, 'the proxy to exit', { timeoutMs: 20_000 });
      expect(reader.exitCode).toBe(0);
    } finally {
      reader.kill('SIGCONT');
      origin.close();
    }
  }, 120_000);
});
