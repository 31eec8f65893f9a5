// `npm run docs:cli`: rewrite docs/cli.md from the commands' --help texts.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderCliDoc } from '../src/cli/help-doc.ts';

const target = path.join(import.meta.dirname, '..', 'docs', 'cli.md');
writeFileSync(target, await renderCliDoc());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
