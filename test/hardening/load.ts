// The test side of ./load-child.ts: start an origin and a load of clients (each a process of its
// own), send the clients commands, wait for what they report. Shared by the fairness test and
// `npm run soak`.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sleep } from '../support/wait.ts';

/** What load-child.ts reports (one JSON object a line). */
export interface LoadReport {
  origin?: { http: number; https: number };
  busy?: {
    opened: number;
    served: number;
    done: number;
    errors: number;
    errorCodes: Record<string, number>;
  };
  https?: { opened: number; failed: number; errors: Record<string, number> };
  requests?: { done: number; seconds: number; errors: Record<string, number> };
  stopped?: 'busy' | 'https';
}

export interface LoadChild {
  origin: { http: number; https: number };
  send(command: Record<string, unknown>): void;
  /** The first report (from now on, or already seen with `since`) that `match` accepts. */
  waitFor(
    match: (r: LoadReport) => boolean,
    what: string,
    timeoutMs: number,
    since?: number,
  ): Promise<LoadReport>;
  /** How many reports came so far (for `waitFor`'s `since`). */
  count(): number;
  /** The latest report that has `key`. */
  latest<K extends keyof LoadReport>(key: K): LoadReport[K] | undefined;
  stop(): Promise<void>;
}

/** `node --import tsx load-child.ts ARGS` under `ulimit -n FD_LIMIT`. */
function spawnChild(args: unknown, fdLimit: number): ChildProcess {
  return spawn(
    'bash',
    [
      '-c',
      `ulimit -n ${fdLimit} && exec "$0" "$@"`,
      process.execPath,
      '--import',
      'tsx',
      path.join(import.meta.dirname, 'load-child.ts'),
      JSON.stringify(args),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], cwd: path.resolve(import.meta.dirname, '../..') },
  );
}

/** Its reports as they come, and a bounded wait for one. */
function watch(child: ChildProcess, name: string) {
  const reports: LoadReport[] = [];
  let err = '';
  let partial = '';
  let ended = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) reports.push(JSON.parse(line) as LoadReport);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) =>
    child.once('close', () => {
      ended = true;
      resolve();
    }),
  );
  const waitFor: LoadChild['waitFor'] = async (match, what, timeoutMs, since = reports.length) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = reports.slice(since).find(match);
      if (found) return found;
      if (ended || Date.now() > end) {
        throw new Error(
          `${name}: no ${what} within ${timeoutMs} ms (ended: ${ended}); last reports: ` +
            `${JSON.stringify(reports.slice(-3))}; stderr: ${err.slice(-2000)}`,
        );
      }
      await sleep(50);
    }
  };
  const stop = async (): Promise<void> => {
    if (ended) return;
    child.stdin!.end(`${JSON.stringify({ cmd: 'exit' })}\n`);
    const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killed);
  };
  return { reports, waitFor, stop };
}

/**
 * Start an origin serving `cert` (its files go to `dir`) and the clients, each a process of its
 * own (load-child.ts) under `ulimit -n FD_LIMIT`: each holds a thousand connections and more.
 */
export async function startLoadChild(
  cert: { certPem: string; keyPem: string },
  dir: string,
  fdLimit = 16_384,
): Promise<LoadChild> {
  const certFile = path.join(dir, 'origin.pem');
  const keyFile = path.join(dir, 'origin.key');
  writeFileSync(certFile, cert.certPem);
  writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
  const originProcess = watch(spawnChild({ role: 'origin', certFile, keyFile }, fdLimit), 'origin');
  let clients: ReturnType<typeof watch> | null = null;
  try {
    const { origin } = await originProcess.waitFor(
      (r) => r.origin !== undefined,
      'ports',
      60_000,
      0,
    );
    const child = spawnChild({ role: 'clients', origin }, fdLimit);
    clients = watch(child, 'load');
    const c = clients;
    return {
      origin: origin!,
      send: (command) => child.stdin!.write(`${JSON.stringify(command)}\n`),
      waitFor: c.waitFor,
      count: () => c.reports.length,
      latest: (key) => c.reports.findLast((r) => r[key] !== undefined)?.[key],
      async stop() {
        await c.stop();
        await originProcess.stop();
      },
    };
  } catch (err) {
    await clients?.stop();
    await originProcess.stop();
    throw err;
  }
}

/** A new connection, one GET through the proxy: ms to the first byte and its status line. */
export function firstResponse(
  proxyPort: number,
  url: string,
): Promise<{ ms: number; statusLine: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect(proxyPort, '127.0.0.1');
    const done = (statusLine: string): void => {
      resolve({ ms: performance.now() - t0, statusLine });
      s.destroy();
    };
    s.once('connect', () =>
      s.write(`GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nConnection: close\r\n\r\n`),
    );
    s.once('data', (d: Buffer) => done(d.toString('latin1').split('\r\n')[0] ?? ''));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    s.once('close', () => done('closed without an answer'));
  });
}

/** The p-th value (0-1) of an ascending list; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}
