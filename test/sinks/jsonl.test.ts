// The JSONL event log: one parseable event per line with type/id/at/connId, appended to a real
// file (mode 0600) or written to a stream for `-`; clear errors for a bad path; a write failure
// becomes one diag event, never a crash.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import { eventFromJson, jsonForm } from '../../src/events/json.ts';
import { EVENT_TYPES, type ProxyEvent } from '../../src/events/types.ts';
import { openJsonlSink } from '../../src/sinks/jsonl.ts';
import { LabError } from '../../src/util/lab-error.ts';
import { runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { emitLesson } from './event-kit.ts';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('mitm-lab-jsonl-'));
});
afterEach(() => cleanup());

function parseLines(text: string): ProxyEvent[] {
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as ProxyEvent);
}

describe('openJsonlSink', () => {
  it('writes every event as one JSON line with type, id, at and connId', async () => {
    const bus = new EventBus();
    const file = join(dir, 'events.jsonl');
    const sink = openJsonlSink(file, bus);
    const emitted = emitLesson(bus);
    // Every line is on disk by the end of this turn of the event loop, before close.
    await new Promise((r) => setImmediate(r));
    const early = parseLines(readFileSync(file, 'utf8'));
    expect(early).toHaveLength(emitted.length);
    await sink.close();
    const lines = parseLines(readFileSync(file, 'utf8'));
    // The JSON form: captured bytes as base64 (docs/events.md), read back as the same events.
    expect(lines).toEqual(emitted.map((e) => JSON.parse(JSON.stringify(jsonForm(e)))));
    expect(lines.map((l) => eventFromJson(l))).toEqual(emitted);
    const png = lines.find((e) => e.type === 'http.response' && e.connId === 'c2');
    expect(png && 'body' in png ? png.body : null).toEqual({
      base64: Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString('base64'),
      size: 300000,
      truncated: true,
    });
    for (const e of lines) {
      expect(EVENT_TYPES).toContain(e.type);
      expect(e.id).toMatch(/^e\d+$/);
      expect(new Date(e.at).toISOString()).toBe(e.at);
      expect('connId' in e).toBe(true);
    }
    expect(sink.lines).toBe(emitted.length);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('appends to an existing log instead of destroying it', async () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, '{"type":"diag","earlier":true}\n');
    const bus = new EventBus();
    const sink = openJsonlSink(file, bus);
    bus.emit({ type: 'diag', connId: null, level: 'info', source: 'test', message: 'later' });
    await sink.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ earlier: true });
    expect(JSON.parse(lines[1] ?? '')).toMatchObject({ message: 'later' });
  });

  it('writes to the given stdout for -, and stops at close', async () => {
    const bus = new EventBus();
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const sink = openJsonlSink('-', bus, { stdout: out });
    bus.emit({ type: 'diag', connId: null, level: 'warn', source: 'test', message: 'one' });
    await sink.close();
    bus.emit({ type: 'diag', connId: null, level: 'warn', source: 'test', message: 'two' });
    const lines = parseLines(text);
    expect(lines.map((e) => (e.type === 'diag' ? e.message : ''))).toEqual(['one']);
  });

  it('writes the lines of one turn of the event loop in one write', async () => {
    const bus = new EventBus();
    const writes: string[] = [];
    const out = new PassThrough();
    out.on('data', (d: Buffer) => writes.push(d.toString()));
    const sink = openJsonlSink('-', bus, { stdout: out });
    for (const message of ['a', 'b', 'c'])
      bus.emit({ type: 'diag', connId: null, level: 'info', source: 'test', message });
    expect(writes).toEqual([]); // held until the end of this turn
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    expect(parseLines(writes[0]!).map((e) => (e.type === 'diag' ? e.message : ''))).toEqual([
      'a',
      'b',
      'c',
    ]);
    await sink.close();
  });

  it('writes what it holds when the process exits before the end of the turn', async () => {
    const file = join(dir, 'exit.jsonl');
    const sinkModule = new URL('../../src/sinks/jsonl.ts', import.meta.url).href;
    const busModule = new URL('../../src/events/bus.ts', import.meta.url).href;
    const code = [
      `const { openJsonlSink } = await import(${JSON.stringify(sinkModule)});`,
      `const { EventBus } = await import(${JSON.stringify(busModule)});`,
      'const bus = new EventBus();',
      `openJsonlSink(${JSON.stringify(file)}, bus);`,
      "bus.emit({ type: 'diag', connId: null, level: 'info', source: 'test', message: 'last words' });",
      'process.exit(0);',
    ].join('\n');
    const r = await runTool(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      code,
    ]);
    expect(r.code).toBe(0);
    const lines = parseLines(readFileSync(file, 'utf8'));
    expect(lines.map((e) => (e.type === 'diag' ? e.message : ''))).toEqual(['last words']);
  });

  it('refuses a path it cannot write with a clear config error', () => {
    const bus = new EventBus();
    const bad = join(dir, 'no-such-folder', 'events.jsonl');
    let err: unknown;
    try {
      openJsonlSink(bad, bus);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe('config');
    expect((err as LabError).message).toContain(bad);
    expect((err as LabError).message).toMatch(/ENOENT|no such file/i);
    expect((err as LabError).hint).toMatch(/--events/);
    expect(existsSync(bad)).toBe(false);
    expect(() => openJsonlSink('', bus)).toThrow(LabError);
  });

  it.skipIf(!existsSync('/dev/full'))(
    'turns a write failure (disk full) into one diag event and keeps the bus working',
    async () => {
      const bus = new EventBus();
      const seen: ProxyEvent[] = [];
      bus.on((e) => seen.push(e));
      const sink = openJsonlSink('/dev/full', bus);
      bus.emit({ type: 'diag', connId: null, level: 'info', source: 'test', message: 'first' });
      bus.emit({ type: 'diag', connId: null, level: 'info', source: 'test', message: 'second' });
      await new Promise((r) => setImmediate(r)); // the lines of this turn are written together
      bus.emit({ type: 'diag', connId: null, level: 'info', source: 'test', message: 'third' });
      await new Promise((r) => setImmediate(r));
      const diags = seen.filter((e) => e.type === 'diag' && e.source === 'sink');
      expect(diags).toHaveLength(1);
      expect(diags[0]).toMatchObject({
        level: 'error',
        message: expect.stringMatching(/\/dev\/full.*ENOSPC|no space/i),
      });
      expect(sink.error).toMatch(/ENOSPC|no space/i);
      expect(seen.filter((e) => e.type === 'diag' && e.source === 'test')).toHaveLength(3);
      await sink.close();
    },
  );
});
