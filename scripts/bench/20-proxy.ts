// The proxy against a direct baseline and its peers, each in its own process, in the same run
// (the method of ../../shared/bench/, issue 12): an origin process (HTTP + HTTPS on loopback),
// a load-client process per measured window (./proc/load.ts: 32 keep-alive connections, what
// curl sends to a proxy), and one process per proxy:
//  - direct: no proxy, the client talks to the origin;
//  - mitm-lab: `mitm-lab proxy --headless --events FILE` (bin/mitm-lab.js, the compiled build;
//    full teaching capture, every event written as JSON);
//  - mitm-lab-noevents: the same without the events file, what ../../shared/bench's `project`
//    kind runs (`mitm-lab proxy --headless`): the like-for-like figure to hold against that
//    harness, and the headless side of the UI-attached ratio with nothing else different;
//  - mitm-lab+viewer: `mitm-lab proxy --headless --feed`, with `mitm-lab attach` running in a
//    120x40 pseudo-terminal as a viewer (its own process, drawing every flow);
//  - hmp: bare http-mitm-proxy 1.1 with keep-alive (./proc/hmp-proxy.mjs), the library mitm-lab
//    is built on;
//  - node-relay: Node's http/https relay and nothing else (./proc/node-relay.mjs, one fixed
//    certificate, so no minting): the floor under any proxy built on Node, mitm-lab and the
//    library alike (issue 12's CPU targets are read against it);
//  - mitmdump: Debian's mitmproxy, when installed and when *.bench.test resolves to 127.0.0.1
//    (it has no resolve rule of its own; ../../shared/bench/run.sh adds them to /etc/hosts).
// The proxies resolve *.bench.test to 127.0.0.1 by a rule (mitm-lab: --resolve; hmp and the
// relay: an agent lookup that still asks the system resolver once, ./proc/bench-names.mjs): no
// hosts file is edited. Every figure is measured in windows that alternate between
// the kinds (the order rotating each round), and a kind's figure is the median of its rounds:
// on a shared 2-core machine, drift hits every kind alike. Proxy CPU comes from
// /proc/PID/stat over the measured window (the proxy's process tree), RSS from
// /proc/PID/status.
//
// Options: `usage` below (`npm run bench -- --help`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dns from 'node:dns/promises';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildCertificate, generateEcKeyPair, generateRsaKeyPair } from '../../src/ca/index.ts';
import type { LoadResult, LoadSpec } from './proc/load.ts';
import { ptyArgs } from './proc/pty.mjs';

export const title =
  'proxy: direct vs mitm-lab vs bare http-mitm-proxy vs a bare Node relay vs mitmdump, each in its own process';

/** What `npm run bench -- --help` prints for this module. */
export const usage = `npm run bench -- proxy [OPTIONS]   (about 7 minutes with the defaults)

  --kinds LIST        which to run, comma-separated (default: all of them):
                      direct, mitm-lab (headless, every event written to a file),
                      mitm-lab-noevents (headless, no events file: the shared harness's
                      \`project\`), mitm-lab+viewer (--feed, with \`mitm-lab attach\` drawing
                      it in a pseudo-terminal), hmp (bare http-mitm-proxy 1.1), node-relay
                      (Node's http/https relay and nothing else), mitmdump (when installed
                      and *.bench.test resolves to 127.0.0.1)
  --scenarios LIST    http, https, newconn, mint (default: all four)
  --rounds N          windows per kind and scenario, the kinds alternating (2)
  --duration S        seconds per measured window (5), after --warmup S (1)
  --conns N           keep-alive connections (32)
  --newconn-parallel N  loops of new TLS connections (8)
  --mint-hosts N      new host names for the minting figure (30)
  --json FILE         where the JSON lines go (default: a new file in the OS temp folder)
  --also 'NAME=BIN [ARGS]'  another mitm-lab build run like mitm-lab (e.g. an older
                      commit's bin/mitm-lab.js, or ARGS --leaf-key rsa); may be repeated

Prints one line per window, then a table (rates × direct; CPU, RSS and minting × the
library) and the figures as JSON lines. Every process it starts is ended when it stops.
docs/performance.md says how to read it and holds the latest figures.`;

/** A mistake in the options: the runner prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {}

const ROOT = path.resolve(import.meta.dirname, '../..');
const PROC = path.join(import.meta.dirname, 'proc');
const TSX = ['--import', 'tsx'];
const DAY = 86_400_000;
/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
/** The name every keep-alive request goes to; mint uses fresh names under the same domain. */
const HOST = 'h1.bench.test';

type Scenario = 'http' | 'https' | 'newconn' | 'mint';
const SCENARIOS: Scenario[] = ['http', 'https', 'newconn', 'mint'];
const KINDS = [
  'direct',
  'mitm-lab',
  'mitm-lab-noevents',
  'mitm-lab+viewer',
  'hmp',
  'node-relay',
  'mitmdump',
];

interface Options {
  rounds: number;
  duration: number;
  warmup: number;
  conns: number;
  newconn: number;
  mintHosts: number;
  kinds: string[];
  scenarios: Scenario[];
  json: string;
  also: { name: string; bin: string; args: string[] }[];
}

function readOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        rounds: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        conns: { type: 'string' },
        'newconn-parallel': { type: 'string' },
        'mint-hosts': { type: 'string' },
        kinds: { type: 'string' },
        scenarios: { type: 'string' },
        json: { type: 'string' },
        also: { type: 'string', multiple: true },
      },
    });
  } catch (err) {
    // node:util's own text goes on about positional arguments; the option is what matters.
    const unknown = /^Unknown option '([^']+)'/.exec((err as Error).message)?.[1];
    throw new UsageError(unknown ? `no option ${unknown}` : (err as Error).message);
  }
  const { values } = parsed;
  const num = (name: keyof typeof values, d: number): number => {
    const v = values[name];
    if (v === undefined) return d;
    const n = Number(v);
    if (typeof v !== 'string' || !Number.isFinite(n) || n <= 0) {
      throw new UsageError(`--${name} wants a number above 0, got ${JSON.stringify(v)}`);
    }
    return n;
  };
  const list = (v: unknown): string[] | null =>
    typeof v === 'string' ? v.split(',').map((s) => s.trim()) : null;
  const also = ((values.also as string[] | undefined) ?? []).map((a) => {
    const eq = a.indexOf('=');
    const [bin, ...args] = a
      .slice(eq + 1)
      .split(' ')
      .filter(Boolean);
    const name = a.slice(0, eq);
    if (eq < 1 || !bin) throw new UsageError(`--also wants 'NAME=PATH_TO_BIN [ARGS]', got ${a}`);
    return { name, bin: path.resolve(bin), args };
  });
  const kinds = list(values.kinds) ?? KINDS;
  const unknownKind = kinds.find((k) => !KINDS.includes(k) && !also.some((a) => a.name === k));
  if (unknownKind !== undefined) {
    throw new UsageError(
      `--kinds: no kind "${unknownKind}" (there are ${KINDS.join(', ')}; --also adds more)`,
    );
  }
  const scenarios = list(values.scenarios) ?? SCENARIOS;
  const unknownScenario = scenarios.find((x) => !SCENARIOS.includes(x as Scenario));
  if (unknownScenario !== undefined) {
    throw new UsageError(
      `--scenarios: no scenario "${unknownScenario}" (there are ${SCENARIOS.join(', ')})`,
    );
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    rounds: Math.round(num('rounds', 2)),
    duration: num('duration', 5),
    warmup: num('warmup', 1),
    conns: Math.round(num('conns', 32)),
    newconn: Math.round(num('newconn-parallel', 8)),
    mintHosts: Math.round(num('mint-hosts', 30)),
    kinds: [...kinds, ...also.map((a) => a.name).filter((n) => !kinds.includes(n))],
    scenarios: scenarios as Scenario[],
    json:
      typeof values.json === 'string'
        ? values.json
        : path.join(os.tmpdir(), `mitm-lab-bench-${stamp}.jsonl`),
    also,
  };
}

// ---- /proc ------------------------------------------------------------------------------------

/** The PID and its descendants. */
function tree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      continue; // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** CPU seconds (user + system) used so far by the process tree. */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      continue;
    }
  }
  return ticks / CLK_TCK;
}

/** VmRSS and VmHWM of the process tree, MB. */
function memory(pid: number): { rss: number; peak: number } {
  let rss = 0;
  let peak = 0;
  for (const p of tree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      continue;
    }
  }
  return { rss: rss / 1024, peak: peak / 1024 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait (at most 10 s) until the process uses less than a tenth of a core. */
async function quiet(pid: number): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const a = cpuSeconds(pid);
    await sleep(500);
    if (cpuSeconds(pid) - a < 0.05) return;
  }
}

// ---- processes --------------------------------------------------------------------------------

interface Child {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the first match of `re` in stdout (fails after `ms`, or if it exits). */
  wait(re: RegExp, what: string, ms?: number): Promise<RegExpExecArray>;
}

const started: ChildProcess[] = [];
/** What a child's output keeps for `out()`, `err()` and `wait()`. */
const OUTPUT_KEPT = 1 << 20;

/**
 * Start a child. With `logFile`, its stdout and stderr go to that file, as the shared harness
 * starts the proxies (`proxy.log`): a proxy prints a line per request, and a pipe read by this
 * process would make the bench itself a busy process on the same two cores in that proxy's
 * windows only (every line woke it), which the library's windows (it prints nothing) never had.
 * Without, they are pipes read here (the load client's results, the origin's ports).
 */
function launch(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  logFile?: string,
): Child {
  if (logFile) {
    const fd = openSync(logFile, 'w');
    const proc = spawn(file, args, { cwd: ROOT, env, stdio: ['pipe', fd, fd] });
    closeSync(fd);
    started.push(proc);
    const out = (): string => readHead(logFile, OUTPUT_KEPT);
    return {
      proc,
      out,
      err: out,
      wait: (re, what, ms) => waitFor(proc, out, () => '(with stdout, above)', re, what, ms),
    };
  }
  const proc = spawn(file, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    if (out.length < OUTPUT_KEPT) out += d;
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < OUTPUT_KEPT) err += d;
  });
  return {
    proc,
    out: () => out,
    err: () => err,
    wait: (re, what, ms) =>
      waitFor(
        proc,
        () => out,
        () => err,
        re,
        what,
        ms,
      ),
  };
}

/** The first `max` bytes of a file, as text. */
function readHead(file: string, max: number): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(max);
    return buf.toString('utf8', 0, readSync(fd, buf, 0, max, 0));
  } finally {
    closeSync(fd);
  }
}

async function waitFor(
  proc: ChildProcess,
  out: () => string,
  err: () => string,
  re: RegExp,
  what: string,
  ms = 30_000,
): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = re.exec(out());
    if (m) return m;
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > end) {
      throw new Error(`${what}: not seen (${re}); stdout:\n${out()}\nstderr:\n${err()}`);
    }
    await sleep(50);
  }
}

/** SIGTERM to every process this bench started that still runs, at once (synchronous). */
function stopAllNow(): void {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
}

/** SIGTERM, then SIGKILL after 5 s: only the processes this bench started, by PID. */
async function stopAll(): Promise<void> {
  stopAllNow();
  const end = Date.now() + 5000;
  while (Date.now() < end && started.some((p) => p.exitCode === null && p.signalCode === null))
    await sleep(50);
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

/** A running proxy kind (or the direct baseline, with no process). */
interface Kind {
  name: string;
  /** What it runs, for the report. */
  command: string;
  pid: number | null;
  port: number | null;
  /** PEM files the client trusts through it. */
  ca: string[];
  idleRssMb: number | null;
  /** A second process that belongs to the kind (the viewer), for its CPU. */
  viewerPid?: number;
  /** False for a kind with one fixed certificate: it has no minting to measure. */
  mints?: boolean;
  note?: string;
}

interface Pki {
  dir: string;
  rootFile: string;
  certFile: string;
  keyFile: string;
  /** node-relay's certificate for *.bench.test: an ECDSA P-256 key, as mitm-lab's leaves. */
  relayCertFile: string;
  relayKeyFile: string;
}

/** The origin's root and its leaf for *.bench.test, made fresh for the run. */
function makePki(dir: string): Pki {
  const rootKey = generateRsaKeyPair(2048);
  const now = Date.now();
  const rootPem = buildCertificate({
    subject: { CN: 'mitm-lab bench origin root' },
    publicKeyPem: rootKey.publicKeyPem,
    issuer: { selfSignWith: rootKey.privateKeyPem },
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + DAY),
    isCa: true,
    pathLen: 0,
  });
  /** A certificate for *.bench.test, signed by the root. */
  const leafFor = (cn: string, publicKeyPem: string): string =>
    buildCertificate({
      subject: { CN: cn },
      publicKeyPem,
      issuer: { certPem: rootPem, privateKeyPem: rootKey.privateKeyPem },
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + DAY),
      sans: ['DNS:bench.test', 'DNS:*.bench.test'],
    });
  const leafKey = generateRsaKeyPair(2048);
  const leafPem = leafFor('bench.test', leafKey.publicKeyPem);
  const relayKey = generateEcKeyPair();
  const relayPem = leafFor('bench.test relay', relayKey.publicKeyPem);
  const pki = {
    dir,
    rootFile: path.join(dir, 'origin-root.pem'),
    certFile: path.join(dir, 'origin.pem'),
    keyFile: path.join(dir, 'origin.key'),
    relayCertFile: path.join(dir, 'relay.pem'),
    relayKeyFile: path.join(dir, 'relay.key'),
  };
  writeFileSync(pki.rootFile, rootPem);
  writeFileSync(pki.certFile, leafPem);
  writeFileSync(pki.keyFile, leafKey.privateKeyPem, { mode: 0o600 });
  writeFileSync(pki.relayCertFile, relayPem);
  writeFileSync(pki.relayKeyFile, relayKey.privateKeyPem, { mode: 0o600 });
  return pki;
}

/** Wait until `file` exists (a proxy writes its CA on start). */
async function fileAppears(file: string, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (existsSync(file)) return;
    await sleep(100);
  }
  throw new Error(`${what}: ${file} never appeared`);
}

async function resolvesToLoopback(name: string): Promise<boolean> {
  try {
    const all = await dns.lookup(name, { all: true });
    return all.length > 0 && all.every((a) => a.address === '127.0.0.1');
  } catch {
    return false;
  }
}

function commandOf(file: string, args: string[]): string {
  return [file === process.execPath ? 'node' : file, ...args].join(' ');
}

/** Events files the mitm-lab kinds write (emptied between windows: bounded disk use). */
const eventsFiles: string[] = [];

async function startMitmLab(
  name: string,
  bin: string,
  dir: string,
  pki: Pki,
  extra: string[],
): Promise<{ kind: Kind; child: Child }> {
  const caDir = path.join(dir, 'ca');
  const args = [
    bin,
    'proxy',
    '--listen',
    '127.0.0.1:0',
    '--ca-dir',
    caDir,
    '--mode',
    'intercept',
    '--headless',
    '--upstream-ca',
    pki.rootFile,
    '--resolve',
    '*.bench.test=127.0.0.1',
    ...extra,
  ];
  const c = launch(process.execPath, args, process.env, path.join(dir, 'proxy.log'));
  const port = Number((await c.wait(/listening on http:\/\/127\.0\.0\.1:(\d+)/, name))[1]);
  const kind = {
    name,
    command: commandOf(process.execPath, args),
    pid: c.proc.pid!,
    port,
    ca: [path.join(caDir, 'certs', 'ca.pem')],
    idleRssMb: null,
  };
  return { kind, child: c };
}

/** `mitm-lab proxy … --events FILE` (no size limit: the bench empties the file between windows). */
async function startMitmLabWithEvents(
  name: string,
  bin: string,
  dir: string,
  pki: Pki,
  args: string[] = [],
): Promise<Kind> {
  const events = path.join(dir, 'events.jsonl');
  eventsFiles.push(events);
  const extra = ['--events', events, '--events-max-mb', '0', ...args];
  const { kind } = await startMitmLab(name, bin, dir, pki, extra);
  return kind;
}

/** `mitm-lab attach URL` in a 120x40 pseudo-terminal (python3's pty), its output drained. */
function startViewer(url: string): Child {
  return launch(
    'python3',
    ptyArgs([process.execPath, path.join(ROOT, 'bin/mitm-lab.js'), 'attach', url]),
    {
      ...process.env,
      TERM: 'xterm-256color',
    },
  );
}

async function startKind(
  name: string,
  opts: Options,
  pki: Pki,
  base: string,
): Promise<Kind | string> {
  const dir = path.join(base, name.replace(/[^a-z0-9-]/gi, '_'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bin = path.join(ROOT, 'bin/mitm-lab.js');
  switch (name) {
    case 'direct':
      return {
        name,
        command: '(no proxy)',
        pid: null,
        port: null,
        ca: [pki.rootFile],
        idleRssMb: null,
      };
    case 'mitm-lab':
      return startMitmLabWithEvents(name, bin, dir, pki);
    case 'mitm-lab-noevents':
      return (await startMitmLab(name, bin, dir, pki, [])).kind;
    case 'mitm-lab+viewer': {
      const { kind, child } = await startMitmLab(name, bin, dir, pki, ['--feed']);
      const url = (await child.wait(/attach '([^']+)'/, `${name} attach URL`))[1]!;
      const viewer = startViewer(url);
      await sleep(1500); // the viewer connects and draws its first screen
      if (viewer.proc.exitCode !== null) return `the viewer exited: ${viewer.err()}`;
      kind.viewerPid = viewer.proc.pid!;
      return kind;
    }
    case 'hmp': {
      const args = [path.join(PROC, 'hmp-proxy.mjs'), path.join(dir, 'hmp-ca')];
      const c = launch(
        process.execPath,
        args,
        { ...process.env, NODE_EXTRA_CA_CERTS: pki.rootFile },
        path.join(dir, 'proxy.log'),
      );
      const port = Number((await c.wait(/listening (\d+)/, name))[1]);
      const ca = path.join(dir, 'hmp-ca', 'certs', 'ca.pem');
      await fileAppears(ca, name);
      return {
        name,
        command: commandOf(process.execPath, args),
        pid: c.proc.pid!,
        port,
        ca: [ca],
        idleRssMb: null,
      };
    }
    case 'node-relay': {
      const args = [
        path.join(PROC, 'node-relay.mjs'),
        pki.relayCertFile,
        pki.relayKeyFile,
        pki.rootFile,
      ];
      const c = launch(process.execPath, args, process.env, path.join(dir, 'proxy.log'));
      const port = Number((await c.wait(/listening (\d+)/, name))[1]);
      return {
        name,
        command: commandOf(process.execPath, args),
        pid: c.proc.pid!,
        port,
        ca: [pki.rootFile],
        idleRssMb: null,
        mints: false,
      };
    }
    case 'mitmdump': {
      if (spawnSync('sh', ['-c', 'command -v mitmdump']).status !== 0) return 'not installed';
      if (!(await resolvesToLoopback(HOST)) || !(await resolvesToLoopback('m1.bench.test')))
        return `${HOST} does not resolve to 127.0.0.1 (mitmdump has no resolve rule; ../shared/bench/run.sh adds the names to /etc/hosts)`;
      const port = await freePort();
      const confdir = path.join(dir, 'confdir');
      const args = [
        '-q',
        '--listen-host',
        '127.0.0.1',
        '-p',
        String(port),
        '--set',
        `confdir=${confdir}`,
        '--set',
        `ssl_verify_upstream_trusted_ca=${pki.rootFile}`,
      ];
      const c = launch('mitmdump', args, process.env, path.join(dir, 'proxy.log'));
      const ca = path.join(confdir, 'mitmproxy-ca-cert.pem');
      await fileAppears(ca, name);
      await waitForPort(port, c);
      return {
        name,
        command: commandOf('mitmdump', args),
        pid: c.proc.pid!,
        port,
        ca: [ca],
        idleRssMb: null,
      };
    }
    default: {
      const also = opts.also.find((a) => a.name === name);
      if (!also) return 'unknown kind';
      return startMitmLabWithEvents(name, also.bin, dir, pki, also.args);
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, c: Child): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (c.proc.exitCode !== null) throw new Error(`exited: ${c.err()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} never opened`);
}

// ---- windows ----------------------------------------------------------------------------------

interface Window {
  kind: string;
  scenario: Scenario;
  round: number;
  result: LoadResult;
  /** Proxy CPU seconds in the measured window (null: direct). */
  proxyCpuS: number | null;
  viewerCpuS: number | null;
}

async function measure(
  kind: Kind,
  scenario: Scenario,
  opts: Options,
  origin: { http: number; https: number },
  round: number,
  hosts: string[],
): Promise<Window> {
  if (kind.pid !== null) await quiet(kind.pid);
  const spec: LoadSpec = {
    mode: scenario,
    proxyPort: kind.port,
    origin,
    host: HOST,
    ca: kind.ca,
    conns: scenario === 'newconn' ? opts.newconn : opts.conns,
    warmupS: opts.warmup,
    durationS: opts.duration,
    hosts,
    timeoutMs: 15_000,
  };
  const client = launch(process.execPath, [
    ...TSX,
    path.join(PROC, 'load.ts'),
    JSON.stringify(spec),
  ]);
  let cpu0 = 0;
  let viewer0 = 0;
  if (scenario === 'mint') {
    if (kind.pid !== null) cpu0 = cpuSeconds(kind.pid);
  } else {
    await client.wait(/"phase":"measuring"/, `${kind.name} ${scenario} warm-up`, 60_000);
    if (kind.pid !== null) cpu0 = cpuSeconds(kind.pid);
    if (kind.viewerPid !== undefined) viewer0 = cpuSeconds(kind.viewerPid);
  }
  const done = await client.wait(/^\{"phase":"done".*$/m, `${kind.name} ${scenario}`, 600_000);
  const proxyCpuS = kind.pid !== null ? cpuSeconds(kind.pid) - cpu0 : null;
  const viewerCpuS = kind.viewerPid !== undefined ? cpuSeconds(kind.viewerPid) - viewer0 : null;
  return {
    kind: kind.name,
    scenario,
    round,
    result: JSON.parse(done[0]) as LoadResult,
    proxyCpuS,
    viewerCpuS,
  };
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---- report -----------------------------------------------------------------------------------

interface Figure {
  kind: string;
  figure: string;
  value: number;
  unit: string;
}

function summarize(
  kinds: Kind[],
  windows: Window[],
  after: Map<string, { rss: number; peak: number }>,
): Figure[] {
  const figs: Figure[] = [];
  const add = (kind: string, figure: string, value: number, unit: string): void => {
    if (Number.isFinite(value)) figs.push({ kind, figure, value, unit });
  };
  for (const k of kinds) {
    const of = (s: Scenario) => windows.filter((w) => w.kind === k.name && w.scenario === s);
    for (const [s, label] of [
      ['http', 'HTTP keep-alive'],
      ['https', 'HTTPS keep-alive'],
    ] as const) {
      const ws = of(s);
      if (ws.length === 0) continue;
      add(k.name, `${label} req/s`, median(ws.map((w) => w.result.perSecond)), 'req/s');
      add(k.name, `${label} p50`, median(ws.map((w) => w.result.p50Ms)), 'ms');
      add(k.name, `${label} p99`, median(ws.map((w) => w.result.p99Ms)), 'ms');
      add(
        k.name,
        `${label} errors`,
        ws.reduce((n, w) => n + w.result.errors, 0),
        'count',
      );
      if (k.pid !== null)
        add(
          k.name,
          `${label} proxy CPU per request`,
          median(ws.map((w) => (1000 * w.proxyCpuS!) / w.result.count)),
          'ms',
        );
      if (k.viewerPid !== undefined)
        add(
          k.name,
          `${label} viewer CPU per request`,
          median(ws.map((w) => (1000 * w.viewerCpuS!) / w.result.count)),
          'ms',
        );
    }
    const nc = of('newconn');
    if (nc.length > 0) {
      add(k.name, 'new TLS connections/s', median(nc.map((w) => w.result.perSecond)), 'conn/s');
      add(k.name, 'new TLS connection p50', median(nc.map((w) => w.result.p50Ms)), 'ms');
      add(
        k.name,
        'new TLS connection errors',
        nc.reduce((n, w) => n + w.result.errors, 0),
        'count',
      );
      if (k.pid !== null)
        add(
          k.name,
          'proxy CPU per new TLS connection',
          median(nc.map((w) => (1000 * w.proxyCpuS!) / w.result.count)),
          'ms',
        );
    }
    const mint = of('mint');
    if (mint.length > 0) {
      const ttfb = mint[0]!.result.ttfbMs ?? [];
      const half = ttfb.length / 2;
      const fresh = median(ttfb.slice(0, half));
      const cached = median(ttfb.slice(half));
      add(k.name, 'new-host TTFB p50', fresh, 'ms');
      add(k.name, 'cached-host TTFB p50', cached, 'ms');
      if (k.pid !== null) add(k.name, 'minting cost (new − cached p50)', fresh - cached, 'ms');
    }
    if (k.idleRssMb !== null) add(k.name, 'RSS idle after start', k.idleRssMb, 'MB');
    const a = after.get(k.name);
    if (a) {
      add(k.name, 'RSS at the end', a.rss, 'MB');
      add(k.name, 'peak RSS', a.peak, 'MB');
    }
  }
  // The "UI attached ≥ 0.9× headless": the viewer kind's rate over a headless one's,
  // both medians of the same run. Against `mitm-lab`, which writes every event to a file (the
  // issue's headless kind), and against `mitm-lab-noevents`, where the viewer is the only
  // difference (the viewer kind writes no file either).
  for (const [s, label] of [
    ['http', 'HTTP keep-alive'],
    ['https', 'HTTPS keep-alive'],
  ] as const) {
    const rate = (kind: string): number =>
      median(
        windows.filter((w) => w.kind === kind && w.scenario === s).map((w) => w.result.perSecond),
      );
    const attached = rate('mitm-lab+viewer');
    for (const [kind, against] of [
      ['mitm-lab', 'headless'],
      ['mitm-lab-noevents', 'headless without the events file'],
    ] as const) {
      const headless = rate(kind);
      if (headless > 0 && attached > 0)
        add(
          'mitm-lab+viewer',
          `${label} with the UI attached, × ${against}`,
          attached / headless,
          '×',
        );
    }
  }
  return figs;
}

/** Better when higher? (req/s, conn/s) */
const higherIsBetter = (unit: string): boolean => unit.endsWith('/s');

function table(kinds: Kind[], figs: Figure[]): string {
  const names = kinds.map((k) => k.name);
  const figures = [...new Set(figs.map((f) => f.figure))];
  const get = (kind: string, figure: string) =>
    figs.find((f) => f.kind === kind && f.figure === figure);
  const fmt = (v: number): string =>
    Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  const rows = [`| figure | ${names.join(' | ')} |`, `|---|${names.map(() => '---|').join('')}`];
  for (const figure of figures) {
    const unit = figs.find((f) => f.figure === figure)!.unit;
    // Rates against direct; CPU and memory against bare http-mitm-proxy (the targets).
    const ref = higherIsBetter(unit) ? 'direct' : /CPU|RSS|cost/.test(figure) ? 'hmp' : null;
    const base = ref ? get(ref, figure) : undefined;
    const cells = names.map((n) => {
      const f = get(n, figure);
      if (!f) return '—';
      const ratio =
        base && n !== ref && base.value > 0 && unit !== 'count'
          ? ` (${(f.value / base.value).toFixed(2)}×)`
          : '';
      return `${unit === 'count' ? String(f.value) : fmt(f.value)}${ratio}`;
    });
    rows.push(`| ${figure} (${unit}) | ${cells.join(' | ')} |`);
  }
  return rows.join('\n');
}

// ---- the run ----------------------------------------------------------------------------------

export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  const opts = readOptions(argv);
  const bin = path.join(ROOT, 'dist', 'cli', 'bin.js');
  if (!existsSync(bin)) throw new Error('dist/ is missing: run npm run build (npm run bench does)');
  const base = mkdtempSync(path.join(os.tmpdir(), 'mitm-lab-bench-'));
  const lines: string[] = [];
  const jsonl = (o: object): void => {
    lines.push(JSON.stringify(o));
  };
  const onSignal = (): void => {
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  // However the bench ends (an error, its output closed under `| head`), what it started ends
  // too: a SIGTERM each, the one thing an 'exit' listener can still do.
  process.on('exit', stopAllNow);
  try {
    const pki = makePki(base);
    const originProc = launch(process.execPath, [
      ...TSX,
      path.join(PROC, 'origin.ts'),
      pki.certFile,
      pki.keyFile,
    ]);
    const origin = JSON.parse((await originProc.wait(/^\{.*\}$/m, 'origin'))[0]) as {
      http: number;
      https: number;
    };

    const kinds: Kind[] = [];
    for (const name of opts.kinds) {
      try {
        const k = await startKind(name, opts, pki, base);
        if (typeof k === 'string') {
          console.log(`  ${name}: skipped (${k})`);
          jsonl({ type: 'skipped', kind: name, why: k });
          continue;
        }
        if (k.pid !== null) {
          await sleep(1000);
          k.idleRssMb = memory(k.pid).rss;
        }
        kinds.push(k);
      } catch (err) {
        console.log(
          `  ${name}: did not start (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
        );
        jsonl({ type: 'start-failed', kind: name, why: String(err) });
      }
    }
    const cpu = os.cpus();
    const env = {
      type: 'env',
      node: process.version,
      cpus: cpu.length,
      cpu: cpu[0]?.model.trim() ?? '?',
      memGb: +(os.totalmem() / 2 ** 30).toFixed(1),
      loadavg: os.loadavg().map((x) => +x.toFixed(2)),
      commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT })
        .stdout?.toString()
        .trim(),
      opts: { ...opts, json: undefined },
      kinds: kinds.map((k) => ({ kind: k.name, command: k.command })),
    };
    jsonl(env);
    console.log(
      `  ${env.cpus} × ${env.cpu}, node ${env.node}, load ${env.loadavg.join(' ')}; ${opts.conns} keep-alive connections, ` +
        `${opts.warmup} s warm-up + ${opts.duration} s per window, ${opts.rounds} rounds alternating the kinds`,
    );

    // A cold proxy is slower for seconds (JIT, pools; a first round of new TLS connections read
    // ~1.2 ms more per connection for the library than the next two): every kind first gets
    // three seconds of each scenario but minting, not measured.
    for (const k of kinds) {
      for (const scenario of opts.scenarios.filter((s) => s !== 'mint')) {
        await measure(k, scenario, { ...opts, warmup: 0.1, duration: 3 }, origin, -1, []);
      }
    }
    const windows: Window[] = [];
    for (const scenario of opts.scenarios.filter((s) => s !== 'mint')) {
      for (let round = 0; round < opts.rounds; round++) {
        // Rotate the order each round: no kind always goes first (or last).
        const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]!);
        for (const k of order) {
          const w = await measure(k, scenario, opts, origin, round, []);
          windows.push(w);
          jsonl({ type: 'window', ...w, result: { ...w.result, ttfbMs: undefined } });
          const cpuMs =
            w.proxyCpuS !== null
              ? `, proxy CPU ${((1000 * w.proxyCpuS) / w.result.count).toFixed(3)} ms each`
              : '';
          console.log(
            `  ${scenario.padEnd(7)} round ${round + 1}  ${k.name.padEnd(16)} ${w.result.perSecond.toFixed(0).padStart(6)}/s  ` +
              `p50 ${w.result.p50Ms.toFixed(2)} ms  p99 ${w.result.p99Ms.toFixed(2)} ms  errors ${w.result.errors}${cpuMs}`,
          );
          for (const f of eventsFiles) if (existsSync(f)) truncateSync(f, 0); // bounded disk use
        }
      }
    }
    if (opts.scenarios.includes('mint')) {
      for (const k of kinds.filter((k) => k.mints !== false)) {
        const names = Array.from({ length: opts.mintHosts }, (_, i) => `m${i + 1}.bench.test`);
        const w = await measure(k, 'mint', opts, origin, 0, [...names, ...names]);
        windows.push(w);
        jsonl({ type: 'window', ...w });
      }
    }
    const after = new Map<string, { rss: number; peak: number }>();
    for (const k of kinds) if (k.pid !== null) after.set(k.name, memory(k.pid));
    const figs = summarize(kinds, windows, after);
    for (const f of figs) jsonl({ type: 'figure', ...f });
    console.log('');
    console.log(table(kinds, figs));
    console.log('\nRates: × direct. CPU, RSS and minting cost: × bare http-mitm-proxy (hmp).');
    console.log(
      "node-relay is Node's http/https relay with nothing else (no capture, no events, one fixed\n" +
        'certificate): no proxy built on Node goes under its CPU per request.',
    );
    writeFileSync(opts.json, `${lines.join('\n')}\n`);
    console.log(`\nJSON lines (${lines.length}): ${opts.json}`);
    for (const l of lines.filter((l) => l.startsWith('{"type":"figure"'))) console.log(l);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGHUP', onSignal);
    await stopAll();
    process.removeListener('exit', stopAllNow);
    rmSync(base, { recursive: true, force: true });
  }
}
