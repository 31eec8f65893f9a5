// `npm run bench`'s command line (scripts/bench.ts): --help says every benchmark's options and
// runs none; a mistake in the options is one line and exit 2 before anything starts. (Once it
// ran the whole seven-minute bench for `--help`, and for any option it did not know.)
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, TSX } from '../support/cli.ts';
import { runTool } from '../support/run.ts';

const bench = (args: string[]) =>
  runTool(process.execPath, ['--import', TSX, path.join(ROOT, 'scripts/bench.ts'), ...args], {
    cwd: ROOT,
    timeoutMs: 30_000,
  });

describe('npm run bench, its command line', () => {
  it('--help lists every benchmark with its options, and measures nothing', async () => {
    const r = await bench(['--help']);
    expect(r.code, r.stderr).toBe(0);
    for (const file of ['10-ca.ts', '20-proxy.ts', '30-ui.ts']) expect(r.stdout).toContain(file);
    for (const option of ['--kinds', '--scenarios', '--rounds', '--duration', '--also']) {
      expect(r.stdout).toContain(option);
    }
    expect(r.stdout).toContain('BENCH_UI_PAIRS');
    expect(r.stdout).not.toMatch(/round 1|req\/s \(/); // no window was measured
  });

  it('--help after a name lists that benchmark only', async () => {
    const r = await bench(['proxy', '--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('--newconn-parallel');
    expect(r.stdout).not.toContain('30-ui.ts');
  });

  it.each([
    [['proxy', '--bogus'], 'no option --bogus'],
    [['proxy', '--rounds', 'x'], '--rounds wants a number above 0, got "x"'],
    [['proxy', '--kinds', 'mitm-lab,foo'], '--kinds: no kind "foo"'],
    [['proxy', '--scenarios', 'http,tls'], '--scenarios: no scenario "tls"'],
  ])('%j: says what is wrong in one line and exits 2', async (args, said) => {
    const r = await bench(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`bench: ${said}`);
    expect(r.stderr).toContain('npm run bench -- proxy --help lists the options');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.stdout).not.toMatch(/round 1/);
  });

  it('names no benchmark that does not exist: exit 2', async () => {
    const r = await bench(['nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bench: no benchmark matches "nosuch"');
  });
});
