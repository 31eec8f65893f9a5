// The layout spells the data flow — socket → engine → events → store → views — and imports
// only run down that arrow. Each CommonJS dependency sits behind exactly one adapter file.
// This test reads every source file's imports and fails on a wrong-way import, naming it.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');
const TEST = import.meta.dirname;

/** Which folders each folder of src/ may import from (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  events: [],
  ca: ['events', 'util'],
  proxy: ['ca', 'events', 'util'],
  store: ['events', 'util'],
  explain: ['events', 'util'],
  lessons: ['events', 'util'],
  classroom: ['lessons', 'events', 'util'],
  ui: ['store', 'explain', 'lessons', 'classroom', 'events', 'util'],
  sinks: ['store', 'explain', 'events', 'util'],
  feed: ['ui', 'store', 'explain', 'events', 'util'],
  lab: ['ca', 'events', 'util'],
  // The scripted victim browses the lab (its hosts, account, roots); the lab never knows it.
  victim: ['lab', 'util'],
  cli: [
    'ca',
    'proxy',
    'events',
    'store',
    'explain',
    'lessons',
    'classroom',
    'ui',
    'sinks',
    'feed',
    'lab',
    'victim',
    'util',
  ],
};

/** The one file allowed to import each third-party CommonJS package. */
const ADAPTERS: Record<string, string> = {
  'node-forge': 'ca/forge.ts',
  'http-mitm-proxy': 'proxy/engine.ts',
  'read-tls-client-hello': 'proxy/client-hello.ts',
  blessed: 'ui/screen.ts',
  ws: 'util/ws.ts',
  'qrcode-terminal': 'ui/qr.ts',
};

/**
 * src/ layers with no test/<layer>/ folder of their own, and where they are tested instead.
 * (In the spirit of mitmproxy's test/filename_matching.py: the test tree mirrors src/, and
 * every gap is written down here rather than found by surprise.)
 */
const UNMIRRORED_LAYERS: Record<string, string> = {};

/** test/ folders that mirror no src/ layer on purpose. */
const TEST_ONLY_FOLDERS: Record<string, string> = {
  e2e: 'the CLI as a real process on a terminal',
  hardening:
    'issue 13: crashes, hangs, leaks and lies found by attacking the running proxy; each test spans the engine, the CLI, the terminal and the OS limits (descriptors, timeouts, memory) at once',
  integration: 'the engine with real clients, across layers',
  scripts: "scripts/*.sh, and the bench runner's command line",
  support: 'helpers shared by tests, no tests of their own',
};

/** Immediate sub-folders of `dir`. */
function foldersIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Layers of src/ that have neither a test/<layer>/ folder nor an entry in `exceptions`. */
function layersWithoutTests(
  srcLayers: readonly string[],
  testFolders: readonly string[],
  exceptions: Record<string, string>,
): string[] {
  return srcLayers.filter((l) => !testFolders.includes(l) && !(l in exceptions));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  return specifiersIn(readFileSync(file, 'utf8'));
}

/** Module specifiers in a source text: imports, exports, import(), and require (createRequire). */
function specifiersIn(text: string): string[] {
  const specs: string[] = [];
  const re =
    /(?:^|\s)(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]|(?:\brequire|createRequire\([^)]*\))\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of text.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
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

  it('mirrors every src/ layer with a test/ folder, or says where it is tested instead', () => {
    expect(layersWithoutTests(foldersIn(SRC), foldersIn(TEST), UNMIRRORED_LAYERS)).toEqual([]);
  });

  it('keeps the exception lists honest (no stale or unknown entries)', () => {
    const srcLayers = foldersIn(SRC);
    const testFolders = foldersIn(TEST);
    // An excepted layer that exists and still has no test folder; drop the entry once it has one.
    const stale = Object.keys(UNMIRRORED_LAYERS).filter(
      (l) => !srcLayers.includes(l) || testFolders.includes(l),
    );
    expect(stale).toEqual([]);
    // Every test/ folder is a src/ layer or a declared test-only folder.
    const unknown = testFolders.filter((t) => !srcLayers.includes(t) && !(t in TEST_ONLY_FOLDERS));
    expect(unknown).toEqual([]);
  });

  it('recognises a layer without tests (the mirror check itself can fail)', () => {
    expect(layersWithoutTests(['ca', 'newlayer'], ['ca'], {})).toEqual(['newlayer']);
    expect(layersWithoutTests(['ca', 'newlayer'], ['ca'], { newlayer: 'why' })).toEqual([]);
  });

  it('sees a CommonJS package loaded with require as an import (the adapter check can fail)', () => {
    expect(specifiersIn("const ws = createRequire(import.meta.url)('ws') as X;")).toEqual(['ws']);
    expect(specifiersIn("const f = require('node-forge');")).toEqual(['node-forge']);
  });

  it('recognises a wrong-way import (the check itself can fail)', () => {
    const spec = '../proxy/engine.ts';
    const target = path.relative(SRC, path.resolve(path.join(SRC, 'ui'), spec));
    expect(ALLOWED['ui']!.includes(target.split(path.sep)[0]!)).toBe(false);
  });
});
