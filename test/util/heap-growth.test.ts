// The heap setting the program runs with (src/util/heap-growth.ts, wired by
// src/cli/proxy-options.ts and the tests' engine process): the old generation grows only 50 %
// past what survived the last full collection while many clients are connected, up to 300 %
// (V8's largest factor) otherwise, and node's own command line wins.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUSY_CONNECTIONS,
  CALM_CONNECTIONS,
  CALM_GROWING_PERCENT,
  HEAP_GROWING_PERCENT,
  HeapGrowth,
} from '../../src/util/heap-growth.ts';
import { ROOT } from '../support/cli.ts';
import { runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';

const tmp = tempDir('mitm-lab-heap-');
afterAll(tmp.cleanup);

/**
 * A stand-in program that promotes garbage to the old generation as a loaded proxy does
 * (objects that live a while, then die) and prints the old generation's largest size, in MB.
 * Before that it feeds HeapGrowth OPENS conn.open events, then CLOSES conn.close events.
 */
const program = (opens: number, closes: number): string => `import v8 from 'node:v8';
import { HeapGrowth } from '${pathToFileURL(path.join(ROOT, 'src/util/heap-growth.ts')).href}';
const growth = new HeapGrowth();
for (let i = 0; i < ${opens}; i++) growth.observe({ type: 'conn.open' });
for (let i = 0; i < ${closes}; i++) growth.observe({ type: 'conn.close' });
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

describe('HeapGrowth', () => {
  it('holds the heap down from BUSY_CONNECTIONS open connections until fewer than CALM_CONNECTIONS', () => {
    const set: string[] = [];
    const calm = `--heap-growing-percent=${CALM_GROWING_PERCENT}`;
    const busy = `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
    const growth = new HeapGrowth([], (flags) => set.push(flags));
    expect([growth.enabled, growth.busy, set]).toEqual([true, false, [calm]]);
    for (let i = 1; i < BUSY_CONNECTIONS; i++) growth.observe({ type: 'conn.open' });
    growth.observe({ type: 'http.request' });
    expect([growth.busy, set]).toEqual([false, [calm]]);
    growth.observe({ type: 'conn.open' });
    expect([growth.busy, set]).toEqual([true, [calm, busy]]);
    // Down to CALM_CONNECTIONS it stays busy: a count hovering at one line does not flap.
    for (let i = BUSY_CONNECTIONS; i > CALM_CONNECTIONS; i--)
      growth.observe({ type: 'conn.close' });
    growth.observe({ type: 'conn.open' });
    growth.observe({ type: 'conn.close' });
    expect([growth.busy, set]).toEqual([true, [calm, busy]]);
    growth.observe({ type: 'conn.close' });
    expect([growth.busy, set]).toEqual([false, [calm, busy, calm]]);
    // More closes than opens (none here) never make the count negative.
    for (let i = 0; i < 2 * BUSY_CONNECTIONS; i++) growth.observe({ type: 'conn.close' });
    for (let i = 1; i < BUSY_CONNECTIONS; i++) growth.observe({ type: 'conn.open' });
    expect(growth.busy).toBe(false);
  });

  it('changes nothing when node was started with its own --heap-growing-percent', () => {
    const set: string[] = [];
    const growth = new HeapGrowth(['--heap-growing-percent=300'], (flags) => set.push(flags));
    for (let i = 0; i < 2 * BUSY_CONNECTIONS; i++) growth.observe({ type: 'conn.open' });
    expect([growth.enabled, growth.busy, set]).toEqual([false, false, []]);
  });

  it('makes V8 keep a smaller old generation while busy than before and after', async () => {
    const run = async (name: string, opens: number, closes: number, flags: string[] = []) => {
      const script = path.join(tmp.dir, `${name}.mjs`);
      writeFileSync(script, program(opens, closes));
      const r = await runTool(process.execPath, [...flags, '--import', 'tsx', script], {
        cwd: ROOT,
      });
      expect(r.code, r.stderr).toBe(0);
      return Number(r.stdout);
    };
    const busy = await run('busy', BUSY_CONNECTIONS, 0);
    const calmAgain = await run('calm-again', BUSY_CONNECTIONS, BUSY_CONNECTIONS);
    const calm = await run('calm', 0, 0);
    // A value on node's own command line wins: 300 % is V8's own factor on a machine with
    // gigabytes of memory.
    const theirs = await run('theirs', BUSY_CONNECTIONS, 0, ['--heap-growing-percent=300']);
    expect(busy).toBeGreaterThan(0);
    expect(busy).toBeLessThan(calm * 0.7);
    expect(busy).toBeLessThan(calmAgain * 0.7);
    expect(busy).toBeLessThan(theirs * 0.7);
  });
});
