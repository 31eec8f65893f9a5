// `npm start` for real: `mitm-lab start` (src/cli/bin.ts, see test/support/cli.ts) spawned as a
// process under plain node (not through vitest's transform), stdout a pipe (so: no terminal UI,
// the headless printer). It must print the banner, serve the lab through the proxy, drive the
// victim and demo commands, and stop cleanly on SIGINT (exit 0, HAR written, process gone).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VICTIM_ACCOUNT } from '../../src/lab/bank-data.ts';
import type { VictimRecord } from '../../src/victim/types.ts';
import { CLI_SHELL, runCli, spawnCli, type CliProcess } from '../support/cli.ts';
import { listenLoopback } from '../support/net.ts';
import { hasTool, runTool } from '../support/run.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';
import { sleep } from '../support/wait.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'mitm-lab-start-'));
// Outputs may not go in the CA folder (issue 13): the HAR gets a folder of its own.
const outDir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-start-out-'));
const har = path.join(outDir, 'flows.har');
const curl = hasTool('curl');

let start: CliProcess;
let proxyUrl = '';

/** curl, bounded at 60 s. */
const runCurl = (args: string[]) => runTool('curl', args, { timeoutMs: 60_000 });
/** A one-shot CLI command, bounded at 60 s; `input` is its stdin. */
const cli = (args: string[], input?: string) =>
  runCli(args, { timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });

beforeAll(async () => {
  start = spawnCli(['start', '--listen', '127.0.0.1:0', '--ca-dir', tmp, '--har', har]);
  // The banner ends with the way to stop. If it never comes, the banner test fails and shows
  // both outputs, so this only waits (bounded) and does not throw.
  await start.waitForOutput(/Stop: Ctrl-C\./, 'the banner', 30_000).catch(() => undefined);
  proxyUrl = /mitm-lab — proxy (http:\/\/127\.0\.0\.1:\d+)/.exec(start.out())?.[1] ?? '';
}, 40_000);

afterAll(async () => {
  await start?.stop(); // only if a test failed before the SIGINT test
  rmSync(tmp, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
});

describe('mitm-lab start (stdout not a terminal)', () => {
  it('prints the banner: proxy address, CA fingerprint, copy-paste commands', () => {
    const out = start.out();
    expect(proxyUrl, `stdout:\n${out}\nstderr:\n${start.err()}`).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+$/,
    );
    expect(out).toMatch(/SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    expect(out).toContain(`curl -x ${proxyUrl} -d user=alice`);
    expect(out).toContain(`--cacert ${path.join(tmp, 'certs', 'ca.pem')}`);
    expect(out).toContain(`mitm-lab victim --ca-dir ${tmp} --proxy ${proxyUrl}`);
    expect(out).toContain(`chromium --proxy-server=${proxyUrl} --user-data-dir=$(mktemp -d)`);
    expect(out).not.toContain('Live view:'); // no terminal UI without a TTY
  });

  it.skipIf(!curl)('serves the lab through the proxy: bank.test over HTTP', async () => {
    const r = await runCurl(['-sS', '--max-time', '10', '-x', proxyUrl, 'http://bank.test/']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('<h1>bank.test</h1>');
    const index = await runCurl(['-sS', '--max-time', '10', '-x', proxyUrl, 'http://lab.test/']);
    expect(index.stdout).toContain('expired.bank.test');
  });

  it.skipIf(!curl)('decrypts HTTPS for a client given the mitm-lab CA', async () => {
    const r = await runCurl([
      '-sS',
      '--max-time',
      '10',
      '-x',
      proxyUrl,
      '--cacert',
      path.join(tmp, 'certs', 'ca.pem'),
      '-d',
      `user=${VICTIM_ACCOUNT.user}`,
      '-d',
      `password=${VICTIM_ACCOUNT.password}`,
      'https://bank.test/login',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Welcome, Alice Liddell');
  });

  it('runs the victim command against it, with its own JSONL record', async () => {
    const events = path.join(tmp, 'victim.jsonl');
    const r = await cli([
      'victim',
      '--ca-dir',
      tmp,
      '--proxy',
      proxyUrl,
      '--only',
      'http-login,gallery:expired',
      '--events',
      events,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('[1/2] Log in over plain HTTP');
    expect(r.stdout).toContain('certificate has expired');
    const records = readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as VictimRecord);
    expect(records[0]).toMatchObject({ type: 'victim.start', profile: 'normal' });
    expect(records[records.length - 1]).toMatchObject({ type: 'victim.end', steps: 2 });
    const steps = records.filter((x) => x.type === 'victim.step');
    expect(steps.map((s) => [s.step, s.attempt, s.outcome])).toEqual([
      ['http-login', 1, 'ok'],
      ['gallery:expired', 1, 'refused-certificate'],
      ['gallery:expired', 2, 'refused-certificate'],
    ]);
    expect(steps[2]).toMatchObject({ code: 'CERT_HAS_EXPIRED' });
  });

  it('runs demo step by step from stdin lines, and stops on q', async () => {
    const r = await cli(
      ['demo', '--ca-dir', tmp, '--proxy', proxyUrl, '--only', 'http-login,wss-chat'],
      '\nq\n',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('-- next: step 1/2, Log in over plain HTTP.');
    expect(r.stdout).toContain('[1/2] Log in over plain HTTP');
    expect(r.stdout).toContain('-- next: step 2/2');
    expect(r.stdout).not.toContain('[2/2]');
    expect(r.stdout).toContain('stopped.');
  });

  it('printed one headless line per outcome, the HTTP password among them', () => {
    expect(start.out()).toMatch(/HTTP\s+plaintext\s+POST http:\/\/bank\.test\/login/);
  });

  it('stops cleanly on SIGINT: exit code 0, HAR written, process gone', async () => {
    expect(start.kill('SIGINT')).toBe(true);
    const result = await Promise.race([
      start.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000)),
    ]);
    expect(result).toEqual({ code: 0, signal: null });
    expect(start.out()).toContain('mitm-lab: stopped.');
    expect(existsSync(har)).toBe(true);
    const entries = (JSON.parse(readFileSync(har, 'utf8')) as { log: { entries: unknown[] } }).log
      .entries;
    expect(entries.length).toBeGreaterThan(0);
    expect(() => process.kill(start.pid, 0)).toThrow(); // no such process
  });
});

describe('mitm-lab start, usage', () => {
  it('answers --help with the options and exit 0', async () => {
    const r = await cli(['start', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--headless');
    expect(r.stdout).toContain('--listen HOST:PORT');
  });

  it('rejects a bad option with exit 2', async () => {
    const r = await cli(['start', '--mode', 'sideways']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--mode');
  });

  it('fails with exit 1 and a clear message when the port is taken', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    const port = await listenLoopback(blocker);
    try {
      const r = await cli(['start', '--listen', `127.0.0.1:${port}`, '--ca-dir', tmp]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/in use|EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});

// The terminal path: under tmux stdout is a TTY, so `start` opens the terminal UI at once (its
// start page has the banner's commands); t runs the victim tour in-process (normal, then
// compromised) with its narration on screen; Ctrl-C quits the UI and stops everything, exit 0.
describe.skipIf(!HAVE_TMUX)('mitm-lab start on a terminal (tmux)', () => {
  const tmux = new TmuxSession('mitm-lab-start-e2e');
  const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-start-tty-'));
  const waitFor = (re: RegExp, timeoutMs = 30_000): Promise<string> =>
    tmux.waitForScreen(re, 'the screen', { timeoutMs, intervalMs: 250 });

  afterAll(() => {
    tmux.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens the UI at once, t runs the tours with their narration on screen, Ctrl-C exits 0', async () => {
    const command = `${CLI_SHELL} start --listen 127.0.0.1:0 --ca-dir ${dir} --feed; echo EXITED $?; sleep 60`;
    tmux.start({ width: 170, height: 45, command }); // throws when tmux refuses
    // No "press Enter": the UI, its start page with the commands and the tour key.
    const page = await waitFor(/plaintext 0\s+decrypted 0/);
    expect(page).toContain('No flows yet. Try these');
    expect(page).toContain(`npx mitm-lab victim --ca-dir ${dir} --proxy http://127.0.0.1:`);
    expect(page).toContain('press t');
    expect(page).toMatch(/t tour/); // the footer hints it
    // --feed: the projector's command on a line of its own, and the feed port in the header.
    expect(page).toMatch(/^ {3}npx mitm-lab attach 'ws:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+'$/m);
    expect(page).toMatch(/feed :\d+/);
    /** Run a tour step by step: Enter on each "run step N/M" until the panel says it is over. */
    const runTour = async (): Promise<string> => {
      let last = '';
      for (let i = 0; i < 60; i++) {
        const screen = await waitFor(/Enter: run step \d+\/\d+|The tour is over/, 30_000);
        if (/The tour is over/.test(screen)) return screen;
        const step = /Enter: run step (\d+\/\d+)/.exec(screen)![1]!;
        if (step !== last) {
          last = step;
          tmux.send('Enter');
        }
        // The next step's offer (or the end) replaces this one once the step ran.
        const until = Date.now() + 30_000;
        while (Date.now() < until) {
          const now = tmux.screen();
          if (!now.includes(`Enter: run step ${step} `) || now.includes('The tour is over')) break;
          await sleep(250);
        }
      }
      throw new Error('the tour did not end within 60 steps');
    };
    tmux.send('t');
    // Step by step: nothing runs before Enter, the panel names the first step.
    const first = await waitFor(/Enter: run step 1\/\d+/);
    expect(first).toContain('Victim tour');
    const over = await runTour();
    expect(over).toContain('victim tour done (normal)');
    // The normal device: HTTP in clear, HTTPS refused then tunnelled, nothing decrypted.
    expect(over).toMatch(/plaintext [1-9]\d*\s+decrypted 0\s+refused \d+\s+tunnelled [1-9]/);
    expect(over).toContain('bank.test');
    // The start page (g) keeps every narration line.
    tmux.send('g');
    const narrated = await waitFor(/Start page/);
    expect(narrated).toMatch(/\[1\/\d+\] Log in over plain HTTP/);
    tmux.send('g');
    // The compromised device: the proxy now decrypts HTTPS.
    tmux.send('t');
    await runTour();
    await waitFor(/decrypted [1-9]/, 20_000);
    tmux.send('C-c');
    const end = await waitFor(/EXITED \d+/);
    expect(end).toContain('mitm-lab: stopped.');
    expect(end).toContain('EXITED 0');
  }, 90_000);
});
