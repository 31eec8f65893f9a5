import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HELP_PAGES, helpText, renderCliDoc } from '../../src/cli/help-doc.ts';

describe('docs/cli.md', () => {
  it('is exactly what `npm run docs:cli` generates from the --help texts', async () => {
    const onDisk = readFileSync(path.join(import.meta.dirname, '../../docs/cli.md'), 'utf8');
    // On failure: run `npm run docs:cli` and commit docs/cli.md with the help change.
    expect(onDisk).toBe(await renderCliDoc());
  });

  it('covers every command and every ca subcommand, each with a usage line', async () => {
    expect(HELP_PAGES.length).toBeGreaterThanOrEqual(12);
    for (const words of HELP_PAGES) {
      const text = await helpText(words);
      expect(text, `mitm-lab ${words.join(' ')} --help`).toMatch(/Usage/);
    }
  });
});
