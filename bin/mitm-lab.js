#!/usr/bin/env node
// Entry point: runs the compiled JavaScript in dist/ (built from src/ by `npm install` through
// the `prepare` script, or by `npm run build`), so no transpiler runs with the proxy. Tests run
// the sources instead (test/support/cli.ts), so they never see a stale dist/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// V8 lets its old generation grow to up to four times what survived the last full collection
// before it collects again (its factor on a machine with gigabytes of memory). Under a load of
// many concurrent connections much of what a request allocates lives long enough to be promoted
// there and dies soon after, so the old generation filled with garbage: 500 concurrent HTTPS
// connections peaked at ~265 MB resident with ~50 MB alive (issue 12, item 4). A factor of 1.5
// collects it more often: ~210 MB. The pauses per request did not grow (the young collections
// get cheaper once less old garbage points into the young generation); the full collections'
// marking runs mostly on helper threads, and CPU per request stayed within this machine's
// noise. 1.25 took ~8 MB more off for a third more full collections. Set before anything
// runs; `node --heap-growing-percent=N bin/mitm-lab.js` keeps N.
const HEAP_GROWING_PERCENT = 50;
if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

const entry = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'mitm-lab: the compiled program (dist/) is missing: run npm install (or npm run build) in the mitm-lab folder first.\n',
  );
  process.exitCode = 1;
} else {
  warnIfStale();
  await import(entry.href);
}

/** In a checkout whose sources changed since the last build, say so (a ms or two of stat). */
function warnIfStale() {
  const src = fileURLToPath(new URL('../src/', import.meta.url));
  if (!existsSync(src)) return;
  const built = statSync(entry).mtimeMs;
  const newer = readdirSync(src, { recursive: true }).find(
    (f) => String(f).endsWith('.ts') && statSync(src + String(f)).mtimeMs > built,
  );
  if (newer !== undefined) {
    process.stderr.write(
      `mitm-lab: WARNING: src/${String(newer)} changed after the last build: run npm run build to run it.\n`,
    );
  }
}
