// The shared test helpers' failure paths: they only run when a real test fails, so they are
// proved here, on purpose — a helper that hid a failure (or waited forever) would hide bugs.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli } from './cli.ts';
import { tempDir } from './temp-dir.ts';
import { HAVE_TMUX, TmuxSession } from './tmux.ts';

const ca = tempDir('mitm-lab-support-');
afterAll(() => ca.cleanup());

describe('spawnCli', () => {
  it('waitForOutput fails at once, with both outputs, when the command exits without it', async () => {
    const p = spawnCli(['no-such-command']);
    const started = Date.now();
    await expect(p.waitForOutput(/never printed/, 'the line', 20_000)).rejects.toThrow(
      /no the line .* before it exited; stdout:[\s\S]*stderr:[\s\S]*unknown command "no-such-command"/,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await p.exited).toEqual({ code: 2, signal: null });
    expect(p.running()).toBe(false);
    expect(p.kill('SIGTERM')).toBe(false); // nothing to signal: it ended
  });

  it('reads a running command, times out naming what it waited for, and stop() kills it', async () => {
    const p = spawnCli(['proxy', '--listen', '127.0.0.1:0', '--ca-dir', ca.dir]);
    try {
      const m = await p.waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 'the banner');
      expect(m[1]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(p.running()).toBe(true);
      await expect(p.waitForOutput(/never printed/, 'the other line', 300)).rejects.toThrow(
        /no the other line .* within 300 ms/,
      );
    } finally {
      await p.stop();
    }
    expect(p.running()).toBe(false);
    expect(await p.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

describe.skipIf(!HAVE_TMUX)('TmuxSession (needs tmux)', () => {
  const tmux = new TmuxSession('mitm-lab-support');
  afterAll(() => tmux.kill());

  it('runs a shell of the given size, reads it, times out showing the screen, kills its own', async () => {
    expect(tmux.name).toMatch(new RegExp(`^mitm-lab-support-${process.pid}-[0-9a-f]{6}$`));
    tmux.start({ width: 60, height: 10, env: { PS1: 'sup$ ' } });
    tmux.typeLine('echo "acs=$NCURSES_NO_UTF8_ACS"');
    await tmux.waitForScreen(/^acs=1$/m, 'the environment');
    expect(tmux.screen().split('\n').length).toBeGreaterThanOrEqual(10);
    await tmux.shellAnswers();
    await expect(tmux.waitForScreen(/never shown/, 'nothing', { timeoutMs: 300 })).rejects.toThrow(
      /timed out waiting for nothing .*; the screen was:\n[\s\S]*acs=1/,
    );
    tmux.kill();
    tmux.kill(); // a second kill is harmless
    expect(() => tmux.screen()).toThrow(); // the session is gone
  });
});
