// Shared pieces of the hardening tests (issue 13): the real CLI as a child process, its events
// read from `--events -`, its open descriptors read from /proc, and the check every test ends
// with — the process is still alive, printed no stack trace, and still serves a request.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { ProxyEvent } from '../../src/events/types.ts';
import type { ProxyStats } from '../../src/proxy/index.ts';
import { spawnCli, type CliProcess } from '../support/cli.ts';
import { tempDir } from '../support/temp-dir.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { curl } from '../integration/helpers.ts';
import type { ChildOptions } from './proxy-child.ts';

/** The descriptor limit the issue measured with: a common desktop default. */
export const FD_LIMIT = 1024;

export interface CliProxy {
  process: CliProcess;
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The CA certificate (PEM file) clients may be given. */
  caCert: string;
  /** Every event it printed so far (JSON Lines on stdout). */
  events(): ProxyEvent[];
  /** Wait for an event of `type` matching `match`; fails naming what it saw. */
  waitForEvent<T extends ProxyEvent['type']>(
    type: T,
    match?: (e: Extract<ProxyEvent, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<ProxyEvent, { type: T }>>;
  /** How many descriptors the process holds now (/proc/PID/fd). */
  openFds(): number;
  /** Its resident memory now, MiB (/proc/PID/status VmRSS). */
  rssMb(): number;
  /** The proxy's own counts (RunningProxy.stats): engine processes only (SIGUSR2). */
  stats(): Promise<ProxyStats>;
  /**
   * Fail unless the process still runs, printed no stack trace, and answers a plain HTTP request
   * through itself to `originPort` (an origin from ../integration/helpers.ts).
   */
  expectAlive(originPort: number, curlArgs?: string[]): Promise<void>;
  /** Kill it (SIGKILL if it still runs) and remove its CA folder. */
  stop(): Promise<void>;
}

/** A stack frame line, as Node prints an uncaught exception. */
const STACK_RE = /\n\s+at .+:\d+:\d+\)?\n/;

/** `mitm-lab proxy --listen 127.0.0.1:0 --events - --ca-dir TEMP ARGS`, once it listens. */
export function startCliProxy(
  args: string[] = [],
  opts: { fdLimit?: number } = {},
): Promise<CliProxy> {
  return startProxyProcess(
    (caDir) => ['proxy', '--listen', '127.0.0.1:0', '--events', '-', '--ca-dir', caDir, ...args],
    opts,
  );
}

/**
 * The engine in a process of its own (./proxy-child.ts), with options the CLI does not offer
 * (short time limits): descriptors are then the proxy's alone, and `fdLimit` applies to it.
 */
export function startEngineProcess(
  options: ChildOptions,
  opts: { fdLimit?: number } = {},
): Promise<CliProxy> {
  return startProxyProcess((caDir) => [JSON.stringify({ ...options, caDir })], {
    ...opts,
    entry: ['--import', 'tsx', path.join(import.meta.dirname, 'proxy-child.ts')],
  });
}

async function startProxyProcess(
  argsFor: (caDir: string) => string[],
  opts: { fdLimit?: number; entry?: string[] },
): Promise<CliProxy> {
  const { dir } = tempDir('mitm-lab-hard-');
  const caDir = path.join(dir, 'ca');
  const p = spawnCli(argsFor(caDir), {
    ...(opts.fdLimit === undefined ? {} : { fdLimit: opts.fdLimit }),
    ...(opts.entry === undefined ? {} : { entry: opts.entry }),
  });
  let port: number;
  try {
    const m = await p.waitForOutput(
      /listening on http:\/\/127\.0\.0\.1:(\d+)/,
      'banner',
      20_000,
      'stderr',
    );
    port = Number(m[1]);
  } catch (err) {
    await p.stop();
    throw err;
  }
  let parsedUpTo = 0;
  const events: ProxyEvent[] = [];
  const events_ = (): ProxyEvent[] => {
    const out = p.out();
    const end = out.lastIndexOf('\n') + 1;
    if (end > parsedUpTo) {
      for (const line of out.slice(parsedUpTo, end).split('\n')) {
        if (line.trim()) events.push(JSON.parse(line) as ProxyEvent);
      }
      parsedUpTo = end;
    }
    return events;
  };
  return {
    process: p,
    port,
    url: `http://127.0.0.1:${port}`,
    caCert: path.join(caDir, 'certs', 'ca.pem'),
    events: events_,
    async waitForEvent(type, match = () => true, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = events_().find(
          (e): e is Extract<ProxyEvent, { type: typeof type }> =>
            e.type === type && match(e as never),
        );
        if (found) return found as never;
        if (Date.now() > end || !p.running()) {
          throw new Error(
            `no matching ${type} within ${timeoutMs} ms (running: ${p.running()}); ` +
              `saw ${events_().length} events; stderr:\n${p.err().slice(-3000)}`,
          );
        }
        await sleep(25);
      }
    },
    openFds: () => readdirSync(`/proc/${p.pid}/fd`).length,
    rssMb: () => {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1];
      return Number(kb) / 1024;
    },
    async stats() {
      const lines = (): string[] => p.err().match(/^stats .*$/gm) ?? [];
      const before = lines().length;
      p.kill('SIGUSR2');
      await waitFor(() => lines().length > before, 'a stats line (SIGUSR2)', { timeoutMs: 10_000 });
      return JSON.parse(lines().at(-1)!.slice('stats '.length)) as ProxyStats;
    },
    async expectAlive(originPort, curlArgs = []) {
      expect(p.running(), `the proxy exited; stderr:\n${p.err().slice(-3000)}`).toBe(true);
      expect(STACK_RE.test(p.err()), `a stack trace on stderr:\n${p.err().slice(-3000)}`).toBe(
        false,
      );
      const r = await curl([
        '-x',
        `http://127.0.0.1:${port}`,
        ...curlArgs,
        `http://alive.localhost:${originPort}/alive`,
      ]);
      expect(r.stdout, `curl: ${r.stderr}`).toBe('hello GET /alive body=');
    },
    async stop() {
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A loopback port that never completes a TCP connection: a listener (python3) whose accept
 * queue is full and never accepted from, so the kernel drops further SYNs — what a firewalled
 * or vanished address does to a connect().
 */
export async function blackholePort(): Promise<{ port: number; close(): void }> {
  const script = [
    'import socket, sys',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'port = s.getsockname()[1]',
    'fill = []',
    'for i in range(3):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(("127.0.0.1", port))',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'import time; time.sleep(0.2)',
    'print(port, flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`python3 exited (${code}) before its port`)));
  });
  return {
    port,
    close: () => {
      child.stdin.end();
      child.kill();
    },
  };
}
