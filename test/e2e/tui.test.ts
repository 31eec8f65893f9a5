// End to end: the real `mitm-lab start` (test/support/cli.ts) in a real terminal (tmux): the UI
// at once with the commands to copy on its start page, real curl through it, the flows read back from `tmux capture-pane`, every view opened, and `q`
// leaving the shell usable. One tmux session with a unique name; only that session is killed.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/net.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir, type TempDir } from '../support/temp-dir.ts';
import { CLI_SHELL, ROOT } from '../support/cli.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';
import { sleep } from '../support/wait.ts';

const HAVE_CURL = hasTool('curl');
const SKIP_REASON = !HAVE_TMUX
  ? 'tmux is not installed (.ci/run installs it)'
  : !HAVE_CURL
    ? 'curl is not installed'
    : null;

const tmux = new TmuxSession('mitm-lab-e2e');
let ca: TempDir | null = null;

/** curl's exit code (0, or e.g. 60 when it refuses the certificate). */
async function curl(args: string[]): Promise<number | null> {
  return (await runTool('curl', ['-s', '-o', '/dev/null', '--max-time', '15', ...args])).code;
}

/**
 * The start page capture in docs/lab.md, against the screen: the same 40 rows once what varies
 * from run to run is set aside — the port, the CA folder (the doc says
 * `/path/to/mitm-lab/certs`), the CA's name and fingerprint. A command the terminal cuts (`>`)
 * ends elsewhere when the folder's name is longer: those rows compare up to the shorter cut.
 */
async function expectDocBlockOnScreen(caDir: string): Promise<void> {
  const doc = readFileSync(path.join(ROOT, 'docs/lab.md'), 'utf8');
  const from = doc.indexOf('```\n', doc.indexOf('## What `npm start` shows')) + 4;
  const want = canonicalScreen(doc.slice(from, doc.indexOf('\n```', from)));
  const compare = (screen: string): string[] =>
    canonicalScreen(screen.split(caDir).join(DOC_CA_DIR)).map((line, i) => {
      const d = want[i] ?? '';
      const cut = line.endsWith('>') && d.endsWith('>');
      const [a, b] = [line.slice(0, -1), d.slice(0, -1)];
      return cut && (a.startsWith(b) || b.startsWith(a)) ? d : line;
    });
  // The first frame may still be settling: a few reads, then the diff.
  let got = compare(tmux.screen());
  for (let i = 0; i < 20 && JSON.stringify(got) !== JSON.stringify(want); i++) {
    await sleep(150);
    got = compare(tmux.screen());
  }
  expect(got, 'docs/lab.md start page capture (recapture it at 120x40)').toEqual(want);
}

const DOC_CA_DIR = '/path/to/mitm-lab/certs';

/** Rows without trailing blanks, with the run's port, CA name and fingerprints made neutral. */
function canonicalScreen(text: string): string[] {
  const rows = text
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/mitm-lab throwaway CA \d{4}-\d\d-\d\d [0-9a-f]{6}/g, 'CA-NAME')
    .replace(/(?:[0-9A-F]{2}:){31}[0-9A-F]{2}/g, 'SHA-256')
    // The header cuts the fingerprint where the width ends: `3E:61:C8:E9:..`.
    .replace(/(?:[0-9A-F]{2}:)+[0-9A-F]{0,2}\.\./g, 'SHA-256..')
    .split('\n')
    .map((l) => l.trimEnd());
  while (rows.length && rows.at(-1) === '') rows.pop();
  return rows;
}

afterAll(() => {
  tmux.kill(); // this test's session only
  ca?.cleanup();
});

describe('mitm-lab start under tmux', () => {
  if (SKIP_REASON) {
    it.skip(`the terminal UI end to end: ${SKIP_REASON}`, () => {});
    return;
  }

  it('shows curl traffic, opens every view, and quits with q leaving the shell usable', async () => {
    ca = tempDir('mitm-lab-e2e-');
    const caDir = ca.dir;
    const port = await freePort();
    // A plain shell in a fixed-size terminal; the command is typed into it, so after `q` the
    // same shell must answer.
    tmux.start({ width: 120, height: 40, env: { MITM_LAB_CA_DIR: caDir, PS1: 'e2e$ ' } });
    tmux.typeLine(`cd ${ROOT} && ${CLI_SHELL} start --listen 127.0.0.1:${port}; echo "exit=$?"`);

    // start opens the UI at once; with no flows yet its start page has the banner's commands.
    const proxy = `http://127.0.0.1:${port}`;
    const first = await tmux.waitForScreen(/No flows yet\. Try these/, 'the start page', {
      timeoutMs: 60_000,
    });
    const shown = Number(/mitm-lab {2}proxy 127\.0\.0\.1:(\d+)/.exec(first)?.[1]);
    expect(shown).toBe(port);
    expect(first).toMatch(/CA SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    expect(first).toContain(`curl -x ${proxy} -d user=alice -d password=`); // HTTP
    expect(first).toContain(`curl -x ${proxy} --cacert ${caDir}/certs/ca.pem`); // HTTPS, trusted
    expect(first).toMatch(/curl -x \S+ -d user=alice -d password=\S+ https:\/\/bank\.test\/login/);
    expect(first).toContain(`npx mitm-lab victim --proxy ${proxy}`);
    expect(first).toContain(`chromium --proxy-server=${proxy} --user-data-dir=$(mktemp -d)`);
    expect(first).toContain('press t');
    // docs/lab.md shows this screen: it must be the one a real start draws today.
    await expectDocBlockOnScreen(caDir);

    // Plain HTTP: visible to everyone.
    const password = `pw-${randomBytes(4).toString('hex')}`;
    expect(
      await curl(['-x', proxy, '-d', `user=alice&password=${password}`, 'http://bank.test/login']),
    ).toBe(0);
    await tmux.waitForScreen(/HTTP plaintext\s+bank\.test/, 'the plain-HTTP flow');
    // HTTPS without the mitm-lab CA: curl refuses the forgery (exit 60).
    expect(await curl(['-x', proxy, 'https://bank.test/'])).toBe(60);
    await tmux.waitForScreen(/HTTPS refused\s+bank\.test/, 'the refused flow');

    // Every view of the selected (newest: refused) flow.
    await tmux.press('1');
    await tmux.waitForScreen(/WIRE - what an eavesdropper sees/, 'the Wire view');
    await tmux.press('2');
    await tmux.waitForScreen(/Nothing: the proxy never held the keys/, 'the Decrypted view');
    await tmux.press('3');
    await tmux.waitForScreen(/CERTIFICATES/, 'the Certificates view');
    await tmux.press('4');
    await tmux.waitForScreen(/Refused: unknown CA \(alert 48\)/, 'the Why view');
    await tmux.press('5');
    await tmux.waitForScreen(/TIMELINE/, 'the Timeline view');
    // The plain-HTTP flow's Wire view shows the bytes.
    await tmux.press('Home', '1');
    let wire = await tmux.waitForScreen(
      /POST http:\/\/bank\.test\/login HTTP\/1\.1/,
      'the HTTP bytes on the wire',
    );
    // Projector-safe: the password is on the wire but hidden until r reveals it.
    if (!wire.includes('password=[hidden'))
      wire = await tmux.waitForScreen(/password=\[hidden/, 'the masked password');
    expect(wire).not.toContain(password);
    await tmux.press('r');
    await tmux.waitForScreen(new RegExp(`password=${password}`), 'the revealed password');
    await tmux.press('r');
    await tmux.waitForScreen(/password=\[hidden/, 'the password hidden again');
    await tmux.press('?');
    await tmux.waitForScreen(/mitm-lab keys/, 'the help overlay');
    await tmux.press('Escape');
    // The commands stay reachable: g shows the start page again, g goes back.
    await tmux.press('g');
    await tmux.waitForScreen(/Start page {2}\(g goes back/, 'the start page on g');
    expect(tmux.screen()).toContain(`curl -x ${proxy} -d user=alice -d password=`);
    await tmux.press('g');

    // q quits, the terminal is restored, and the shell answers.
    await tmux.press('q');
    await tmux.waitForScreen(/exit=0/, 'start to exit 0 after q', { timeoutMs: 20_000 });
    const after = await tmux.shellAnswers();
    expect(after).not.toContain('HTTPS refused'); // the alternate screen is gone
  }, 180_000);
});
