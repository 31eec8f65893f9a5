// `npm run bench`: runs every benchmark module in scripts/bench/ in name order and prints its
// figures (`npm run bench -- proxy` only those whose file name has `proxy`; options after it go
// to the modules, e.g. `npm run bench -- proxy --rounds 3`). Figures are ratios against a
// baseline measured in the same run (shared, noisy machines make absolute numbers drift), never
// pass/fail assertions. `npm run bench` builds dist/ first: the proxy bench runs what users run.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface BenchModule {
  title: string;
  run(): Promise<void>;
}

const dir = path.join(import.meta.dirname, 'bench');
const first = process.argv[2];
const only = first?.startsWith('-') ? undefined : first;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && (!only || f.includes(only)))
  .sort();
if (files.length === 0) {
  console.error(`bench: no benchmark matches "${only ?? ''}" in scripts/bench/`);
  process.exit(2);
}
for (const file of files) {
  const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as BenchModule;
  console.log(`\n== ${mod.title} (${file})`);
  await mod.run();
}
