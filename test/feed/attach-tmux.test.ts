// `mitm-lab attach` in a real terminal (tmux): a feed served from this test process, the real
// command attached to it, history replayed and live events shown, the read-only keys saying
// so, the end of the feed announced, and `q` leaving the shell usable. Unique session name;
// only that session is killed.
import { afterAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import { startFeedServer, type FeedServer } from '../../src/feed/index.ts';
import { listening, plaintextLogin, refusedHttps, tunnelled } from '../store/fixtures.ts';
import { ROOT } from '../support/cli.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';

const tmux = new TmuxSession('mitm-lab-attach');
let server: FeedServer | null = null;
/** Screens here come from a feed in this process: quick, so a shorter wait than the default. */
const QUICK = { timeoutMs: 20_000, intervalMs: 100 };

afterAll(async () => {
  await server?.close();
  tmux.kill();
});

describe.skipIf(!HAVE_TMUX)('mitm-lab attach under tmux (needs tmux)', () => {
  it('replays history, shows live events, is read-only, and quits cleanly', async () => {
    const bus = new EventBus();
    server = await startFeedServer({ bus, port: 0 });
    listening(bus);
    plaintextLogin(bus);
    refusedHttps(bus);

    tmux.start({ width: 110, height: 32, env: { PS1: 'attach$ ' } });
    tmux.typeLine(`cd ${ROOT} && node bin/mitm-lab.js attach '${server.url}'; echo "exit=$?"`);

    // History (before attaching) is replayed: both flows and the proxy's address.
    await tmux.waitForScreen(
      /HTTP plaintext\s+shop\.test\s+POST\s+\/login/,
      'the replayed plain-HTTP flow',
      QUICK,
    );
    let s = await tmux.waitForScreen(
      /HTTPS refused\s+shop\.test/,
      'the replayed refused flow',
      QUICK,
    );
    expect(s).toContain('proxy 127.0.0.1:8080');
    expect(s).toContain(`attached to 127.0.0.1:${server.port}`);
    // Live.
    tunnelled(bus);
    await tmux.waitForScreen(/HTTPS tunnelled\s+news\.test/, 'the live tunnelled flow', QUICK);
    // Views work from events alone.
    tmux.send('4');
    await tmux.waitForScreen(/Tunnelled: eavesdrop mode/, 'the Why view of the tunnel', QUICK);
    // Engine actions are not available here.
    tmux.send('m');
    await tmux.waitForScreen(/mode: not available when attached/, 'the read-only notice', QUICK);
    // The proxy stops: the viewer says so and keeps the picture.
    await server.close();
    server = null;
    s = await tmux.waitForScreen(/feed closed: the proxy stopped/, 'the end-of-feed notice', QUICK);
    expect(s).toContain('HTTPS tunnelled');
    tmux.send('q');
    await tmux.waitForScreen(/exit=0/, 'attach to exit 0', QUICK);
    await tmux.shellAnswers();
  }, 60_000);
});
