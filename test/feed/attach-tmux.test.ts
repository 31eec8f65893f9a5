// `mitm-lab attach` in a real terminal (tmux): a feed served from this test process, the real
// command attached to it, history replayed and live events shown, the read-only keys saying
// so, the end of the feed announced, and `q` leaving the shell usable. Unique session name;
// only that session is killed.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import { startFeedServer, type FeedServer } from '../../src/feed/index.ts';
import { listening, plaintextLogin, refusedHttps, tunnelled } from '../store/fixtures.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SESSION = `mitm-lab-attach-${process.pid}-${randomBytes(3).toString('hex')}`;

function hasTmux(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v tmux'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });
let started = false;
let server: FeedServer | null = null;

async function waitFor(re: RegExp, what: string, ms = 20_000): Promise<string> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    last = tmux('capture-pane', '-p', '-t', SESSION);
    if (re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (${re}); the screen was:\n${last}`);
}

afterAll(async () => {
  await server?.close();
  if (started) {
    try {
      tmux('kill-session', '-t', SESSION);
    } catch {
      // The session already ended.
      started = false;
    }
  }
});

describe.skipIf(!hasTmux())('mitm-lab attach under tmux (needs tmux)', () => {
  it('replays history, shows live events, is read-only, and quits cleanly', async () => {
    const bus = new EventBus();
    server = await startFeedServer({ bus, port: 0 });
    listening(bus);
    plaintextLogin(bus);
    refusedHttps(bus);

    tmux(
      'new-session',
      '-d',
      '-s',
      SESSION,
      '-x',
      '110',
      '-y',
      '32',
      '-e',
      'NCURSES_NO_UTF8_ACS=1',
      '-e',
      'PS1=attach$ ',
      'bash --norc --noprofile',
    );
    started = true;
    tmux(
      'send-keys',
      '-t',
      SESSION,
      `cd ${ROOT} && node bin/mitm-lab.js attach '${server.url}'; echo "exit=$?"`,
      'Enter',
    );

    // History (before attaching) is replayed: both flows and the proxy's address.
    await waitFor(/HTTP plaintext\s+shop\.test\s+POST\s+\/login/, 'the replayed plain-HTTP flow');
    let s = await waitFor(/HTTPS refused\s+shop\.test/, 'the replayed refused flow');
    expect(s).toContain('proxy 127.0.0.1:8080');
    expect(s).toContain(`attached to 127.0.0.1:${server.port}`);
    // Live.
    tunnelled(bus);
    await waitFor(/HTTPS tunnelled\s+news\.test/, 'the live tunnelled flow');
    // Views work from events alone.
    tmux('send-keys', '-t', SESSION, '4');
    await waitFor(/Tunnelled: eavesdrop mode/, 'the Why view of the tunnel');
    // Engine actions are not available here.
    tmux('send-keys', '-t', SESSION, 'm');
    await waitFor(/mode: not available when attached/, 'the read-only notice');
    // The proxy stops: the viewer says so and keeps the picture.
    await server.close();
    server = null;
    s = await waitFor(/feed closed: the proxy stopped/, 'the end-of-feed notice');
    expect(s).toContain('HTTPS tunnelled');
    tmux('send-keys', '-t', SESSION, 'q');
    await waitFor(/exit=0/, 'attach to exit 0');
    const marker = `attach-ok-${randomBytes(3).toString('hex')}`;
    tmux('send-keys', '-t', SESSION, `echo ${marker}`, 'Enter');
    await waitFor(new RegExp(`^${marker}$`, 'm'), 'the shell to answer');
  }, 60_000);
});
