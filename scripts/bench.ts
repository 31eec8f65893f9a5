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
  /** Its options, for --help (a module without options has none). */
  usage?: string;
  /** Thrown by `run` for a mistake in the options: printed with a pointer to --help, exit 2. */
  UsageError?: new (...args: never[]) => Error;
  run(): Promise<void>;
}

// Output closed early (`npm run bench | head`): stop quietly; each benchmark's 'exit' listener
// ends what it started.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

const dir = path.join(import.meta.dirname, 'bench');
const args = process.argv.slice(2);
const first = args[0];
const only = first?.startsWith('-') ? undefined : first;
const help = args.includes('--help') || args.includes('-h');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && (!only || f.includes(only)))
  .sort();
if (files.length === 0) {
  console.error(`bench: no benchmark matches "${only ?? ''}" in scripts/bench/`);
  process.exit(2);
}
if (help) {
  console.log(
    'npm run bench [-- NAME] [OPTIONS]\n\n' +
      'Runs the benchmarks in scripts/bench/ in name order (only those whose file name has NAME\n' +
      'when given) and prints their figures as ratios to a baseline from the same run, never\n' +
      'pass or fail. It builds dist/ first. OPTIONS go to the benchmarks.\n',
  );
}
for (const file of files) {
  const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as BenchModule;
  if (help) {
    console.log(`== ${mod.title} (${file})`);
    console.log(`${mod.usage ?? 'no options'}\n`);
    continue;
  }
  console.log(`\n== ${mod.title} (${file})`);
  try {
    await mod.run();
  } catch (err) {
    if (!mod.UsageError || !(err instanceof mod.UsageError)) throw err;
    console.error(
      `bench: ${err.message}\n(npm run bench -- ${only ? `${only} ` : ''}--help lists the options)`,
    );
    process.exit(2);
  }
}
