// Running real programs (curl, python3, openssl, bash scripts) from tests: bounded by a timeout,
// output captured, never rejecting — the exit code is the result the test asserts on.
import { execFile, spawnSync } from 'node:child_process';

export interface RunResult {
  /** Exit code; null when the program had none (killed by the timeout, or could not start). */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. stdin is closed (EOF) when absent too. */
  input?: string;
  /** Kill the child after this long (default 20 s): a stuck client must not stall the suite. */
  timeoutMs?: number;
  cwd?: string;
}

/** Run `file args`; resolves to its exit code and captured output, never rejects. */
export function runTool(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 20_000,
        maxBuffer: 8 << 20,
        ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    // Always end stdin: a client that reads it (openssl s_client) would otherwise wait forever.
    child.stdin?.end(opts.input);
  });
}

/**
 * Is `name` on PATH? With `probeArgs` (e.g. `['-V']`), does `name probeArgs` also run and exit 0?
 * Tests that need a tool skip with its name when it is absent.
 */
export function hasTool(name: string, probeArgs?: string[]): boolean {
  if (probeArgs) return spawnSync(name, probeArgs, { stdio: 'ignore' }).status === 0;
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}
