// --feed end to end: the real `mitm-lab start --feed` (test/support/cli.ts; headless: stdout is
// a pipe) prints the attach command; a WebSocket client on that URL gets the history replayed (the
// proxy's announcement and a curl request made through the proxy before it joined) and then
// live events; the real `mitm-lab attach` under tmux shows the same flow. `proxy --feed` too,
// and the usage errors. Only processes and the tmux session this file starts are stopped.
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProxyEvent } from '../../src/events/types.ts';
import { connectFeed, type FeedClient } from '../../src/feed/index.ts';
import { CLI_SHELL, spawnCli, type CliProcess } from '../support/cli.ts';
import { listenLoopback } from '../support/net.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir as makeTempDir, type TempDir } from '../support/temp-dir.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';

const HAVE_CURL = hasTool('curl');

const dirs: TempDir[] = [];
const children: CliProcess[] = [];
afterAll(async () => {
  // Only when a test failed before stopping it: SIGKILL, by its PID.
  for (const c of children) await c.stop();
  for (const d of dirs) d.cleanup();
});

function tempDir(): string {
  const d = makeTempDir('mitm-lab-feed-cli-');
  dirs.push(d);
  return d.dir;
}

function start(args: string[]): CliProcess {
  const p = spawnCli(args);
  children.push(p);
  return p;
}

const curl = (args: string[]) => runTool('curl', ['-sS', '--max-time', '10', ...args]);

const ATTACH_RE = /Projector: npx mitm-lab attach '(ws:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)'/;

describe.skipIf(!HAVE_CURL)('mitm-lab start --feed (headless)', () => {
  it('prints the attach URL; a viewer gets the replayed history, curl included, then live events', async () => {
    const s = start(['start', '--listen', '127.0.0.1:0', '--feed', '--ca-dir', tempDir()]);
    const feedUrl = (await s.waitForOutput(ATTACH_RE, 'attach line'))[1]!;
    const proxyUrl = /mitm-lab — proxy (http:\/\/127\.0\.0\.1:\d+)/.exec(s.out())![1]!;

    // Before any viewer: a login over plain HTTP through the proxy.
    const before = await curl([
      '-x',
      proxyUrl,
      '-d',
      'user=alice&password=early-bird',
      'http://bank.test/login',
    ]);
    expect(before.code).toBe(0);
    await s.waitForOutput(/POST http:\/\/bank\.test\/login/, 'headless line');

    const events: ProxyEvent[] = [];
    const client: FeedClient = await connectFeed(feedUrl, { onEvent: (e) => events.push(e) });
    try {
      expect(client.hello.listening?.port).toBe(Number(new URL(proxyUrl).port));
      const replayed = async (pred: (e: ProxyEvent) => boolean, what: string) => {
        const end = Date.now() + 10_000;
        while (!events.some(pred)) {
          if (Date.now() > end) throw new Error(`no ${what} among ${events.length} events`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await replayed(
        (e) =>
          e.type === 'http.request' && e.url === 'http://bank.test/login' && e.method === 'POST',
        'replayed POST /login',
      );
      // Live: a request made after the viewer joined arrives too.
      const after = await curl(['-x', proxyUrl, 'http://lab.test/']);
      expect(after.code).toBe(0);
      await replayed(
        (e) => e.type === 'http.request' && e.url === 'http://lab.test/',
        'live GET lab.test',
      );
    } finally {
      client.close();
    }
    s.kill('SIGINT');
    expect((await s.exited).code).toBe(0);
    expect(s.out()).toContain('mitm-lab: stopped.');
  }, 60_000);
});

describe('mitm-lab proxy --feed (headless)', () => {
  it('serves the feed too, with the proxy announcement first', async () => {
    // An origin on loopback for the proxy to reach (proxy has no lab).
    const origin = http.createServer((_req, res) => res.end('origin says hi\n'));
    const originPort = await listenLoopback(origin);
    try {
      const s = start(['proxy', '--listen', '127.0.0.1:0', '--feed', '--ca-dir', tempDir()]);
      const feedUrl = (await s.waitForOutput(ATTACH_RE, 'attach line'))[1]!;
      const proxyUrl = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(s.out())![1]!;
      const events: ProxyEvent[] = [];
      const client = await connectFeed(feedUrl, {
        onEvent: (e) => events.push(e),
      });
      expect(client.hello.listening?.type).toBe('proxy.listening');
      if (HAVE_CURL) {
        const r = await curl(['-x', proxyUrl, `http://127.0.0.1:${originPort}/hello`]);
        expect(r.stdout).toBe('origin says hi\n');
        const end = Date.now() + 10_000;
        while (!events.some((e) => e.type === 'http.response') && Date.now() < end)
          await new Promise((r2) => setTimeout(r2, 50));
        expect(events.some((e) => e.type === 'http.request' && e.url.endsWith('/hello'))).toBe(
          true,
        );
      }
      s.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
      // The feed said goodbye when the proxy stopped.
      const closed = await client.closed;
      expect(closed.reason).toMatch(/proxy stopped/);
    } finally {
      origin.close();
    }
  }, 60_000);

  it('--feed-listen refuses a non-loopback address (exit 2, says loopback)', async () => {
    const s = start([
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--feed-listen',
      '0.0.0.0:0',
      '--ca-dir',
      tempDir(),
    ]);
    expect((await s.exited).code).toBe(2);
    expect(s.err()).toMatch(/--feed-listen.*loopback/);
  });

  it('--help of proxy and start documents --feed', async () => {
    for (const cmd of ['proxy', 'start']) {
      const s = start([cmd, '--help']);
      expect((await s.exited).code).toBe(0);
      expect(s.out()).toContain('--feed');
      expect(s.out()).toContain("Projector: npx mitm-lab attach 'ws://127.0.0.1:PORT/?token=");
      expect(s.out()).toContain('--feed-listen HOST:PORT');
    }
  });
});

describe.skipIf(!HAVE_CURL || !HAVE_TMUX)('the real attach on a start --feed (tmux)', () => {
  const tmux = new TmuxSession('mitm-lab-feedcli');
  afterAll(() => tmux.kill()); // this file's session only

  it('replays a curl flow made before attaching, and q leaves the proxy running', async () => {
    const s = start(['start', '--listen', '127.0.0.1:0', '--feed', '--ca-dir', tempDir()]);
    const feedUrl = (await s.waitForOutput(ATTACH_RE, 'attach line'))[1]!;
    const proxyUrl = /mitm-lab — proxy (http:\/\/127\.0\.0\.1:\d+)/.exec(s.out())![1]!;
    expect((await curl(['-x', proxyUrl, 'http://bank.test/'])).code).toBe(0);

    tmux.start({
      width: 120,
      height: 32,
      command: `${CLI_SHELL} attach '${feedUrl}'; echo "attach-exit=$?"; sleep 30`,
    });
    const screen = (re: RegExp, what: string): Promise<string> =>
      tmux.waitForScreen(re, what, { timeoutMs: 20_000 });
    const shown = await screen(/HTTP plaintext\s+bank\.test/, 'the replayed flow');
    expect(shown).toContain(`proxy 127.0.0.1:${new URL(proxyUrl).port}`);
    expect(shown).not.toMatch(/t tour/); // the tour is start's, not the viewer's
    tmux.send('q');
    await screen(/attach-exit=0/, 'attach to exit 0');
    expect(s.running()).toBe(true); // the proxy keeps running
    s.kill('SIGINT');
    expect((await s.exited).code).toBe(0);
  }, 60_000);
});
