// V8 lets its old generation grow to up to four times what survived the last full collection
// before it collects again (its factor on a machine with gigabytes of memory). Under a load of
// many concurrent connections much of what a request allocates lives long enough to be promoted
// there and dies soon after, so the old generation filled with garbage: 500 concurrent HTTPS
// connections peaked at ~265 MB resident with ~50 MB alive (issue 12, item 4). A factor of 1.5
// collects it more often: ~210 MB. The pauses per request did not grow (the young collections
// get cheaper once less old garbage points into the young generation); the full collections'
// marking runs mostly on helper threads, and CPU per request stayed within this machine's
// noise. 1.25 took ~8 MB more off for a third more full collections. Set by the
// program's entry (src/cli/bin.ts) before it runs anything, and by the tests' engine process;
// `node --heap-growing-percent=N bin/mitm-lab.js` keeps N.
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

/** Apply HEAP_GROWING_PERCENT unless node's own command line set one; true when applied. */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => a.startsWith('--heap-growing-percent'))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
