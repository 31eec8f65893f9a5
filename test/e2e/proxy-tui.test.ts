// `mitm-lab proxy` on a real terminal (tmux): the terminal UI, as `start` shows it, with its
// start page (and the warnings that stderr would hide); a curl request through it (to an origin this test runs on loopback) appears as
// a flow; t says the tour is not available here; q exits 0 and the shell answers. Unique
// session name; only that session is killed.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SESSION = `mitm-lab-proxy-tui-${process.pid}-${randomBytes(3).toString('hex')}`;

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const SKIP = !hasTool('tmux') ? 'tmux' : !hasTool('curl') ? 'curl' : null;

const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });
let sessionStarted = false;
const caDir = mkdtempSync(path.join(os.tmpdir(), 'mitm-lab-proxy-tui-'));

async function waitFor(re: RegExp, what: string, ms = 30_000): Promise<string> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    last = tmux('capture-pane', '-p', '-t', SESSION);
    if (re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what} (${re}); the screen was:\n${last}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

afterAll(() => {
  if (sessionStarted) {
    try {
      tmux('kill-session', '-t', SESSION);
    } catch {
      // the shell already exited
    }
  }
  rmSync(caDir, { recursive: true, force: true });
});

describe('mitm-lab proxy under tmux', () => {
  if (SKIP) {
    it.skip(`the terminal UI of mitm-lab proxy: ${SKIP} is not installed`, () => {});
    return;
  }

  it('shows the UI at once, a curl flow in it, and q exits 0', async () => {
    const origin = http.createServer((_req, res) => res.end('hello from the origin\n'));
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    const originPort = (origin.address() as net.AddressInfo).port;
    try {
      const port = await freePort();
      tmux(
        'new-session',
        '-d',
        '-s',
        SESSION,
        '-x',
        '120',
        '-y',
        '36',
        '-e',
        'NCURSES_NO_UTF8_ACS=1',
        '-e',
        'PS1=e2e$ ',
        'bash --norc --noprofile',
      );
      sessionStarted = true;
      tmux(
        'send-keys',
        '-t',
        SESSION,
        `cd ${ROOT} && node bin/mitm-lab.js proxy --listen 127.0.0.1:${port} --ca-dir ${caDir} --insecure-upstream; echo "exit=$?"`,
        'Enter',
      );
      const page = await waitFor(/No flows yet\. Try these/, 'the UI start page', 60_000);
      expect(page).toMatch(new RegExp(`mitm-lab {2}proxy 127\\.0\\.0\\.1:${port}`));
      expect(page).toContain(`curl -x http://127.0.0.1:${port} http://SITE/`);
      expect(page).toContain(`--cacert ${caDir}/certs/ca.pem`);
      expect(page).not.toMatch(/t tour/);
      // A warning printed before the UI took the screen is on the start page too.
      expect(page).toContain('WARNING: UPSTREAM CERTIFICATES ARE NOT VALIDATED');

      const body = await new Promise<string>((resolve) =>
        execFile(
          'curl',
          [
            '-sS',
            '--max-time',
            '10',
            '-x',
            `http://127.0.0.1:${port}`,
            `http://127.0.0.1:${originPort}/from-curl`,
          ],
          (_e, stdout) => resolve(stdout),
        ),
      );
      expect(body).toBe('hello from the origin\n');
      await waitFor(/HTTP plaintext\s+127\.0\.0\.1\s+GET\s+\/from-curl\s+200/, 'the curl flow');

      tmux('send-keys', '-t', SESSION, 't');
      await waitFor(/tour: not available here/, 'the tour key refused');

      tmux('send-keys', '-t', SESSION, 'q');
      await waitFor(/exit=0/, 'proxy to exit 0 after q', 20_000);
      const marker = `shell-ok-${randomBytes(3).toString('hex')}`;
      tmux('send-keys', '-t', SESSION, `echo ${marker}`, 'Enter');
      await waitFor(new RegExp(`^${marker}$`, 'm'), 'the shell to answer');
    } finally {
      origin.close();
    }
  }, 120_000);
});
