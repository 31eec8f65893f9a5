// bin/mitm-lab.js, the entry users run: it runs the compiled program in dist/, says what to do
// when dist/ is missing, and warns when a source is newer than the build. Run on a copy of the
// file in a temp folder with a stand-in dist/, so no test ever runs the real (maybe stale) dist/.
import { copyFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.ts';
import { runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';

const tmp = tempDir('mitm-lab-bin-');
afterAll(tmp.cleanup);

/** A project folder with bin/mitm-lab.js copied in; `dist` writes a stand-in dist/cli/bin.js. */
function project(name: string, dist: boolean): string {
  const dir = path.join(tmp.dir, name);
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  copyFileSync(path.join(ROOT, 'bin/mitm-lab.js'), path.join(dir, 'bin/mitm-lab.js'));
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  if (dist) {
    mkdirSync(path.join(dir, 'dist/cli'), { recursive: true });
    writeFileSync(
      path.join(dir, 'dist/cli/bin.js'),
      "process.stdout.write(`ran ${process.argv.slice(2).join(' ')}\\n`);\n",
    );
  }
  return dir;
}

const run = (dir: string, args: string[]) =>
  runTool(process.execPath, [path.join(dir, 'bin/mitm-lab.js'), ...args], {
    cwd: tmp.dir,
  });

describe('bin/mitm-lab.js', () => {
  it('runs dist/cli/bin.js with the arguments', async () => {
    const dir = project('built', true);
    const r = await run(dir, ['proxy', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran proxy --help\n');
    expect(r.stderr).toBe('');
  });

  it('without dist/ says to run npm install (or npm run build), exit 1', async () => {
    const dir = project('unbuilt', false);
    const r = await run(dir, ['start']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('run npm install (or npm run build)');
  });

  it('warns when a source is newer than the build, and runs it all the same', async () => {
    const dir = project('stale', true);
    mkdirSync(path.join(dir, 'src/cli'), { recursive: true });
    const source = path.join(dir, 'src/cli/main.ts');
    writeFileSync(source, '// changed\n');
    const later = new Date(Date.now() + 60_000);
    utimesSync(source, later, later);
    const r = await run(dir, ['ca', 'info']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran ca info\n');
    expect(r.stderr).toContain('src/cli/main.ts changed after the last build: run npm run build');
  });
});
