// The heap setting the program runs with (src/util/heap-growth.ts, wired by
// src/cli/proxy-options.ts and the tests' engine process): the old generation grows only 50 %
// past what survived the last full collection while many clients are connected; otherwise by
// CALM_SLACK_BYTES past what survived, between 50 % and 300 % (V8's largest factor); and node's
// own command line wins.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUSY_CONNECTIONS,
  CALM_CONNECTIONS,
  CALM_GROWING_PERCENT,
  CALM_SLACK_BYTES,
  calmPercentFor,
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
 * Before that it feeds HeapGrowth OPENS conn.open events, then CLOSES conn.close events. With
 * `keep`, it first makes that many objects that stay alive (~70 bytes each: a flow store's
 * worth at 500,000); with `watch`, HeapGrowth hears of V8's full collections, as the program's.
 */
const program = (
  opens: number,
  closes: number,
  opts: { keep?: number; watch?: boolean } = {},
): string => `import v8 from 'node:v8';
import { HeapGrowth, watchFullCollections } from '${pathToFileURL(path.join(ROOT, 'src/util/heap-growth.ts')).href}';
const growth = new HeapGrowth();
for (let i = 0; i < ${opens}; i++) growth.observe({ type: 'conn.open' });
for (let i = 0; i < ${closes}; i++) growth.observe({ type: 'conn.close' });
const stop = ${opts.watch === true} ? watchFullCollections((b) => growth.afterFullCollection(b)) : () => {};
const kept = Array.from({ length: ${opts.keep ?? 0} }, (_, i) => ({ i, s: 'k' + i }));
const live = [];
let maxOld = 0;
for (let i = 0; i < 2e6; i++) {
  live.push({ a: i, b: 'x' + i });
  if (live.length > 200000) live.splice(0, 1000);
  if (i % 20000 === 0) {
    await new Promise((r) => setImmediate(r)); // node reports the collections between turns
    const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
    maxOld = Math.max(maxOld, old ? old.space_size / 1048576 : 0);
  }
}
stop();
process.stdout.write(String(maxOld) + ' ' + kept.length + ' ' + growth.percent);
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

  it('while calm, lets the heap grow by CALM_SLACK_BYTES past what survived, within 50-300 %', () => {
    const MiB = 1024 * 1024;
    expect(CALM_SLACK_BYTES).toBe(32 * MiB);
    expect(calmPercentFor(0)).toBe(CALM_GROWING_PERCENT);
    expect(calmPercentFor(9 * MiB)).toBe(CALM_GROWING_PERCENT); // a headless proxy: 356 %, capped
    expect(calmPercentFor(16 * MiB)).toBe(200);
    expect(calmPercentFor(40 * MiB)).toBe(80); // the terminal UI with a full flow store
    expect(calmPercentFor(64 * MiB)).toBe(HEAP_GROWING_PERCENT);
    expect(calmPercentFor(500 * MiB)).toBe(HEAP_GROWING_PERCENT);

    const set: string[] = [];
    const growth = new HeapGrowth([], (flags) => set.push(flags));
    growth.afterFullCollection(40 * MiB);
    expect([growth.percent, set]).toEqual([
      80,
      ['--heap-growing-percent=300', '--heap-growing-percent=80'],
    ]);
    growth.afterFullCollection(40.5 * MiB); // the same step: V8 is not told again
    expect(set).toHaveLength(2);
    for (let i = 0; i < BUSY_CONNECTIONS; i++) growth.observe({ type: 'conn.open' });
    expect([growth.busy, growth.percent]).toEqual([true, HEAP_GROWING_PERCENT]);
    // While busy, what survives includes the connections' state: not a measure of calm.
    growth.afterFullCollection(27 * MiB);
    expect(growth.percent).toBe(HEAP_GROWING_PERCENT);
    for (let i = 0; i < BUSY_CONNECTIONS; i++) growth.observe({ type: 'conn.close' });
    // Calm again: the growth last measured while calm.
    expect([growth.busy, growth.percent]).toEqual([false, 80]);
    growth.afterFullCollection(10 * MiB);
    expect(growth.percent).toBe(CALM_GROWING_PERCENT);
  });

  it('changes nothing when node was started with its own --heap-growing-percent', () => {
    const set: string[] = [];
    const growth = new HeapGrowth(['--heap-growing-percent=300'], (flags) => set.push(flags));
    for (let i = 0; i < 2 * BUSY_CONNECTIONS; i++) growth.observe({ type: 'conn.open' });
    expect([growth.enabled, growth.busy, set]).toEqual([false, false, []]);
  });

  /** Run `program` in its own node; the old generation's largest size (MB) and the last setting. */
  const runProgram = async (
    name: string,
    opens: number,
    closes: number,
    opts: { keep?: number; watch?: boolean; flags?: string[] } = {},
  ): Promise<{ maxOld: number; percent: string }> => {
    const script = path.join(tmp.dir, `${name}.mjs`);
    writeFileSync(script, program(opens, closes, opts));
    const r = await runTool(process.execPath, [...(opts.flags ?? []), '--import', 'tsx', script], {
      cwd: ROOT,
    });
    expect(r.code, r.stderr).toBe(0);
    const [maxOld = '', , percent = ''] = r.stdout.split(' ');
    return { maxOld: Number(maxOld), percent };
  };

  it('makes V8 keep a smaller old generation while busy than before and after', async () => {
    const run = async (name: string, opens: number, closes: number, flags: string[] = []) =>
      (await runProgram(name, opens, closes, { flags })).maxOld;
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

  it('hears of V8 full collections and sizes the calm growth from what survived them', async () => {
    // ~55 MB alive (500,000 small objects kept, 200,000 more in a ring), garbage promoted around
    // them: 32 MiB is under 100 % of what survives. Without the collections heard, the calm
    // setting stays at 300 %.
    const watched = await runProgram('large-watched', 0, 0, { keep: 500_000, watch: true });
    const unwatched = await runProgram('large-unwatched', 0, 0, { keep: 500_000 });
    expect(Number(watched.percent)).toBeGreaterThanOrEqual(HEAP_GROWING_PERCENT);
    expect(Number(watched.percent)).toBeLessThan(100);
    expect(unwatched.percent).toBe(String(CALM_GROWING_PERCENT));
  });
});
