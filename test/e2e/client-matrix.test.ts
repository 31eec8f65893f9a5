// The client matrix (issue 9): eight real clients — curl, wget, Python urllib and requests,
// Node https.get, openssl s_client, headless Chromium and Firefox ESR — against bank.test and
// every gallery host, directly and through the real proxy (intercept with the CA trusted or
// not, auto mode's first attempt and retry). What each client really printed is held against
// what the product says about that case:
// - through the proxy, the explanation of the cell's flow must have a line for that client that
//   matches the run, and no line claiming the other outcome;
// - directly, the gallery data must say what the client did.
// The measured table is docs/client-matrix.md: `npm run docs:matrix` (UPDATE_CLIENT_MATRIX=1)
// writes it; otherwise this test fails when the file no longer matches a fresh run.
// CLIENT_MATRIX_RAW=DIR also writes the raw measurements (results.json, results.md) there.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { galleryEntry } from '../../src/lab/index.ts';
import {
  checkDirect,
  checkProxied,
  formatMismatches,
  type Mismatch,
} from './client-matrix/check.ts';
import {
  availability,
  MATRIX_HOSTS,
  runMatrix,
  type MatrixResult,
} from './client-matrix/matrix.ts';
import { docsMarkdown, rawJson, rawMarkdown } from './client-matrix/render.ts';
import { MATRIX_MODES } from './client-matrix/types.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOC = path.join(ROOT, 'docs/client-matrix.md');
/**
 * The whole matrix (400 client runs) takes 2–3 minutes on two shared cores; past this bound
 * the run is abandoned rather than left to stall the suite.
 */
const MATRIX_BUDGET_MS = 280_000;

const { run: clients, skipped } = availability();
let result: MatrixResult;

describe('the client matrix', () => {
  beforeAll(async () => {
    result = await runMatrix();
    const raw = process.env.CLIENT_MATRIX_RAW;
    if (raw) {
      mkdirSync(raw, { recursive: true });
      writeFileSync(path.join(raw, 'results.json'), rawJson(result));
      writeFileSync(path.join(raw, 'results.md'), rawMarkdown(result));
    }
    if (process.env.UPDATE_CLIENT_MATRIX === '1') writeFileSync(DOC, docsMarkdown(result));
  }, MATRIX_BUDGET_MS);

  for (const s of skipped) it.skip(`${s.client}: skipped, ${s.why}`, () => undefined);

  it('ran every available client on every host in every mode', () => {
    const expected = clients.length * MATRIX_HOSTS.length * MATRIX_MODES.length;
    expect(result.cells.length).toBe(expected);
    // A client that never ran (could not start, or was killed by its timeout) measured nothing.
    const broken = result.cells.filter((c) => ['spawn', 'timeout', 'not-served'].includes(c.code));
    expect(broken.map((c) => `${c.client} ${c.mode} ${c.host}: ${c.text}`)).toEqual([]);
  });

  it('through the proxy: every explanation has a line matching what the client did, and none claims the other outcome', () => {
    const mismatches: Mismatch[] = result.cells
      .filter((c) => c.mode !== 'direct' && c.code !== 'skipped')
      .flatMap(checkProxied);
    expect(mismatches, `${mismatches.length} cells:\n${formatMismatches(mismatches)}`).toEqual([]);
  });

  it('directly: the gallery data says what each client did', () => {
    const mismatches = result.cells
      .filter((c) => c.mode === 'direct' && c.code !== 'skipped')
      .flatMap((c) => checkDirect(c, galleryEntry(c.host)));
    expect(mismatches, `${mismatches.length} cells:\n${formatMismatches(mismatches)}`).toEqual([]);
  });

  it.skipIf(skipped.length > 0)(
    skipped.length > 0
      ? `docs/client-matrix.md: not compared, ${skipped.map((s) => s.client).join(', ')} missing`
      : 'docs/client-matrix.md is what this run measured',
    () => {
      const fresh = docsMarkdown(result);
      let current = '';
      try {
        current = readFileSync(DOC, 'utf8');
      } catch {
        // absent: the comparison below fails with the instruction
      }
      expect(current, 'docs/client-matrix.md is stale: run `npm run docs:matrix`').toBe(fresh);
    },
  );
});
