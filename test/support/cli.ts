// The real command line in tests: the CLI's program (src/cli/bin.ts, what bin/mitm-lab.js runs
// compiled from dist/) as its own process under plain node, from the sources through tsx's
// loader (not vitest's transform) — so a test never runs a stale dist/. `runCli` for a command that ends by itself;
// `spawnCli` for one that runs on (start, proxy, lab) and is read while it runs, then stopped
// by signal — always this child's own PID, never a name.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runTool, type RunOptions, type RunResult } from './run.ts';
import { sleep } from './wait.ts';

/** The repository root (the CLI's working directory in tests). */
export const ROOT = path.resolve(import.meta.dirname, '../..');
/** tsx's loader, by absolute URL (works whatever the child's working directory). */
export const TSX = pathToFileURL(
  createRequire(path.join(ROOT, 'package.json')).resolve('tsx'),
).href;
/** The program's source (bin/mitm-lab.js runs the same file compiled to dist/cli/bin.js). */
export const CLI_ENTRY = path.join(ROOT, 'src/cli/bin.ts');
/** What node runs for `mitm-lab`: `[process.execPath, ...CLI, 'start']` is `mitm-lab start`. */
export const CLI: readonly string[] = ['--import', TSX, CLI_ENTRY];
/** The same as a shell command (for tmux and pty tests): `${CLI_SHELL} attach URL`. */
export const CLI_SHELL = [process.execPath, ...CLI].join(' ');

/** `mitm-lab ARGS` to its end (cwd: the repo root); exit code and output. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runTool(process.execPath, [...CLI, ...args], { cwd: ROOT, ...opts });
}

export interface SpawnCliOptions {
  /** Environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Working directory (default: the repo root). */
  cwd?: string;
  /**
   * Run it under `ulimit -n N` (through bash, which then execs node: the PID stays the child's),
   * for tests where running out of descriptors is the point.
   */
  fdLimit?: number;
  /**
   * What node runs instead of the CLI's entry point (e.g. `['--import', 'tsx', FILE]` for a test
   * fixture that starts the engine with options the CLI does not offer).
   */
  entry?: string[];
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  /** The child's PID (what kill() signals, and nothing else). */
  pid: number;
  /** Everything it printed on stdout so far. */
  out(): string;
  /** Everything it printed on stderr so far. */
  err(): string;
  /**
   * Wait until `re` matches its stdout (or stderr, with `from`); resolves to the match. Fails,
   * naming `what` and showing both outputs, when time is up or the process ended without it.
   */
  waitForOutput(
    re: RegExp,
    what: string,
    timeoutMs?: number,
    from?: 'stdout' | 'stderr',
  ): Promise<RegExpExecArray>;
  /** Send `signal` (default SIGTERM) to this child; false when it had already ended. */
  kill(signal?: NodeJS.Signals): boolean;
  /** Is it still running? */
  running(): boolean;
  /** SIGKILL it if it still runs, and wait for it: the clean-up for afterAll / finally. */
  stop(): Promise<void>;
  /** Resolves when it has ended and its output is all read (the 'close' event). */
  exited: Promise<CliExit>;
}

/** Start `mitm-lab ARGS` with stdin closed and stdout/stderr captured. */
export function spawnCli(args: string[], opts: SpawnCliOptions = {}): CliProcess {
  const entry = opts.entry ?? CLI;
  const [file, argv] =
    opts.fdLimit === undefined
      ? [process.execPath, [...entry, ...args]]
      : [
          'bash',
          [
            '-c',
            `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`,
            process.execPath,
            ...entry,
            ...args,
          ],
        ];
  const child: ChildProcess = spawn(file, argv, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let ended = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<CliExit>((resolve) =>
    child.once('close', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    }),
  );
  const running = (): boolean => !ended && child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid ?? -1,
    out: () => out,
    err: () => err,
    async waitForOutput(re, what, timeoutMs = 30_000, from = 'stdout') {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const closed = ended; // read before matching: once closed, the output is complete
        const m = re.exec(from === 'stdout' ? out : err);
        if (m) return m;
        if (closed || Date.now() > end) {
          const why = closed ? 'before it exited' : `within ${timeoutMs} ms`;
          throw new Error(`no ${what} (${re}) ${why}; stdout:\n${out}\nstderr:\n${err}`);
        }
        await sleep(50);
      }
    },
    kill: (signal = 'SIGTERM') => running() && child.kill(signal),
    running,
    async stop() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    exited,
  };
}

/** A running `mitm-lab start --headless` and the proxy URL its banner printed. */
export interface HeadlessLab {
  process: CliProcess;
  proxyUrl: string;
}

/**
 * `mitm-lab start --headless --listen 127.0.0.1:0 ARGS` (the lab and the proxy, no UI), once
 * its banner is out. Stop it with `process.kill('SIGTERM')` (exit 0) or `process.stop()`.
 */
export async function startHeadlessLab(args: string[]): Promise<HeadlessLab> {
  const p = spawnCli(['start', '--headless', '--listen', '127.0.0.1:0', ...args]);
  try {
    await p.waitForOutput(/Stop: Ctrl-C\./, 'the banner', 30_000);
  } catch (err) {
    await p.stop();
    throw err;
  }
  return {
    process: p,
    proxyUrl: /mitm-lab — proxy (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out())![1]!,
  };
}

/** The lab's test login (bank.test's form), as curl arguments. */
export const LAB_LOGIN = ['-d', 'user=alice', '-d', 'password=correct-horse-battery-staple'];

/** curl through `proxy`, body discarded, bounded at 10 s. */
export function curlVia(proxy: string, ...args: string[]): Promise<RunResult> {
  return runTool('curl', ['-sS', '-o', '/dev/null', '--max-time', '10', '-x', proxy, ...args]);
}
