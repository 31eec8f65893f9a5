// `npm run soak [-- capacity|corpus|https]`: the proxy under a long, bounded load on loopback,
// as the real CLI, with figures printed — not a test (nothing here passes or fails; the tests
// in test/hardening/ assert the bounds). Three parts (issue 13, Deliver 10), each on a fresh
// proxy:
//  - capacity: 1,000 busy keep-alive connections and 100 new connections timed beside them
//    (first response p50/p99); then 1,000 intercepted HTTPS connections opened 100 at a time;
//    RSS idle, with them open, and 10 s after they closed;
//  - corpus: the bad inputs of test/hardening/corpus.ts, with 4,000 mutated ClientHellos: what
//    the proxy answered, and whether it still serves with its descriptors back;
//  - https: 100,000 intercepted HTTPS requests with a terminal UI attached (`mitm-lab attach`
//    on a pseudo-terminal, over --feed); RSS of the proxy and of the viewer every 20,000.
// The origin and the clients run in processes of their own (test/hardening/load-child.ts), the
// proxy under `ulimit -n 8192`. Takes 3–6 minutes on a 2-core machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeTestPki } from '../test/integration/helpers.ts';
import {
  BAD_CONNECT_TARGETS,
  captureClientHello,
  mutatedClientHellos,
  RAW_INPUTS,
  runCorpus,
  sendHello,
  sendRaw,
} from '../test/hardening/corpus.ts';
import {
  firstResponse,
  percentile,
  startLoadChild,
  type LoadChild,
} from '../test/hardening/load.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/mitm-lab.js');
const FD_LIMIT = 8192;
const HOST = 'soak.localhost';
const BUSY = 1000;
const PROBES = 100;
const HTTPS_CONNECTIONS = 1000;
const HTTPS_BATCH = 100;
const HELLOS = 4000;
const REQUESTS = 100_000;
const REQUEST_CONNECTIONS = 50;
const RSS_EVERY = 20_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident memory of a process, MiB. */
function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 1024);
}

/** Is the process still there? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: gone
  }
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

interface Proxy {
  pid: number;
  port: number;
  caCert: string;
  /** The `mitm-lab attach` URL (with --feed). */
  feedUrl: string | null;
  running(): boolean;
  stop(): Promise<void>;
}

/** `mitm-lab proxy --headless ARGS` under `ulimit -n FD_LIMIT`, once it listens. */
async function startProxy(dir: string, args: string[]): Promise<Proxy> {
  const caDir = path.join(dir, 'ca');
  const child: ChildProcess = spawn(
    'bash',
    [
      '-c',
      `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`,
      process.execPath,
      BIN,
      'proxy',
      '--listen',
      '127.0.0.1:0',
      '--headless',
      '--ca-dir',
      caDir,
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Only the start is kept: the headless lines of a long run are read and dropped.
  let head = '';
  let tail = '';
  const keep = (d: string): void => {
    if (head.length < 16_384) head += d;
    tail = (tail + d).slice(-4096);
  };
  child.stdout!.setEncoding('utf8').on('data', keep);
  child.stderr!.setEncoding('utf8').on('data', keep);
  let ended = false;
  const exited = new Promise<void>((resolve) =>
    child.once('close', () => {
      ended = true;
      resolve();
    }),
  );
  const end = Date.now() + 60_000;
  let port = 0;
  while (!port) {
    port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(head)?.[1] ?? 0);
    if (!port && (ended || Date.now() > end))
      throw new Error(`the proxy did not start:\n${head}\n${tail}`);
    await sleep(50);
  }
  return {
    pid: child.pid!,
    port,
    caCert: path.join(caDir, 'certs', 'ca.pem'),
    feedUrl: /mitm-lab attach '([^']+)'/.exec(head)?.[1] ?? null,
    running: () => !ended,
    async stop() {
      if (!ended) child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killed);
      if (/\n\s+at .+:\d+:\d+\)?\n/.test(tail))
        console.log(`  (a stack trace at the end:\n${tail})`);
    },
  };
}

/** Wait until the proxy holds no client connection (its descriptors stop falling). */
async function settle(pid: number): Promise<void> {
  let before = openFds(pid);
  for (let i = 0; i < 30; i++) {
    await sleep(1000);
    const now = openFds(pid);
    if (now >= before) return;
    before = now;
  }
}

async function capacity(load: LoadChild, dir: string, rootFile: string): Promise<void> {
  console.log(
    `\n== capacity: ${BUSY} busy keep-alive connections, then ${HTTPS_CONNECTIONS} HTTPS`,
  );
  const proxy = await startProxy(dir, ['--mode', 'intercept', '--upstream-ca', rootFile]);
  try {
    const idle = rssMb(proxy.pid);
    let since = load.count();
    const t0 = performance.now();
    load.send({ cmd: 'busy', proxyPort: proxy.port, conns: BUSY, host: HOST });
    const all = await load.waitFor(
      (r) => r.busy !== undefined && (r.busy.served === BUSY || r.busy.errors > 0),
      'busy connections served',
      300_000,
      since,
    );
    console.log(
      `  ${all.busy!.served} of ${BUSY} busy connections answered within ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s (errors: ${all.busy!.errors})`,
    );
    const doneBefore = load.latest('busy')!.done;
    const probes: Promise<{ ms: number; statusLine: string }>[] = [];
    for (let i = 0; i < PROBES; i++) {
      probes.push(firstResponse(proxy.port, `http://${HOST}:${load.origin.http}/new-${i}`));
      await sleep(50);
    }
    const results = await Promise.all(probes);
    const busyDuring = load.latest('busy')!.done - doneBefore;
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    const bad = results.filter((r) => r.statusLine !== 'HTTP/1.1 200 OK').length;
    console.log(
      `  first response of ${PROBES} new connections: p50 ${Math.round(percentile(ms, 0.5))} ms, ` +
        `p99 ${Math.round(percentile(ms, 0.99))} ms, max ${Math.round(percentile(ms, 1))} ms (not 200: ${bad}); ` +
        `the busy ones got ${busyDuring} responses meanwhile; proxy RSS ${rssMb(proxy.pid)} MB`,
    );
    since = load.count();
    load.send({ cmd: 'stop-busy' });
    await load.waitFor((r) => r.stopped === 'busy', 'busy closed', 60_000, since);
    await settle(proxy.pid);
    await sleep(5000);
    const plateau = rssMb(proxy.pid);

    since = load.count();
    const t1 = performance.now();
    load.send({
      cmd: 'https',
      proxyPort: proxy.port,
      conns: HTTPS_CONNECTIONS,
      batch: HTTPS_BATCH,
      host: HOST,
      caFile: proxy.caCert,
    });
    const opened = await load.waitFor((r) => r.https !== undefined, 'HTTPS', 600_000, since);
    const peak = rssMb(proxy.pid);
    console.log(
      `  ${opened.https!.opened} of ${HTTPS_CONNECTIONS} intercepted HTTPS connections opened ` +
        `(${HTTPS_BATCH} at a time) in ${((performance.now() - t1) / 1000).toFixed(1)} s; ` +
        `failed ${opened.https!.failed}, errors ${JSON.stringify(opened.https!.errors)}`,
    );
    since = load.count();
    load.send({ cmd: 'close-https' });
    await load.waitFor((r) => r.stopped === 'https', 'HTTPS closed', 60_000, since);
    await sleep(10_000);
    console.log(
      `  proxy RSS: ${idle} MB at start, ${plateau} MB idle after the busy load, ${peak} MB ` +
        `with the HTTPS connections open, ${rssMb(proxy.pid)} MB 10 s after they closed`,
    );
  } finally {
    await proxy.stop();
  }
}

async function corpus(dir: string, rootFile: string, origin: LoadChild['origin']): Promise<void> {
  console.log(
    `\n== corpus: bad CONNECT targets, bytes that are no request, ${HELLOS} ClientHellos`,
  );
  const proxy = await startProxy(dir, [
    '--mode',
    'intercept',
    '--upstream-ca',
    rootFile,
    '--resolve',
    `corpus.test:443=127.0.0.1:${origin.https}`,
  ]);
  try {
    const fdsBefore = openFds(proxy.pid);
    const rssBefore = rssMb(proxy.pid);
    const targets = await runCorpus(
      BAD_CONNECT_TARGETS.map(
        (t) => () => sendRaw(proxy.port, Buffer.from(`CONNECT ${t} HTTP/1.1\r\nHost: x\r\n\r\n`)),
      ),
    );
    console.log(`  ${BAD_CONNECT_TARGETS.length} bad CONNECT targets: ${show(targets)}`);
    const raw = await runCorpus(RAW_INPUTS.map((r) => () => sendRaw(proxy.port, r.bytes)));
    console.log(`  ${RAW_INPUTS.length} inputs that are no request: ${show(raw)}`);
    const hello = await captureClientHello('corpus.test');
    const t0 = performance.now();
    const hellos = await runCorpus(
      [hello.subarray(0, 40), ...mutatedClientHellos(hello, HELLOS)].map(
        (h) => () => sendHello(proxy.port, 'corpus.test:443', h, 1000),
      ),
      32,
    );
    console.log(
      `  ${HELLOS + 1} ClientHellos (mutated, one cut short) in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s: ${show(hellos)}`,
    );
    await settle(proxy.pid);
    const alive = await firstResponse(proxy.port, `http://${HOST}:${origin.http}/after-corpus`);
    console.log(
      `  afterwards: ${proxy.running() ? 'running' : 'EXITED'}, a new request got "${alive.statusLine}"; ` +
        `descriptors ${fdsBefore} before, ${openFds(proxy.pid)} after; ` +
        `RSS ${rssBefore} MB before, ${rssMb(proxy.pid)} MB after`,
    );
  } finally {
    await proxy.stop();
  }
}

function show(counts: Map<string, number>): string {
  return [...counts].map(([k, v]) => `${v}× ${k}`).join(', ');
}

async function httpsWithUi(load: LoadChild, dir: string, rootFile: string): Promise<void> {
  console.log(`\n== https: ${REQUESTS} intercepted HTTPS requests with a terminal UI attached`);
  const proxy = await startProxy(dir, ['--mode', 'intercept', '--upstream-ca', rootFile, '--feed']);
  const pidFile = path.join(dir, 'viewer.pid');
  const screenLog = path.join(dir, 'viewer.log');
  // The viewer: `mitm-lab attach` on a pseudo-terminal (test/support/pty-reader.py copies what
  // it draws to a file), so the feed, the viewer's store and its screen all do their work.
  const viewer = spawn(
    'python3',
    [
      path.join(ROOT, 'test/support/pty-reader.py'),
      screenLog,
      pidFile,
      '160',
      '48',
      '--',
      process.execPath,
      BIN,
      'attach',
      proxy.feedUrl ?? '',
    ],
    { cwd: ROOT, stdio: 'ignore' },
  );
  let viewerPid = 0;
  try {
    if (!proxy.feedUrl) throw new Error('the proxy printed no attach URL');
    for (let i = 0; i < 100 && !viewerPid; i++) {
      await sleep(100);
      try {
        viewerPid = Number(readFileSync(pidFile, 'utf8'));
      } catch {
        viewerPid = 0; // not written yet
      }
    }
    await sleep(3000); // the viewer connects and draws its first screen
    const figures = (): string =>
      `proxy RSS ${rssMb(proxy.pid)} MB, viewer RSS ${viewerPid ? rssMb(viewerPid) : '?'} MB`;
    console.log(`  before: ${figures()}`);
    const since = load.count();
    load.send({
      cmd: 'requests',
      proxyPort: proxy.port,
      conns: REQUEST_CONNECTIONS,
      total: REQUESTS,
      host: HOST,
      caFile: proxy.caCert,
    });
    let next = RSS_EVERY;
    for (;;) {
      const r = await load.waitFor(
        (x) => x.requests !== undefined && x.requests.done >= next,
        `${next} requests`,
        900_000,
        since,
      );
      console.log(
        `  ${r.requests!.done} requests in ${r.requests!.seconds.toFixed(1)} s ` +
          `(${Math.round(r.requests!.done / r.requests!.seconds)}/s): ${figures()}`,
      );
      if (next >= REQUESTS) {
        const errors = JSON.stringify(r.requests!.errors);
        console.log(`  errors: ${errors === '{}' ? 'none' : errors}`);
        break;
      }
      next += RSS_EVERY;
    }
    await sleep(10_000);
    console.log(`  10 s later: ${figures()}`);
    // The viewer's footer says so if the feed dropped it for falling behind.
    const screen = readFileSync(screenLog, 'latin1');
    const closed = /feed closed: [^\r\n]{0,80}/.exec(screen)?.[0];
    const shown = (screen.match(/\/soak/g) ?? []).length;
    console.log(
      `  viewer: ${closed ?? (viewerPid && alive(viewerPid) ? 'attached throughout' : 'not running')}; ` +
        `${(screen.length / 1048576).toFixed(1)} MiB drawn, "/soak" drawn ${shown} times`,
    );
  } finally {
    // The viewer by its own PID (the pty's reader may leave it behind), then its reader.
    try {
      if (viewerPid) process.kill(viewerPid, 'SIGTERM');
    } catch {
      viewerPid = 0; // it had ended already
    }
    viewer.kill('SIGTERM');
    await proxy.stop();
  }
}

const parts = process.argv.slice(2);
const want = (p: string): boolean => parts.length === 0 || parts.includes(p);
const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-soak-'));
const pki = makeTestPki();
const rootFile = path.join(dir, 'origin-root.pem');
writeFileSync(rootFile, pki.rootPem);
const load = await startLoadChild(pki.leaf([HOST, 'corpus.test']), dir);
console.log(
  `mitm-lab soak: node ${process.version}, origin and clients in processes of their own, ` +
    `proxy under ulimit -n ${FD_LIMIT}`,
);
try {
  if (want('capacity')) await capacity(load, mkdtempSync(path.join(dir, 'cap-')), rootFile);
  if (want('corpus')) await corpus(mkdtempSync(path.join(dir, 'corpus-')), rootFile, load.origin);
  if (want('https')) await httpsWithUi(load, mkdtempSync(path.join(dir, 'https-')), rootFile);
} finally {
  await load.stop();
  rmSync(dir, { recursive: true, force: true });
}
