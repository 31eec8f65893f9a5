#!/usr/bin/env node
// Entry point: runs the compiled JavaScript in dist/ (built from src/ by `npm install` through
// the `prepare` script, or by `npm run build`), so no transpiler runs with the proxy. Tests run
// the sources instead (test/support/cli.ts), so they never see a stale dist/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
