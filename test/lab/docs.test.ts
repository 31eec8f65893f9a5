// docs/lab.md and docs/labs/*.md must say what the code does: every gallery host with the
// codes the data (and so the measured tests) give, every field of the victim's record, and only
// commands, options and step ids that exist.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/main.ts';
import { GALLERY } from '../../src/lab/gallery.ts';
import { EXERCISES } from '../../src/lessons/index.ts';
import { unknownSteps, victimStepIds } from '../../src/victim/victim.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const labDoc = readFileSync(path.join(ROOT, 'docs/lab.md'), 'utf8');
const exerciseDir = path.join(ROOT, 'docs/labs');
const exercises = readdirSync(exerciseDir)
  .filter((f) => f.endsWith('.md'))
  .map((f) => ({ name: f, text: readFileSync(path.join(exerciseDir, f), 'utf8') }));

describe('docs/lab.md', () => {
  it.each(GALLERY.map((g) => [g.host, g] as const))('lists %s', (host) => {
    const row = labDoc.split('\n').find((l) => l.startsWith(`| \`${host}\``));
    expect(row, `no table row for ${host}`).toBeDefined();
  });

  it('sends the reader to the measured client matrix for what each client shows', () => {
    // The client columns are measured and rendered by test/e2e/client-matrix.test.ts, which
    // also checks the gallery data and fails when docs/client-matrix.md is stale.
    expect(labDoc).toContain('(client-matrix.md)');
    const matrix = readFileSync(path.join(ROOT, 'docs/client-matrix.md'), 'utf8');
    for (const g of GALLERY) expect(matrix, g.host).toContain(`| \`${g.host}\` |`);
  });

  it('documents every field of the victim records', () => {
    const types = readFileSync(path.join(ROOT, 'src/victim/types.ts'), 'utf8');
    const fields = new Set<string>();
    for (const block of types.matchAll(/export interface Victim\w+Record \{([\s\S]*?)\n\}/g)) {
      for (const m of block[1]!.matchAll(/^ {2}(\w+)\??:/gm)) fields.add(m[1]!);
    }
    expect(fields.size).toBeGreaterThan(15);
    const missing = [...fields].filter((f) => !labDoc.includes(`\`${f}\``));
    expect(missing).toEqual([]);
  });

  it('lists every step of the tour', () => {
    for (const id of victimStepIds()) {
      const base = id.startsWith('gallery:') ? id.slice('gallery:'.length) : id;
      expect(labDoc, id).toContain(`\`${base}\``);
    }
  });
});

describe('docs/labs', () => {
  it('has a page for every exercise and an index linking them', () => {
    const names = exercises.map((e) => e.name);
    expect(names).toContain('README.md');
    const index = exercises.find((e) => e.name === 'README.md')!.text;
    const lessons = names.filter((n) => /^\d\d-/.test(n));
    expect(lessons).toHaveLength(EXERCISES.length);
    for (const n of lessons) expect(index).toContain(`(${n})`);
  });

  it.each(exercises.map((e) => [e.name, e.text] as const))(
    '%s uses only real commands and step ids',
    (_name, text) => {
      // Commands: `npx mitm-lab WORD` (every page's commands say npx; prose may say "mitm-lab
      // wrote …").
      for (const m of text.matchAll(/npx mitm-lab (\w+)/g)) {
        const word = m[1]!;
        expect(Object.keys(COMMANDS), `mitm-lab ${word}`).toContain(word);
      }
      for (const m of text.matchAll(/--only ([\w:,-]+)/g)) {
        expect(unknownSteps(m[1]!.split(',')), m[0]).toEqual([]);
      }
      for (const m of text.matchAll(/(?<![$\w-])([a-z-]+)\.bank\.test\b/g)) {
        const host = `${m[1]}.bank.test`;
        expect(
          GALLERY.some((g) => g.host === host),
          host,
        ).toBe(true);
      }
    },
  );
});
