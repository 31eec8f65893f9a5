// The heap setting the program runs with (src/util/heap-growth.ts, applied by src/cli/bin.ts
// and the tests' engine process): the old generation grows only 50 % past what survived the
// last full collection, unless node's own command line said otherwise.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.ts';
import { runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';

const tmp = tempDir('mitm-lab-heap-');
afterAll(tmp.cleanup);

/**
 * A stand-in program that promotes garbage to the old generation as a loaded proxy does
 * (objects that live a while, then die) and prints the old generation's largest size, in MB.
 */
const PROMOTES_GARBAGE = `import v8 from 'node:v8';
const live = [];
let maxOld = 0;
for (let i = 0; i < 2e6; i++) {
  live.push({ a: i, b: 'x' + i });
  if (live.length > 200000) live.splice(0, 1000);
  if (i % 20000 === 0) {
    const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
    maxOld = Math.max(maxOld, old ? old.space_size / 1048576 : 0);
  }
}
process.stdout.write(String(maxOld));
`;

describe('limitHeapGrowth', () => {
  it('lets the old generation grow only 50 % past what survived, unless node was told otherwise', async () => {
    const module = pathToFileURL(path.join(ROOT, 'src/util/heap-growth.ts')).href;
    const script = path.join(tmp.dir, 'promotes.mjs');
    writeFileSync(
      script,
      `import { limitHeapGrowth } from '${module}';\nlimitHeapGrowth();\n${PROMOTES_GARBAGE}`,
    );
    const run = (flags: string[]) =>
      runTool(process.execPath, [...flags, '--import', 'tsx', script], { cwd: ROOT });
    const ours = await run([]);
    // A value on node's own command line wins: 300 % is V8's own factor on a machine with
    // gigabytes of memory.
    const theirs = await run(['--heap-growing-percent=300']);
    expect([ours.code, theirs.code]).toEqual([0, 0]);
    const [oursMb, theirsMb] = [Number(ours.stdout), Number(theirs.stdout)];
    expect(oursMb).toBeGreaterThan(0);
    expect(oursMb).toBeLessThan(theirsMb * 0.7);
  });
});
