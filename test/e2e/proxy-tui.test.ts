// `mitm-lab proxy` on a real terminal (tmux): the terminal UI, as `start` shows it, with its
// start page (and the warnings that stderr would hide); a curl request through it (to an origin this test runs on loopback) appears as
// a flow; t says the tour is not available here; q exits 0 and the shell answers. Unique
// session name; only that session is killed.
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, listenLoopback } from '../support/net.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { CLI_SHELL, ROOT } from '../support/cli.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';

const SKIP = !HAVE_TMUX ? 'tmux' : !hasTool('curl') ? 'curl' : null;

const tmux = new TmuxSession('mitm-lab-proxy-tui');
const ca = tempDir('mitm-lab-proxy-tui-');
const caDir = ca.dir;

afterAll(() => {
  tmux.kill();
  ca.cleanup();
});

describe('mitm-lab proxy under tmux', () => {
  if (SKIP) {
    it.skip(`the terminal UI of mitm-lab proxy: ${SKIP} is not installed`, () => {});
    return;
  }

  it('shows the UI at once, a curl flow in it, and q exits 0', async () => {
    const origin = http.createServer((_req, res) => res.end('hello from the origin\n'));
    const originPort = await listenLoopback(origin);
    try {
      const port = await freePort();
      tmux.start({ width: 120, height: 36, env: { PS1: 'e2e$ ' } });
      tmux.typeLine(
        `cd ${ROOT} && ${CLI_SHELL} proxy --listen 127.0.0.1:${port} --ca-dir ${caDir} --insecure-upstream; echo "exit=$?"`,
      );
      const page = await tmux.waitForScreen(/No flows yet\. Try these/, 'the UI start page', {
        timeoutMs: 60_000,
      });
      expect(page).toMatch(new RegExp(`mitm-lab {2}proxy 127\\.0\\.0\\.1:${port}`));
      expect(page).toContain(`curl -x http://127.0.0.1:${port} http://SITE/`);
      expect(page).toContain(`--cacert ${caDir}/certs/ca.pem`);
      expect(page).not.toMatch(/t tour/);
      // A warning printed before the UI took the screen is on the start page too.
      expect(page).toContain('WARNING: UPSTREAM CERTIFICATES ARE NOT VALIDATED');

      const { stdout: body } = await runTool('curl', [
        '-sS',
        '--max-time',
        '10',
        '-x',
        `http://127.0.0.1:${port}`,
        `http://127.0.0.1:${originPort}/from-curl`,
      ]);
      expect(body).toBe('hello from the origin\n');
      await tmux.waitForScreen(
        /HTTP plaintext\s+127\.0\.0\.1\s+GET\s+\/from-curl\s+200/,
        'the curl flow',
      );

      tmux.send('t');
      await tmux.waitForScreen(/tour: not available here/, 'the tour key refused');

      tmux.send('q');
      await tmux.waitForScreen(/exit=0/, 'proxy to exit 0 after q', { timeoutMs: 20_000 });
      await tmux.shellAnswers();
    } finally {
      origin.close();
    }
  }, 120_000);
});
