import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BINDINGS, KEYMAP } from '../../src/ui/keymap.ts';

describe('KEYMAP', () => {
  it('binds every key name once', () => {
    const names = KEYMAP.flatMap((k) => k.keys);
    expect(new Set(names).size).toBe(names.length);
    expect(BINDINGS.size).toBe(names.length);
  });

  it('gives every action exactly one entry, with a label and help text', () => {
    const actions = KEYMAP.map((k) => k.action);
    expect(new Set(actions).size).toBe(actions.length);
    for (const k of KEYMAP) {
      expect(k.label.trim(), k.action).not.toBe('');
      expect(k.help.length, k.action).toBeGreaterThan(5);
    }
  });

  it('has the keys the issue asks for', () => {
    for (const key of [
      'up',
      'down',
      'j',
      'k',
      'pageup',
      'pagedown',
      'home',
      'end',
      'enter',
      'tab',
      '1',
      '2',
      '3',
      '4',
      '5',
      '/',
      'p',
      'c',
      'm',
      'f',
      'r',
      'e',
      '?',
      'q',
    ])
      expect(BINDINGS.has(key), key).toBe(true);
  });

  it('is documented: every key label and its help appear in docs/ui.md', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/ui.md'), 'utf8');
    for (const k of KEYMAP) {
      expect(doc, `docs/ui.md lacks the row for ${k.label}`).toContain(
        `| \`${k.label}\` | ${k.help} |`,
      );
    }
  });
});
