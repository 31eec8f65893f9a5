// The time limits are a contract users read in docs/proxy.md: every stage's constant is in the
// "Time limits" table with its value, and the engine's defaults are exactly those constants.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as timeouts from '../../src/proxy/timeouts.ts';
import { DEFAULT_TIMEOUTS, formatMs } from '../../src/proxy/timeouts.ts';

const DOC = readFileSync(path.resolve(import.meta.dirname, '../../docs/proxy.md'), 'utf8');
const TABLE = DOC.slice(
  DOC.indexOf('\n## Time limits\n'),
  DOC.indexOf('\n## ', DOC.indexOf('\n## Time limits\n') + 5),
);

/** The exported `*_MS` constants of src/proxy/timeouts.ts. */
const CONSTANTS: [string, number][] = Object.entries(timeouts as Record<string, unknown>).flatMap(
  ([name, value]) => (/_MS$/.test(name) && typeof value === 'number' ? [[name, value]] : []),
);

describe('time limits', () => {
  it('has one constant per stage, and the defaults are those constants', () => {
    expect(CONSTANTS.map(([name]) => name).sort()).toEqual([
      'AFTER_CONNECT_MS',
      'CLIENT_SILENT_MS',
      'HANDSHAKE_MS',
      'REQUEST_HEADERS_MS',
      'UPSTREAM_CONNECT_MS',
      'UPSTREAM_FIRST_BYTE_MS',
      'UPSTREAM_IDLE_MS',
    ]);
    expect(Object.values(DEFAULT_TIMEOUTS).sort()).toEqual(CONSTANTS.map(([, v]) => v).sort());
  });

  it.each(CONSTANTS)('docs/proxy.md lists %s with its value', (name, value) => {
    const row = TABLE.split('\n').find((line) => line.includes(`\`${name}\``));
    expect(row, `a row for ${name}`).toBeDefined();
    expect(row).toContain(`| ${formatMs(value)}`);
  });

  it('formats milliseconds for sentences', () => {
    expect(formatMs(800)).toBe('800 ms');
    expect(formatMs(15_000)).toBe('15 s');
    expect(formatMs(1500)).toBe('1.5 s');
  });
});
