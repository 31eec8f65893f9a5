// A real terminal for end-to-end tests of the terminal UI: one tmux session with a unique name
// (so parallel runs and the developer's own sessions are never touched), a fixed size, screen
// reads by `capture-pane`, and a kill of that session only. Skip with `HAVE_TMUX` when absent.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hasTool } from './run.ts';
import { sleep } from './wait.ts';

/** Is tmux installed (and runs)? Tests that need it skip, naming tmux, when not. */
export const HAVE_TMUX = hasTool('tmux', ['-V']);

/** A plain shell for a session: typed commands run in it, and after they exit it still answers. */
export const PLAIN_SHELL = 'bash --norc --noprofile';

export interface TmuxStartOptions {
  /** Terminal columns. */
  width: number;
  /** Terminal rows. */
  height: number;
  /** Extra environment of the session (NCURSES_NO_UTF8_ACS=1 is always set: plain line art). */
  env?: Record<string, string>;
  /** What the session runs (a shell command line); default PLAIN_SHELL. */
  command?: string;
}

export interface ScreenWaitOptions {
  /** Give up after this long (default 30 s: the UI starts under plain node, cold). */
  timeoutMs?: number;
  /** Read the screen again this often (default 150 ms). */
  intervalMs?: number;
}

/** One tmux session of a test file. Create it at the top, `kill()` it in afterAll. */
export class TmuxSession {
  /** `PREFIX-PID-RANDOM`: unique, and says which test left it behind if one ever leaks. */
  readonly name: string;
  private started = false;

  constructor(prefix: string) {
    this.name = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', args, { encoding: 'utf8' });
  }

  /** `tmux new-session -d` of the given size; throws when tmux refuses. */
  start(opts: TmuxStartOptions): void {
    const env = { NCURSES_NO_UTF8_ACS: '1', ...opts.env };
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    this.tmux(
      'new-session',
      '-d',
      '-s',
      this.name,
      '-x',
      String(opts.width),
      '-y',
      String(opts.height),
      ...envArgs,
      opts.command ?? PLAIN_SHELL,
    );
    this.started = true;
  }

  /** The visible screen, as text. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', this.name);
  }

  /** Send keys (tmux key names: 'q', 'Enter', 'C-c', 'Home'…) in one go. */
  send(...keys: string[]): void {
    this.tmux('send-keys', '-t', this.name, ...keys);
  }

  /** Send keys one at a time, pausing after each, as a person would (the UI redraws between). */
  async press(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.send(key);
      await sleep(120);
    }
  }

  /** Type a command line into the session's shell and press Enter. */
  typeLine(line: string): void {
    this.send(line, 'Enter');
  }

  /**
   * Poll the screen until `re` matches; resolves to that screen. Time up is an error naming
   * `what` and showing the last screen, so a failure says what the terminal looked like.
   */
  async waitForScreen(re: RegExp, what: string, opts: ScreenWaitOptions = {}): Promise<string> {
    const end = Date.now() + (opts.timeoutMs ?? 30_000);
    let last = '';
    while (Date.now() < end) {
      last = this.screen();
      if (re.test(last)) return last;
      await sleep(opts.intervalMs ?? 150);
    }
    throw new Error(`timed out waiting for ${what} (${re}); the screen was:\n${last}`);
  }

  /** Echo a fresh marker in the shell and wait for it alone on a line: the shell is usable. */
  async shellAnswers(): Promise<string> {
    const marker = `shell-ok-${randomBytes(3).toString('hex')}`;
    this.typeLine(`echo ${marker}`);
    return this.waitForScreen(new RegExp(`^${marker}$`, 'm'), 'the shell to answer');
  }

  /** Kill this session (only this one), if it was started; fine when it already ended. */
  kill(): void {
    if (!this.started) return;
    this.started = false;
    try {
      this.tmux('kill-session', '-t', this.name);
    } catch {
      // Already gone: what ran in it exited and the session ended with it.
    }
  }
}
