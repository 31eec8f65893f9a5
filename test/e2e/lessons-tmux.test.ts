// The lessons in a real terminal (tmux), with the real `mitm-lab start` and real curl: the
// Lessons panel (l) ticks a checkpoint live as curl runs and announces it in the footer; R resets
// the lab (list emptied, ticks gone); y and e write their files and say where; then
// `mitm-lab replay` on the events file the live run wrote shows the same rows, and
// `mitm-lab check` agrees with the panel.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_SHELL, runCli } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';

const CURL = hasTool('curl');
const LOGIN = ['-d', 'user=alice', '-d', 'password=correct-horse-battery-staple'];

/** The list rows of a screen that name a lab host (the time column included). */
function listRows(screen: string): string[] {
  const lines = screen.split('\n');
  const head = lines.findIndex((l) => /^time\s+what\s+host/.test(l));
  const tabs = lines.findIndex((l) => l.includes('1 Wire') && l.includes('5 Timeline'));
  return lines
    .slice(head + 1, tabs)
    .map((l) => l.trimEnd())
    .filter((l) => /\.test\b/.test(l));
}

describe.skipIf(!HAVE_TMUX || !CURL)('Lessons panel, reset and replay under tmux', () => {
  const live = new TmuxSession('mitm-lab-lessons');
  const replay = new TmuxSession('mitm-lab-replay');
  const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-lessons-tty-'));
  const events = path.join(dir, 'lab.jsonl');
  const wait = (s: TmuxSession, re: RegExp, timeoutMs = 30_000): Promise<string> =>
    s.waitForScreen(re, 'the screen', { timeoutMs, intervalMs: 200 });

  afterAll(() => {
    live.kill();
    replay.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ticks live, announces, resets with R, and replay shows the same rows', async () => {
    // cd: y and e write into the folder mitm-lab was started from.
    live.start({
      width: 150,
      height: 50,
      command: `cd ${dir} && ${CLI_SHELL} start --listen 127.0.0.1:0 --ca-dir ${dir}/ca --events ${events}; echo EXITED $?; sleep 60`,
    });
    const page = await wait(live, /plaintext 0\s+decrypted 0/);
    expect(page).toContain('press l');
    const port = /proxy 127\.0\.0\.1:(\d+)/.exec(page)![1]!;
    const proxy = `http://127.0.0.1:${port}`;
    const curl = (...args: string[]) =>
      runTool('curl', ['-sS', '-o', '/dev/null', '--max-time', '10', '-x', proxy, ...args]);

    live.send('l');
    const panel = await wait(live, /Exercise 1: A login over HTTP, sniffed\s+0\/3/);
    expect(panel).toContain('[ ] a password seen over plain HTTP');
    expect(panel).toMatch(/Exercise 5?|Exercise 4/); // every exercise is listed
    // Enter: the steps, the proxy address filled in, and the hint for what is missing.
    live.send('Enter');
    const steps = await wait(live, /Steps/);
    expect(steps).toContain(`curl -x ${proxy} -d user=alice`);
    expect(steps).toMatch(/next: log in over plain HTTP through the proxy/);

    // The tick appears while the panel is open, as curl runs, with the footer's announcement.
    expect((await curl(...LOGIN, 'http://bank.test/login')).code).toBe(0);
    // The password (the request) and the cookie (the response) tick as their events arrive: wait
    // for both, then the footer still announces the last one.
    const ticked = await wait(live, /Exercise 1: A login over HTTP, sniffed\s+2\/3/);
    expect(ticked).toContain('[x] a password seen over plain HTTP');
    expect(ticked).toMatch(/done: Exercise 1: a (password|session cookie) seen over plain HTTP/);

    // A refusal too, then back to the list: the rows as the live UI shows them.
    await curl('https://bank.test/');
    // One Esc at a time: two in a row reach the UI as one Alt-Esc.
    live.send('Escape');
    await wait(live, /Exercise 1: A login over HTTP, sniffed\s+2\/3\s*\n\s+\[x\]/);
    await wait(live, /HTTPS refused/);
    live.send('Escape');
    await wait(live, /1 Wire/);
    await live.waitForScreen(/^(?![\s\S]*Lessons: l closes)/, 'the Lessons panel closed');

    // y: every command, unwrapped, in a file in the folder it was started from.
    live.send('y');
    await wait(live, /commands written, unwrapped: .*mitm-lab-commands\.txt/);
    const commands = readFileSync(path.join(dir, 'mitm-lab-commands.txt'), 'utf8');
    expect(commands).toContain(`curl -x ${proxy} -d user=alice -d password=`);
    expect(commands).toContain('# Exercise 2:');
    expect(statSync(path.join(dir, 'mitm-lab-commands.txt')).mode & 0o777).toBe(0o600);

    // e without --har: a new HAR file here, named in the footer.
    live.send('e');
    await wait(live, /HAR written: .*mitm-lab-.*\.har/);
    const har = readdirSync(dir).find((f) => /^mitm-lab-.*\.har$/.test(f));
    expect(har).toBeDefined();
    const parsed = JSON.parse(readFileSync(path.join(dir, har!), 'utf8')) as {
      log: { entries: { request: { url: string } }[] };
    };
    expect(parsed.log.entries.map((e) => e.request.url)).toContain('http://bank.test/login');

    // R: the list empties, refused hosts are forgotten, the lessons restart.
    live.send('R');
    await wait(live, /lab reset: list emptied, 1 refused host forgotten, lessons restarted/);
    const emptied = await wait(live, /plaintext 0\s+decrypted 0\s+refused 0\s+tunnelled 0/);
    expect(listRows(emptied)).toEqual([]);
    live.send('l');
    await wait(live, /Exercise 1: A login over HTTP, sniffed\s+0\/3/);
    live.send('l');

    // One more login after the reset: the list shows it, the lessons count it.
    expect((await curl(...LOGIN, 'http://bank.test/login')).code).toBe(0);
    // The row with its response (303): the request event alone lists it with status `-`.
    const after = await wait(
      live,
      /plaintext 1\s+decrypted 0[\s\S]*bank\.test\s+POST\s+\/login\s+303/,
    );
    const liveRows = listRows(after);
    expect(liveRows.length).toBe(1);
    expect(liveRows[0]).toContain('bank.test');
    live.send('q');
    await wait(live, /EXITED 0/);

    // check agrees: after the reset, two of exercise 1's three checkpoints.
    const check = await runCli(['check', '1', '--events', events]);
    expect(check.stdout).toContain('Exercise 1: A login over HTTP, sniffed  2/3');

    // replay: the same UI on the file, the same rows, read-only keys say so.
    replay.start({
      width: 150,
      height: 50,
      command: `${CLI_SHELL} replay ${events}; echo EXITED $?; sleep 60`,
    });
    const replayed = await wait(replay, /replay of .*lab\.jsonl/);
    expect(listRows(replayed)).toEqual(liveRows);
    replay.send('l');
    await wait(replay, /Exercise 1: A login over HTTP, sniffed\s+2\/3/);
    replay.send('R');
    await wait(replay, /reset: not available in a replay/);
    replay.send('q');
    await wait(replay, /EXITED 0/);
    expect(existsSync(events)).toBe(true);
  }, 120_000);
});
