// Runs the whole client matrix: every available client × bank.test and every gallery host ×
// every mode, against the built-in lab and the real proxy. For each cell it keeps what the
// client said (`ClientRun`), the proxy's events for the connections that cell opened, the flows
// the FlowStore folds from them, and the explanation of the flow that decided the outcome.
//
// Attribution: each (client, proxied mode) gets its own proxy (sharing one CA), so a proxy's
// connections for a host belong to that client; a cell owns the connections to its host that
// opened while its client ran. In auto mode the retry starts only once the first attempt's
// connections have closed (the proxy has decided by then), by waiting for their `conn.close`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openCa, type Ca } from '../../../src/ca/index.ts';
import { LAB_EXPLAIN_CONTEXT } from '../../../src/cli/explain-context.ts';
import { EventBus } from '../../../src/events/bus.ts';
import type { ProxyEvent } from '../../../src/events/types.ts';
import { explain, type FilledExplanation } from '../../../src/explain/index.ts';
import { BANK_HOST, GALLERY, startLab, type RunningLab } from '../../../src/lab/index.ts';
import { startProxy, type RunningProxy } from '../../../src/proxy/index.ts';
import { FlowStore, type Flow } from '../../../src/store/index.ts';
import { CHROMIUM, FIREFOX, launchBrowser, type BrowserKind } from './browsers.ts';
import { CLI_CLIENTS, CLIENT_BINARY, canUnshareHosts } from './cli-clients.ts';
import { limiter } from './spawn.ts';
import {
  MATRIX_CLIENTS,
  MATRIX_MODES,
  type ClientRun,
  type MatrixClient,
  type MatrixMode,
  type Said,
  type Target,
} from './types.ts';

/** bank.test and every gallery host, in the gallery's order. */
export const MATRIX_HOSTS: readonly string[] = [BANK_HOST, ...GALLERY.map((g) => g.host)];

/** CLI client processes at once: two cores, and each client mostly waits on the network. */
const CLI_CONCURRENCY = 3;
/**
 * Browsers at once (each its own mode): a browser mostly waits (for its renderer, its
 * TLS, its error page), so two side by side finish sooner without starving the CLI clients.
 */
const BROWSER_CONCURRENCY = 2;
/** Hosts a browser visits at once, each in its own tab. */
const BROWSER_TABS = 3;
/** How long to wait for the proxy to close a cell's connections once its client is done. */
const SETTLE_MS = 5_000;

/** One proxy event of a cell, reduced to what decides the lesson. */
export interface EventNote {
  connId: string;
  type: string;
  outcome?: string;
  alert?: string;
  reason?: string;
  status?: number | null;
  code?: string;
  /** `tunnel.summary.clientVerdict`, when the engine reports it. */
  verdict?: unknown;
}

/** A flow of a cell as the store folded it. */
export interface FlowNote {
  connId: string;
  kind: Flow['kind'];
  badge: Flow['badge'];
  outcome: Flow['outcome'];
  status: number | null;
  explainKey: string;
}

/** One cell: the client's run plus what the proxy saw and said about it. */
export interface CellRecord extends ClientRun {
  events: EventNote[];
  flows: FlowNote[];
  /** The explanation of the deciding flow (see primaryFlow); null in direct mode or when none. */
  explanation: FilledExplanation | null;
  ms: number;
}

export interface SkippedClient {
  client: MatrixClient;
  why: string;
}

export interface MatrixResult {
  cells: CellRecord[];
  skipped: SkippedClient[];
  /** Each client's version line, for the table's header. */
  versions: Partial<Record<MatrixClient, string>>;
  ms: number;
}

export interface MatrixOptions {
  clients?: readonly MatrixClient[];
  hosts?: readonly string[];
  modes?: readonly MatrixMode[];
  /** Progress lines (one per cell), for a long run. */
  log?: (line: string) => void;
}

/** Which clients can run here, and why the others cannot. */
export function availability(): { run: MatrixClient[]; skipped: SkippedClient[] } {
  const has = (cmd: string): boolean =>
    spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  const py = has('python3');
  const requests =
    py && spawnSync('python3', ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;
  const present: Record<MatrixClient, boolean> = {
    curl: has('curl'),
    wget: has('wget'),
    'python-urllib': py,
    'python-requests': requests,
    node: true,
    openssl: has('openssl'),
    chromium: existsSync(CHROMIUM) && has('certutil'),
    firefox: existsSync(FIREFOX) && has('certutil'),
  };
  const run = MATRIX_CLIENTS.filter((c) => present[c]);
  const skipped = MATRIX_CLIENTS.filter((c) => !present[c]).map((client) => ({
    client,
    why: `${CLIENT_BINARY[client]}${client === 'chromium' || client === 'firefox' ? ' (and certutil)' : ''} not installed`,
  }));
  return { run, skipped };
}

/** The version line of each client (for the header of the table). */
function versionOf(client: MatrixClient): string {
  const first = (cmd: string, args: string[]): string =>
    (spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '').split('\n')[0]!.trim();
  switch (client) {
    case 'curl':
      return first('curl', ['--version']).replace(/^(curl \S+ \(\S+\) libcurl\/\S+ \S+).*/, '$1');
    case 'wget': {
      const gnutls = /\+ssl\/(\w+)/.exec(
        spawnSync('wget', ['--version'], { encoding: 'utf8' }).stdout ?? '',
      );
      return `${first('wget', ['--version'])}${gnutls ? ` (${gnutls[1]})` : ''}`;
    }
    case 'python-urllib':
      return first('python3', [
        '-c',
        'import sys, ssl; print("Python", sys.version.split()[0], ssl.OPENSSL_VERSION)',
      ]);
    case 'python-requests':
      return first('python3', [
        '-c',
        'import requests, ssl; print("requests", requests.__version__, ssl.OPENSSL_VERSION)',
      ]);
    case 'node':
      return `Node ${process.version} (OpenSSL ${process.versions.openssl})`;
    case 'openssl':
      return first('openssl', ['version']);
    case 'chromium':
    case 'firefox':
      return ''; // filled from the running browser
    default:
      return client satisfies never;
  }
}

/** A proxy of the matrix with every event recorded in order. */
interface Lane {
  proxy: RunningProxy;
  events: ProxyEvent[];
  /** connId → host, from the first event of the connection that names one. */
  hostOf: Map<string, string>;
  /** connId → index in `events` of its first event. */
  firstAt: Map<string, number>;
  closed: Set<string>;
  /** Connections the proxy decided about (see DECIDING). */
  decided: Set<string>;
  /** Resolvers waiting for a change. */
  waiters: Set<() => void>;
  /** Per host, the event index where its auto-first cell ended (the auto-retry window's start). */
  firstAttemptEnd: Map<string, number>;
}

async function startLane(ca: Ca, lab: RunningLab, mode: 'intercept' | 'auto'): Promise<Lane> {
  const bus = new EventBus();
  const lane: Omit<Lane, 'proxy'> = {
    events: [],
    hostOf: new Map(),
    firstAt: new Map(),
    closed: new Set(),
    decided: new Set(),
    waiters: new Set(),
    firstAttemptEnd: new Map(),
  };
  bus.on((e) => {
    const i = lane.events.push(e) - 1;
    const conn = e.connId;
    if (conn !== null) {
      if (!lane.firstAt.has(conn)) lane.firstAt.set(conn, i);
      if ('host' in e && typeof e.host === 'string' && !lane.hostOf.has(conn))
        lane.hostOf.set(conn, e.host);
      if (e.type === 'conn.close') lane.closed.add(conn);
      if (DECIDING.has(e.type)) lane.decided.add(conn);
    }
    for (const w of lane.waiters) w();
  });
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    mode,
    ca,
    bus,
    resolve: lab.resolve,
    upstreamCa: [lab.rootPem],
  });
  return { ...lane, proxy };
}

/** The connections to `host` that opened between event indexes `from` and `to`. */
function connsOf(lane: Lane, host: string, from: number, to: number): string[] {
  const out: string[] = [];
  for (const [conn, at] of lane.firstAt)
    if (at >= from && at < to && lane.hostOf.get(conn) === host) out.push(conn);
  return out;
}

/** Event types after which the proxy has made up its mind about a connection. */
const DECIDING = new Set(['tls.client-rejected', 'tls.client-accepted', 'http.response']);

/**
 * Wait (bounded) until the proxy has decided about each of `conns`: it closed, or the client
 * refused or accepted the forged certificate. (A tunnel that stays open never decides: the
 * bound ends the wait.)
 */
function waitDecided(lane: Lane, conns: readonly string[]): Promise<void> {
  return waitUntil(lane, SETTLE_MS, () =>
    conns.every((c) => lane.closed.has(c) || lane.decided.has(c)),
  );
}

/** Wait (bounded) until every one of `conns` has closed. */
function waitClosed(lane: Lane, conns: readonly string[], ms: number): Promise<void> {
  return waitUntil(lane, ms, () => conns.every((c) => lane.closed.has(c)));
}

function waitUntil(lane: Lane, ms: number, check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (check()) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      lane.waiters.delete(onChange);
      resolve();
    };
    const onChange = (): void => {
      if (check()) done();
    };
    const timer = setTimeout(done, ms);
    lane.waiters.add(onChange);
  });
}

/** A cell measured, waiting for the proxy's events to be folded at the end of its lane. */
interface Pending {
  run: ClientRun;
  lane: Lane | null;
  conns: string[];
  ms: number;
}

/** Run the matrix. */
export async function runMatrix(opts: MatrixOptions = {}): Promise<MatrixResult> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const { run: available, skipped } = availability();
  const clients = available.filter((c) => !opts.clients || opts.clients.includes(c));
  const hosts = opts.hosts ?? MATRIX_HOSTS;
  const modes = opts.modes ?? MATRIX_MODES;
  const tmp = mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'mitm-lab-matrix-'));
  const lab = await startLab({ dir: path.join(tmp, 'lab') });
  const ca = await openCa({ dir: path.join(tmp, 'ca') });
  const rootFile = lab.rootPath;
  const bothFile = path.join(tmp, 'lab-root-and-proxy-ca.pem');
  writeFileSync(bothFile, `${lab.rootPem.trim()}\n${ca.certPem.trim()}\n`);
  const versions: Partial<Record<MatrixClient, string>> = {};
  for (const c of clients) versions[c] = versionOf(c);
  const unshare = canUnshareHosts();

  const pending: Pending[] = [];
  const lanes: Lane[] = [];
  let scratchN = 0;
  const scratch = (): string => {
    const d = path.join(tmp, `run-${++scratchN}`);
    mkdirSync(d);
    return d;
  };
  const portOf = (host: string): number | null =>
    lab.sites.find((s) => s.host === host)?.httpsPort ?? null;
  const target = (host: string, mode: MatrixMode, lane: Lane | null): Target => {
    const directPort = mode === 'direct' ? portOf(host) : null;
    return {
      host,
      url: directPort !== null ? `https://${host}:${directPort}/` : `https://${host}/`,
      directPort,
      proxyPort: lane?.proxy.port ?? null,
      caFile: mode === 'intercept-trusted' ? bothFile : rootFile,
      scratch: scratch(),
    };
  };

  /** Measure one cell with `say`, recording its window on the lane. */
  const cell = async (
    client: MatrixClient,
    host: string,
    mode: MatrixMode,
    lane: Lane | null,
    say: (t: Target) => Promise<Said>,
  ): Promise<Pending> => {
    const t = target(host, mode, lane);
    // A retry's window starts where its first attempt's ended, not where the retry starts: a
    // connection the client opened in between (a browser's late connection, which auto mode
    // tunnels and the retry may then reuse from its pool) belongs to the retry, and would
    // otherwise belong to no cell.
    const from =
      (mode === 'auto-retry' ? lane?.firstAttemptEnd.get(host) : undefined) ??
      lane?.events.length ??
      0;
    const start = Date.now();
    let said: Said;
    if (mode === 'direct' && t.directPort === null)
      said = {
        outcome: 'error',
        code: 'not-served',
        text: `${host} is not served on this platform`,
      };
    else if (mode === 'direct' && client === 'wget' && !unshare)
      said = {
        outcome: 'error',
        code: 'skipped',
        text: 'wget direct needs `unshare -m` (root) for a private hosts file',
      };
    else said = await say(t);
    const ms = Date.now() - start;
    const end = lane?.events.length ?? 0;
    const conns = lane ? connsOf(lane, host, from, end) : [];
    if (lane && mode === 'auto-first') {
      lane.firstAttemptEnd.set(host, end);
      // The retry must meet the proxy's decision about the first attempt: wait for it.
      await waitDecided(lane, conns);
    }
    log(`${client} ${mode} ${host}: ${said.outcome} ${said.code} (${ms} ms)`);
    const p: Pending = { run: { client, host, mode, ...said }, lane, conns, ms };
    pending.push(p);
    return p;
  };

  /** The proxied mode groups: which proxy mode, which matrix modes run on it. */
  const groups: { proxyMode: 'intercept' | 'auto'; modes: MatrixMode[] }[] = [
    { proxyMode: 'intercept', modes: ['intercept-untrusted'] },
    { proxyMode: 'intercept', modes: ['intercept-trusted'] },
    { proxyMode: 'auto', modes: ['auto-first', 'auto-retry'] },
  ];
  const wanted = (m: MatrixMode): boolean => modes.includes(m);

  const cli = limiter(CLI_CONCURRENCY);
  const browserSlot = limiter(BROWSER_CONCURRENCY);
  const jobs: Promise<unknown>[] = [];

  try {
    for (const client of clients) {
      if (client === 'chromium' || client === 'firefox') {
        jobs.push(...browserJobs(client));
        continue;
      }
      const say = CLI_CLIENTS[client];
      if (wanted('direct'))
        for (const host of hosts) jobs.push(cli(() => cell(client, host, 'direct', null, say)));
      for (const g of groups) {
        if (!g.modes.some(wanted)) continue;
        const lane = await startLane(ca, lab, g.proxyMode);
        lanes.push(lane);
        for (const host of hosts) {
          jobs.push(
            (async () => {
              for (const m of g.modes) {
                // auto-retry needs the first attempt even when only the retry is wanted.
                const p = await cli(() => cell(client, host, m, lane, say));
                if (!wanted(m)) pending.splice(pending.indexOf(p), 1);
              }
            })(),
          );
        }
      }
    }

    /** One job per browser session (a mode group), each its own browser and profile. */
    function browserJobs(kind: BrowserKind): Promise<void>[] {
      const sessions: { modes: MatrixMode[]; proxyMode: 'intercept' | 'auto' | null }[] = [
        { modes: ['direct'], proxyMode: null },
        ...groups.map((g) => ({ modes: g.modes, proxyMode: g.proxyMode })),
      ];
      return sessions
        .filter((s) => s.modes.some(wanted))
        .map((s) =>
          browserSlot(async () => {
            const lane = s.proxyMode ? await startLane(ca, lab, s.proxyMode) : null;
            if (lane) lanes.push(lane);
            const trusted = s.modes.includes('intercept-trusted');
            const b = await launchBrowser({
              kind,
              scratch: scratch(),
              trust: trusted ? [lab.rootPem, ca.certPem] : [lab.rootPem],
              proxyPort: lane?.proxy.port ?? null,
              labHosts: [...hosts],
            });
            versions[kind] = b.version;
            try {
              // A few hosts at once, each in its own tab; a host's modes (first attempt,
              // then retry) one after the other.
              const tab = limiter(BROWSER_TABS);
              await Promise.all(
                hosts.map((host) =>
                  tab(async () => {
                    for (const m of s.modes) {
                      const p = await cell(kind, host, m, lane, (t) => b.visit(t.url));
                      if (!wanted(m)) pending.splice(pending.indexOf(p), 1);
                    }
                  }),
                ),
              );
            } finally {
              await b.close();
            }
          }),
        );
    }

    await Promise.all(jobs);
    // Every lane's connections close (browsers are closed by now), then the lanes stop.
    await Promise.all(lanes.map((l) => waitClosed(l, [...l.firstAt.keys()], 10_000)));
    await Promise.all(lanes.map((l) => l.proxy.close()));
  } finally {
    await Promise.all(lanes.map((l) => l.proxy.close()));
    await lab.close();
    rmSync(tmp, { recursive: true, force: true });
  }

  const stores = new Map<Lane, FlowStore>();
  for (const lane of lanes) {
    const store = new FlowStore({ maxFlows: 100_000 });
    for (const e of lane.events) store.apply(e);
    stores.set(lane, store);
  }
  const cells = pending.map((p) => fold(p, p.lane ? stores.get(p.lane)! : null));
  cells.sort(
    (a, b) =>
      MATRIX_CLIENTS.indexOf(a.client) - MATRIX_CLIENTS.indexOf(b.client) ||
      MATRIX_MODES.indexOf(a.mode) - MATRIX_MODES.indexOf(b.mode) ||
      hosts.indexOf(a.host) - hosts.indexOf(b.host),
  );
  return { cells, skipped, versions, ms: Date.now() - t0 };
}

/** The cell with its proxy events, flows and explanation. */
function fold(p: Pending, store: FlowStore | null): CellRecord {
  const base: CellRecord = { ...p.run, events: [], flows: [], explanation: null, ms: p.ms };
  if (!p.lane || !store) return base;
  const conns = new Set(p.conns);
  for (const e of p.lane.events) {
    if (e.connId === null || !conns.has(e.connId)) continue;
    const n = noteOf(e);
    if (n) base.events.push(n);
  }
  const flows = store.all().filter((f) => conns.has(f.connId));
  base.flows = flows.map((f) => ({
    connId: f.connId,
    kind: f.kind,
    badge: f.badge,
    outcome: f.outcome,
    status: f.status,
    explainKey: explain(f, LAB_EXPLAIN_CONTEXT).key,
  }));
  const primary = primaryFlow(flows);
  // As the product explains it: with the lab's knowledge of its own hosts (what `proxy`,
  // `start` and `attach` pass to their views).
  base.explanation = primary ? explain(primary, LAB_EXPLAIN_CONTEXT) : null;
  return base;
}

/**
 * The flow that decided what the client saw:
 * - the HTTP exchange for `/` when there was one (a browser also asks for /favicon.ico, and
 *   may open connections it never uses);
 * - else the first refusal of the forged certificate (a connection a browser opens beside it
 *   meets the same forgery: auto mode tunnels only connections opened after a refusal);
 * - else the tunnel that carried the request (a browser may open a second connection and close
 *   it unused), or the last tunnel.
 */
export function primaryFlow(flows: Flow[]): Flow | null {
  const http = flows.filter((f) => f.kind === 'http' && f.outcome !== 'pending');
  const root = http.filter((f) => f.path === '/');
  if (root.length) return root[root.length - 1]!;
  if (http.length) return http[http.length - 1]!;
  const rejected = flows.find((f) => f.conn.rejected);
  if (rejected) return rejected;
  const tunnels = flows.filter((f) => f.conn.tunnel);
  const used = tunnels.filter((f) => f.conn.tunnel?.clientVerdict?.outcome === 'accepted');
  return used[used.length - 1] ?? tunnels[tunnels.length - 1] ?? flows[flows.length - 1] ?? null;
}

function noteOf(e: ProxyEvent): EventNote | null {
  const connId = e.connId ?? '';
  switch (e.type) {
    case 'tls.client-rejected':
      return {
        connId,
        type: e.type,
        outcome: e.outcome,
        ...(e.alert ? { alert: `${e.alert.code} ${e.alert.name}` } : {}),
      };
    case 'tls.client-accepted':
      return { connId, type: e.type, outcome: e.outcome };
    case 'tunnel.summary': {
      const verdict = (e as { clientVerdict?: unknown }).clientVerdict;
      return {
        connId,
        type: e.type,
        reason: e.reason,
        ...(verdict !== undefined ? { verdict } : {}),
      };
    }
    case 'upstream.error':
      return { connId, type: e.type, code: e.code, status: e.status };
    case 'http.response':
      return { connId, type: e.type, status: e.status };
    default:
      return null;
  }
}
