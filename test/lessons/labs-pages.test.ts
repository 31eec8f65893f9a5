// docs/labs/*.md is a contract, like docs/events.md: this test follows every page to the letter,
// as a student would, and holds what the page says you will see against what really happens.
//
// For each page, in order:
// - every ```sh block runs, in one bash per page (a student's terminal 2: variables set in one
//   block are there in the next), with the working folder standing for the clone (`certs/`,
//   `lab.jsonl`);
// - a block that starts the lab (`npx mitm-lab start …` / `npm start -- …`, terminal 1) starts
//   it here, headless, on a free port, with the page's own options (`--fresh`, `--mode`,
//   `--events lab.jsonl`); a later one restarts it;
// - the placeholders are filled: the proxy address `http://127.0.0.1:8080` becomes the real one;
//   `npx mitm-lab` runs this checkout's CLI from its sources (test/support/cli.ts, as the other
//   CLI tests do);
//   `chromium` runs headless (`--dump-dom`: it loads the page, prints it and exits) in a HOME of
//   its own, so the developer's NSS database is never read (a block may set HOME=… itself);
// - a ```text block after a paragraph saying "you should see" is what the page promises for the
//   block before it. Each line is either a row of the UI's flow list — `BADGE  HOST  [METHOD
//   [PATH [STATUS]]]` (columns two spaces apart; METHOD `TLS` for a TLS row) — checked against
//   the flows folded from the events that block made, or a line of the commands' output (`…`
//   stands for anything; case and runs of spaces do not matter; Chromium's output is its page
//   and its log, where an error page's code is `net::ERR_…`);
// - after a Chromium block, every host the proxy saw must be a lab name (the quiet flags in
//   src/lessons/chromium.ts), except the captive-portal probe Chromium sends from a certificate
//   error page;
// - the page's last `npx mitm-lab check N --events lab.jsonl` must exit 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyEvent } from '../../src/events/types.ts';
import { CHROMIUM_QUIET_FLAGS, EXERCISES } from '../../src/lessons/index.ts';
import { BADGES, FlowStore, type Flow } from '../../src/store/index.ts';
import { CHROMIUM, hasChromium } from '../support/chromium.ts';
import { CLI_ENTRY, ROOT, spawnCli, TSX, type CliProcess } from '../support/cli.ts';
import { freePort } from '../support/net.ts';
import { hasTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { sleep, waitUntil } from '../support/wait.ts';

const LABS = path.join(ROOT, 'docs/labs');
/** What the pages write for the proxy's address (the default listen address). */
const PAGE_PROXY = 'http://127.0.0.1:8080';
/** One block may take this long (a Chromium launch is a few seconds; the victim's gallery ~10). */
const BLOCK_TIMEOUT_MS = 90_000;
/** Chromium's own limit inside a block (its process group is killed after it). */
const CHROMIUM_TIMEOUT_S = 45;
/** The probe a certificate error page sends (no flag turns it off; see src/lessons/chromium.ts). */
const CAPTIVE_PORTAL_PROBE = 'connectivitycheck.gstatic.com';

// --- reading a page ------------------------------------------------------------------------

interface Block {
  /** `sh` (run), `text` (an expectation when the prose before it says "you should see"), … */
  lang: string;
  body: string;
  /** 1-based line of the opening fence (for messages). */
  line: number;
  /** The prose between the previous block and this one. */
  before: string;
}

/** The fenced blocks of a page (indented ones inside list items too), in order. */
function fencedBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let prose: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
    if (!open) {
      prose.push(lines[i]!);
      continue;
    }
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++)
      body.push(lines[j]!.slice(Math.min(indent, lines[j]!.search(/\S|$/))));
    blocks.push({ lang: open[2]!, body: body.join('\n'), line: i + 1, before: prose.join('\n') });
    prose = [];
    i = j;
  }
  return blocks;
}

/** Is this ```text block a "you should see" for the block before it? */
const isExpectation = (b: Block): boolean => b.lang === 'text' && /you should see/i.test(b.before);

/** The first command of a block (comments and blank lines skipped). */
const firstCommand = (b: Block): string =>
  b.body
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '' && !l.startsWith('#')) ?? '';

/** `npx mitm-lab start …` or `npm start -- …`: the options, or null when it is not a start. */
function startOptions(b: Block): string[] | null {
  const cmd = firstCommand(b);
  const m = /^(?:npx mitm-lab start|npm start(?: --)?)(?:\s+(.*))?$/.exec(cmd);
  return m ? (m[1] ?? '').split(/\s+/).filter((w) => w !== '') : null;
}

/** A command as one line: continuation lines joined, `;` and runs of space as one space. */
function normalise(cmd: string): string {
  return cmd
    .replace(/\\\n/g, ' ')
    .replace(/[;\s]+/g, ' ')
    .trim();
}

/** An exercise step from src/lessons, with the placeholders the pages spell out. */
const asOnPage = (step: string): string =>
  step
    .replaceAll('{proxy}', '$P')
    .replaceAll('{labRoot}', 'certs/lab/root.pem')
    .replaceAll('{ca}', 'certs/certs/ca.pem');

// --- the UI rows a page promises -----------------------------------------------------------

interface Row {
  badge: string;
  host: string;
  method?: string;
  path?: string;
  status?: string;
}

function parseRow(line: string): Row | null {
  const cols = line.trim().split(/\s{2,}/);
  if (!(BADGES as readonly string[]).includes(cols[0]!)) return null;
  const [badge, host, method, p, status] = cols as [string, string, ...string[]];
  return {
    badge,
    host,
    ...(method ? { method } : {}),
    ...(p ? { path: p } : {}),
    ...(status ? { status } : {}),
  };
}

function rowMatches(r: Row, f: Flow): boolean {
  if (f.badge !== r.badge || f.host !== r.host) return false;
  if (r.method !== undefined && (f.kind === 'tls' ? 'TLS' : f.method) !== r.method) return false;
  if (r.path !== undefined && f.path !== r.path) return false;
  return r.status === undefined || String(f.status) === r.status;
}

/** Does `line` (with `…` for anything) appear in one line of `output`? */
function outputHas(output: string, line: string): boolean {
  const squash = (s: string) => s.replace(/\s+/g, ' ').trim().toLowerCase();
  const parts = squash(line)
    .split('…')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  return output.split('\n').some((l) => {
    const s = squash(l);
    let at = 0;
    for (const p of parts) {
      const i = s.indexOf(p, at);
      if (i < 0) return false;
      at = i + p.length;
    }
    return true;
  });
}

/** Output for a message: without Chromium's log noise (no D-Bus here), the last 4000 characters. */
function shown(output: string): string {
  const noise = /dbus|crashpad|unexpected operator|isolated_origin_util/;
  return output
    .split('\n')
    .filter((l) => !noise.test(l))
    .join('\n')
    .slice(-4000);
}

// --- running a page ------------------------------------------------------------------------

/** One bash, fed one block at a time: a student's terminal 2. */
class Terminal {
  private readonly child: ChildProcess;
  private out = '';
  private n = 0;

  constructor(
    private readonly dir: string,
    env: NodeJS.ProcessEnv,
  ) {
    // Its own process group: whatever a block leaves behind goes with it, by this PID.
    this.child = spawn('bash', ['--norc', '--noprofile'], {
      cwd: dir,
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
  }

  /** Source `script` in this shell; its exit status and everything it printed (both streams). */
  async run(script: string): Promise<{ code: number; output: string }> {
    const n = ++this.n;
    const file = path.join(this.dir, `.block-${n}.sh`);
    const outFile = path.join(this.dir, `.block-${n}.out`);
    writeFileSync(file, `${script}\n`);
    const marker = `__block_${n}_done__`;
    this.child.stdin!.write(
      `{ . '${file}'; } </dev/null >'${outFile}' 2>&1; echo "${marker} $?"\n`,
    );
    const re = new RegExp(`${marker} (\\d+)`);
    const ok = await waitUntil(() => re.test(this.out), {
      timeoutMs: BLOCK_TIMEOUT_MS,
      intervalMs: 50,
    });
    const output = readFileSync(outFile, 'utf8');
    if (!ok)
      throw new Error(`block did not finish in ${BLOCK_TIMEOUT_MS} ms:\n${script}\n${output}`);
    return { code: Number(re.exec(this.out)![1]), output };
  }

  close(): void {
    if (this.child.pid !== undefined && this.child.exitCode === null) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** What the test puts in front of the page's commands (sourced once per terminal). */
const PRELUDE = `
npx() { if [ "$1" = mitm-lab ]; then shift; "$MITM_LAB_NODE" --import "$MITM_LAB_TSX" "$MITM_LAB_BIN" "$@"; else command npx "$@"; fi; }
chromium() { timeout -k 5 ${CHROMIUM_TIMEOUT_S} "$MITM_LAB_CHROMIUM" --headless --no-sandbox --disable-gpu --dump-dom "$@"; }
`;

function readEvents(file: string): ProxyEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // not written yet
  }
  const out: ProxyEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as ProxyEvent);
    } catch {
      // a line still being written
    }
  }
  return out;
}

/** Every connection opened since `from` has closed (or time is up: the check then says what). */
async function settle(file: string, from: number): Promise<ProxyEvent[]> {
  await waitUntil(
    () => {
      const ev = readEvents(file).slice(from);
      const open = new Set(ev.filter((e) => e.type === 'conn.open').map((e) => e.connId));
      for (const e of ev) if (e.type === 'conn.close') open.delete(e.connId);
      return open.size === 0;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  await sleep(200); // the sink writes each event as it comes; let the last lines land
  return readEvents(file).slice(from);
}

/** Hosts the proxy was asked for, by any client, in these events. */
function hostsSeen(events: ProxyEvent[]): Set<string> {
  const hosts = new Set<string>();
  for (const e of events) {
    if (e.type === 'tls.client-hello' || e.type === 'tunnel.summary') hosts.add(e.sni ?? e.host);
    if (e.type === 'http.request' || e.type === 'upstream.error') hosts.add(e.host);
  }
  return hosts;
}

interface Lab {
  cli: CliProcess;
  proxyUrl: string;
}

const { dir: tmp, cleanup } = tempDir('mitm-lab-labs-pages-');
/** The clone a student works in: certs/ (the CA and the lab PKI) and lab.jsonl. */
const clone = path.join(tmp, 'clone');

const pages = readdirSync(LABS)
  .filter((f) => f.endsWith('.md'))
  .sort((a, b) => (a === 'README.md' ? -1 : b === 'README.md' ? 1 : a.localeCompare(b)));
const read = (page: string) => readFileSync(path.join(LABS, page), 'utf8');
const exercisePages = pages.filter((p) => /^\d\d-/.test(p));

/** Start (or restart) the lab as a page's terminal 1 does. */
async function startLab(options: string[], previous: Lab | null): Promise<Lab> {
  if (previous) {
    previous.cli.kill('SIGTERM');
    await previous.cli.exited;
  }
  const opts = options.slice();
  // A restart keeps the address, as a student's does (8080 both times): `$P` stays right. The
  // port is one no other part of the run can take meanwhile (support/net.ts).
  const listen = previous
    ? previous.proxyUrl.replace('http://', '')
    : `127.0.0.1:${await freePort()}`;
  const cli = spawnCli(
    ['start', '--headless', '--listen', listen, '--ca-dir', path.join(clone, 'certs'), ...opts],
    { cwd: clone },
  );
  try {
    const m = await cli.waitForOutput(/proxy (http:\/\/127\.0\.0\.1:\d+)/, 'the banner', 60_000);
    return { cli, proxyUrl: m[1]! };
  } catch (err) {
    await cli.stop();
    throw err;
  }
}

/** Follow `page` to the letter; returns a list of broken promises (empty when it holds). */
async function followPage(page: string): Promise<string[]> {
  const problems: string[] = [];
  const blocks = fencedBlocks(read(page));
  const events = path.join(clone, 'lab.jsonl');
  // Short: Chromium's profile socket lives under TMPDIR, and a Unix socket path has ~107 bytes.
  const shellDir = path.join(tmp, `t${pages.indexOf(page)}`);
  mkdirSync(path.join(shellDir, 'home'), { recursive: true });
  mkdirSync(path.join(shellDir, 'tmp'), { recursive: true });
  // The terminal works in the clone; its scratch (block files) goes in the shell's own folder.
  const term = new Terminal(clone, {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: path.join(shellDir, 'home'),
    TMPDIR: path.join(shellDir, 'tmp'),
    MITM_LAB_CA_DIR: path.join(clone, 'certs'),
    MITM_LAB_NODE: process.execPath,
    MITM_LAB_TSX: TSX,
    MITM_LAB_BIN: CLI_ENTRY,
    MITM_LAB_CHROMIUM: CHROMIUM,
  });
  let lab: Lab | null = null;
  let lastCheck: { line: number; code: number; output: string } | null = null;
  try {
    await term.run(PRELUDE);
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]!;
      if (b.lang !== 'sh') continue;
      const where = `${page}:${b.line}`;
      const options = startOptions(b);
      if (options) {
        lab = await startLab(options, lab);
        continue;
      }
      if (/^npm (install|ci)\b/.test(firstCommand(b))) continue; // the suite runs in an installed clone
      if (!lab) {
        problems.push(`${where}: a command before the lab was started`);
        continue;
      }
      const script = b.body.replaceAll(PAGE_PROXY, lab.proxyUrl);
      const from = readEvents(events).length;
      const { code, output } = await term.run(script);
      const made = await settle(events, from);
      const store = new FlowStore();
      for (const e of made) store.apply(e);
      const flows = store.all();
      const expect = blocks[i + 1] && isExpectation(blocks[i + 1]!) ? blocks[i + 1]! : null;
      for (const line of expect?.body.split('\n') ?? []) {
        if (line.trim() === '') continue;
        const row = parseRow(line);
        if (row ? flows.some((f) => rowMatches(row, f)) : outputHas(output, line)) continue;
        problems.push(
          `${where}: promised "${line.trim()}", but ${
            row
              ? `the flows were:\n${flows.map((f) => `  ${f.badge}  ${f.host}  ${f.kind === 'tls' ? 'TLS' : f.method}  ${f.path}  ${f.status}`).join('\n')}`
              : `the output was:\n${shown(output)}`
          }`,
        );
      }
      if (/\bchromium\b/.test(script)) {
        const outside = [...hostsSeen(made)].filter(
          (h) =>
            !h.endsWith('.test') &&
            !(h === CAPTIVE_PORTAL_PROBE && /ERR_CERT_|ERR_SSL_/.test(output)),
        );
        if (outside.length) problems.push(`${where}: Chromium reached ${outside.join(', ')}`);
      }
      if (/^npx mitm-lab check \d/.test(firstCommand(b)))
        lastCheck = { line: b.line, code, output };
    }
  } finally {
    term.close();
    if (lab) {
      lab.cli.kill('SIGTERM');
      await lab.cli.exited;
    }
  }
  if (/^\d\d-/.test(page)) {
    if (!lastCheck) problems.push(`${page}: no \`npx mitm-lab check N --events lab.jsonl\``);
    else if (lastCheck.code !== 0)
      problems.push(
        `${page}:${lastCheck.line}: check exited ${lastCheck.code}:\n${lastCheck.output}`,
      );
  }
  return problems;
}

// --- the tests -----------------------------------------------------------------------------

describe('docs/labs: what every page must have', () => {
  it('has one page per exercise, in order, and the index links each', () => {
    expect(exercisePages.map((p) => p.slice(0, 2))).toEqual(
      EXERCISES.map((e) => e.id.padStart(2, '0')),
    );
    for (const e of EXERCISES) expect(exercisePages).toContain(path.basename(e.page));
    const index = read('README.md');
    for (const p of exercisePages) expect(index).toContain(`(${p})`);
  });

  it.each(EXERCISES.map((e) => [e.id, e] as const))(
    'exercise %s: a clean start, its steps, "you should see", and check N with every checkpoint',
    (_id, e) => {
      const text = read(path.basename(e.page));
      const blocks = fencedBlocks(text);
      expect(text).toContain('**Goal:**');
      expect(text).toMatch(/## Start from a clean state/);
      const start = blocks.find((b) => startOptions(b) !== null);
      expect(start, 'a block that starts the lab').toBeDefined();
      expect(startOptions(start!)).toEqual(expect.arrayContaining(['--fresh', '--events']));
      expect(text).toMatch(/press `R`/i);
      expect(blocks.some(isExpectation), 'a "you should see" block').toBe(true);
      const page = normalise(blocks.map((b) => b.body).join('\n'));
      for (const step of e.steps) expect(page, step).toContain(normalise(asOnPage(step)));
      const check = blocks.findIndex((b) =>
        firstCommand(b).startsWith(`npx mitm-lab check ${e.id} --events lab.jsonl`),
      );
      expect(check, 'npx mitm-lab check N --events lab.jsonl').toBeGreaterThan(-1);
      const promised = blocks[check + 1];
      expect(promised && isExpectation(promised)).toBe(true);
      for (const c of e.checkpoints) expect(promised!.body).toContain(`[x] ${c.title}`);
      expect(text).toMatch(/## Why/);
    },
  );

  it.each(pages)(
    '%s: every command says npx mitm-lab, and every Chromium is the quiet one',
    (p) => {
      for (const b of fencedBlocks(read(p)).filter((x) => x.lang === 'sh')) {
        expect(b.body, `${p}:${b.line}`).not.toMatch(/(^|[^\w-])(?<!npx )mitm-lab (?!Lab)/m);
        const cmd = normalise(b.body);
        if (!/\bchromium --/.test(cmd)) continue;
        for (const flag of CHROMIUM_QUIET_FLAGS) expect(cmd, `${p}:${b.line}`).toContain(flag);
        expect(cmd, `${p}:${b.line}`).toContain('--user-data-dir=');
      }
    },
  );

  it('the index says how the UI starts (at once) and where the lab root is', () => {
    const index = read('README.md');
    expect(index).not.toMatch(/read the banner|then press Enter/i);
    expect(index).toContain('certs/lab/root.pem');
  });
});

const tools =
  hasChromium &&
  hasTool('curl') &&
  hasTool('python3') &&
  hasTool('certutil') &&
  hasTool('tshark', ['-v']);
describe.skipIf(!tools)(
  tools
    ? 'docs/labs, followed to the letter against a started lab'
    : 'docs/labs, followed: needs chromium, curl, python3, certutil (libnss3-tools) and tshark',
  () => {
    beforeAll(async () => {
      mkdirSync(clone, { recursive: true });
    });
    afterAll(() => cleanup());

    it.each(pages)(
      '%s holds',
      async (page) => {
        expect(await followPage(page)).toEqual([]);
      },
      300_000,
    );
  },
);
