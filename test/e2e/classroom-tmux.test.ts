// The classroom in a real terminal (tmux): `mitm-lab classroom` shows its join command and QR
// code; a real student (`start --headless --classroom … --name Ada`) joins, and the tick of
// their curl login appears in the grid.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_SHELL, startHeadlessLab, type CliProcess } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';

describe.skipIf(!HAVE_TMUX || !hasTool('curl'))('mitm-lab classroom under tmux', () => {
  const tmux = new TmuxSession('mitm-lab-classroom');
  const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-classroom-tty-'));
  let student: CliProcess | null = null;
  afterAll(async () => {
    tmux.kill();
    await student?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the join command, then a student and their tick', async () => {
    tmux.start({
      width: 130,
      height: 45,
      env: { LANG: 'C.UTF-8' },
      command: `${CLI_SHELL} classroom --listen 127.0.0.1:0 --events ${dir}/class.jsonl; echo EXITED $?; sleep 60`,
    });
    const page = await tmux.waitForScreen(/Join the class/, 'the join page');
    const url = /--classroom '(ws:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)'/.exec(page)![1]!;
    const lab = await startHeadlessLab([
      '--ca-dir',
      path.join(dir, 'ca'),
      '--classroom',
      url,
      '--name',
      'Ada',
    ]);
    student = lab.process;
    const proxy = lab.proxyUrl;
    await tmux.waitForScreen(/Ada\s+0\/3/, 'Ada in the grid');
    const r = await runTool('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-x',
      proxy,
      '-d',
      'password=x',
      'http://bank.test/login',
    ]);
    expect(r.code).toBe(0);
    const s = await tmux.waitForScreen(/Ada\s+[12]\/3/, 'the tick in the grid', {
      timeoutMs: 10_000,
    });
    expect(s).toContain('HTTP plaintext: anyone on the path reads it');
    expect(s).toMatch(/1 student, 1 connected/);
    tmux.send('q');
    await tmux.waitForScreen(/EXITED 0/, 'the classroom to exit 0');
  }, 90_000);
});
