// The layout spells the data flow — socket → engine → events → store → views — and imports
// only run down that arrow. Each CommonJS dependency sits behind exactly one adapter file.
// This test reads every source file's imports and fails on a wrong-way import, naming it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Which folders each folder of src/ may import from (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  events: [],
  ca: ['events', 'util'],
  proxy: ['ca', 'events', 'util'],
  store: ['events', 'util'],
  explain: ['events', 'util'],
  ui: ['store', 'explain', 'events', 'util'],
  sinks: ['store', 'explain', 'events', 'util'],
  feed: ['ui', 'store', 'explain', 'events', 'util'],
  lab: ['ca', 'events', 'util'],
  cli: ['ca', 'proxy', 'events', 'store', 'explain', 'ui', 'sinks', 'feed', 'lab', 'util'],
};

/** The one file allowed to import each third-party CommonJS package. */
const ADAPTERS: Record<string, string> = {
  'node-forge': 'ca/forge.ts',
  'http-mitm-proxy': 'proxy/engine.ts',
  'read-tls-client-hello': 'proxy/client-hello.ts',
  blessed: 'ui/screen.ts',
  ws: 'util/ws.ts',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  const re =
    /(?:^|\s)(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3]) as string);
  return specs;
}

const files = sourceFiles(SRC).map((f) => ({ abs: f, rel: path.relative(SRC, f) }));

describe('architecture', () => {
  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it('keeps every source file inside a known layer', () => {
    const outside = files
      .map((f) => f.rel.split(path.sep)[0])
      .filter((layer) => !(layer! in ALLOWED));
    expect(outside).toEqual([]);
  });

  it('imports only down the data-flow arrow', () => {
    const violations: string[] = [];
    for (const f of files) {
      const layer = f.rel.split(path.sep)[0]!;
      for (const spec of importsOf(f.abs)) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(SRC, path.resolve(path.dirname(f.abs), spec));
        const targetLayer = target.split(path.sep)[0]!;
        if (target.startsWith('..')) violations.push(`${f.rel} imports ${spec} (outside src/)`);
        else if (targetLayer !== layer && !ALLOWED[layer]!.includes(targetLayer))
          violations.push(`${f.rel} (${layer}/) imports ${target} (${targetLayer}/)`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('keeps each CommonJS dependency behind its one adapter file', () => {
    const violations: string[] = [];
    for (const f of files) {
      for (const spec of importsOf(f.abs)) {
        const pkg = spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : spec.split('/')[0]!;
        const adapter = ADAPTERS[pkg];
        if (adapter && f.rel.split(path.sep).join('/') !== adapter)
          violations.push(`${f.rel} imports ${spec}; only src/${adapter} may`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('recognises a wrong-way import (the check itself can fail)', () => {
    const spec = '../proxy/engine.ts';
    const target = path.relative(SRC, path.resolve(path.join(SRC, 'ui'), spec));
    expect(ALLOWED['ui']!.includes(target.split(path.sep)[0]!)).toBe(false);
  });
});
