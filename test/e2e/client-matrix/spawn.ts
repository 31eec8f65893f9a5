// Running a client program for the matrix: in its own process group, bounded by a timeout that
// kills that group (the program and whatever it started) by the PID we started — nothing else —
// and a small concurrency limit, since the machine has two cores.
import { spawn } from 'node:child_process';

export interface Bounded {
  /** Exit status; null when the program had none (killed by the timeout, or could not start). */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the program could not be started at all. */
  spawnError: string | null;
}

export interface BoundedOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed (stdin is closed when absent too). */
  input?: string;
  timeoutMs: number;
}

/** Run `file args` in a new process group; never rejects. */
export function runBounded(file: string, args: string[], opts: BoundedOptions): Promise<Bounded> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: string | null = null;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined); // a client that exits before reading its input
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch (err) {
          // ESRCH: the group is already gone, which is what we wanted.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
    }, opts.timeoutMs);
    child.on('error', (err) => (spawnError = err.message));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut, spawnError });
    });
    child.stdin.end(opts.input);
  });
}

/** A tiny limiter: `limit(fn)` runs at most `n` of the functions at once. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = (): void => {
    if (active >= n) return;
    const start = queue.shift();
    if (start) {
      active++;
      start();
    }
  };
  return <T>(fn: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        fn()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}
