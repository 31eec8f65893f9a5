// `npm run bench`: runs every benchmark module in scripts/bench/ in name order and prints its
// figures. Figures are ratios against a baseline measured in the same run (shared, noisy
// machines make absolute numbers drift), never pass/fail assertions.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface BenchModule {
  title: string;
  run(): Promise<void>;
}

const dir = path.join(import.meta.dirname, 'bench');
const only = process.argv[2];
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
