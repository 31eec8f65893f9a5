// `mitm-lab attach` in a real terminal (tmux): a feed served from this test process, the real
// command attached to it, history replayed and live events shown, the read-only keys saying
// so, the end of the feed announced, and `q` leaving the shell usable. Unique session name;
// only that session is killed.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import { startFeedServer, type FeedServer } from '../../src/feed/index.ts';
import {
  bigWsMessage,
  listening,
  plaintextLogin,
  refusedHttps,
  tunnelled,
} from '../store/fixtures.ts';
import { CLI_SHELL, ROOT } from '../support/cli.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';

const tmux = new TmuxSession('mitm-lab-attach');
const tmux2 = new TmuxSession('mitm-lab-attach-rc');
let server: FeedServer | null = null;
/** Screens here come from a feed in this process: quick, so a shorter wait than the default. */
const QUICK = { timeoutMs: 20_000, intervalMs: 100 };

/** The attach process a test stopped with SIGSTOP: always continued again before the end. */
let stoppedPid: number | null = null;

afterAll(async () => {
  if (stoppedPid !== null) process.kill(stoppedPid, 'SIGCONT');
  await server?.close();
  tmux.kill();
  tmux2.kill();
});

describe.skipIf(!HAVE_TMUX)('mitm-lab attach under tmux (needs tmux)', () => {
  it('replays history, shows live events, is read-only, and quits cleanly', async () => {
    const bus = new EventBus();
    server = await startFeedServer({ bus, port: 0 });
    listening(bus);
    plaintextLogin(bus);
    refusedHttps(bus);

    tmux.start({ width: 110, height: 32, env: { PS1: 'attach$ ' } });
    tmux.typeLine(`cd ${ROOT} && ${CLI_SHELL} attach '${server.url}'; echo "exit=$?"`);

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
    // The Lessons panel works the same here, folded from the feed's events.
    tmux.send('l');
    await tmux.waitForScreen(
      /\[x\] a password seen over plain HTTP/,
      'the Lessons panel with the replayed login ticked',
      QUICK,
    );
    tmux.send('l');
    // The proxy stops: the viewer says so and keeps the picture.
    await server.close();
    server = null;
    s = await tmux.waitForScreen(/feed closed: the proxy stopped/, 'the end-of-feed notice', QUICK);
    expect(s).toContain('HTTPS tunnelled');
    tmux.send('q');
    await tmux.waitForScreen(/exit=0/, 'attach to exit 0', QUICK);
    await tmux.shellAnswers();
  }, 60_000);

  it('reconnects by itself after the feed drops it for falling behind', async () => {
    const bus = new EventBus();
    // A tiny buffer limit and stall time, and a small history, so the drop and the replay are
    // quick: what is tested is attach's side of it, with the real server and a real process.
    server = await startFeedServer({
      bus,
      port: 0,
      maxBufferedBytes: 64 * 1024,
      stallMs: 300,
      historyBytes: 256 * 1024,
    });
    listening(bus);
    plaintextLogin(bus);
    const pidFile = path.join(os.tmpdir(), `mitm-lab-attach-${process.pid}-${Date.now()}.pid`);
    tmux2.start({ width: 130, height: 32, env: { PS1: 'attach$ ' } });
    tmux2.typeLine(
      // No job control: the shell must not take the terminal back when the viewer is stopped.
      `set +m; cd ${ROOT} && sh -c 'echo $$ > ${pidFile}; exec ${CLI_SHELL} attach "${server.url}"'; echo "exit=$?"`,
    );
    await tmux2.waitForScreen(/HTTP plaintext\s+shop\.test/, 'the replayed flow', QUICK);
    expect(existsSync(pidFile)).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    rmSync(pidFile, { force: true });
    // The viewer stops reading (SIGSTOP: a hung projector laptop) while events keep coming.
    process.kill(pid, 'SIGSTOP');
    stoppedPid = pid;
    const deadline = Date.now() + 20_000;
    while (server.dropped === 0 && Date.now() < deadline) {
      bigWsMessage(bus, 32 * 1024);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(server.dropped).toBe(1);
    process.kill(pid, 'SIGCONT');
    stoppedPid = null;
    await tmux2.waitForScreen(/reconnected after/, 'the reconnected notice', QUICK);
    // Live again on the new connection.
    tunnelled(bus);
    const s = await tmux2.waitForScreen(
      /HTTPS tunnelled\s+news\.test/,
      'a live flow after the reconnect',
      QUICK,
    );
    expect(s).toContain('HTTP plaintext');
    tmux2.send('q');
    await tmux2.waitForScreen(/exit=0/, 'attach to exit 0', QUICK);
    await tmux2.shellAnswers();
  }, 90_000);
});
