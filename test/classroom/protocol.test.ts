// The classroom protocol as data: docs/classroom.md documents exactly the fields a student sends,
// and the parser takes well-formed states only.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CLASSROOM_PROTOCOL,
  parseStudentMessage,
  STUDENT_STATE_FIELDS,
  Roster,
  type StudentState,
} from '../../src/classroom/index.ts';

const DOC = readFileSync(path.resolve(import.meta.dirname, '../../docs/classroom.md'), 'utf8');

const good = (over: Partial<StudentState> = {}): StudentState => ({
  type: 'state',
  protocol: CLASSROOM_PROTOCOL,
  name: 'Ada',
  seq: 1,
  run: 'abc123',
  done: ['1.password-over-http'],
  outcomes: { plaintext: 1, decrypted: 0, refused: 0, tunnelled: 0 },
  last: 'plaintext',
  ...over,
});

describe('the classroom protocol', () => {
  it('docs/classroom.md documents exactly the fields of a state', () => {
    const section = DOC.slice(DOC.indexOf('## What is sent'));
    const documented = [...section.matchAll(/^\| `([a-z]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual([...STUDENT_STATE_FIELDS]);
    expect(Object.keys(good()).sort()).toEqual([...STUDENT_STATE_FIELDS].sort());
  });

  it('parses a well-formed state, and nothing else', () => {
    expect(parseStudentMessage(JSON.stringify(good()))).toEqual(good());
    for (const bad of [
      'not json',
      JSON.stringify({ ...good(), type: 'hello' }),
      JSON.stringify({ ...good(), protocol: 2 }),
      JSON.stringify({ ...good(), name: '' }),
      JSON.stringify({ ...good(), name: '\x1b[2Jevil' }), // a terminal escape in a name
      JSON.stringify({ ...good(), name: 'x'.repeat(33) }),
      JSON.stringify({ ...good(), done: ['bank.test/login'] }),
      JSON.stringify({
        ...good(),
        outcomes: { plaintext: -1, decrypted: 0, refused: 0, tunnelled: 0 },
      }),
      JSON.stringify({ ...good(), last: 'secret' }),
      JSON.stringify({ ...good(), seq: 0 }),
      JSON.stringify(good()).padEnd(17 * 1024, ' '),
    ])
      expect(parseStudentMessage(bad), bad.slice(0, 80)).toBeNull();
  });
});

describe('Roster', () => {
  const at = (s: number) => new Date(1_000_000 + s * 1000).toISOString();
  it('keeps the newest state of a run, a new run replaces it, and left marks a row gone', () => {
    const r = new Roster();
    r.apply({
      at: at(0),
      kind: 'state',
      state: good({ seq: 2, done: ['1.password-over-http', '1.cookie-over-http'] }),
    });
    r.apply({ at: at(1), kind: 'state', state: good({ seq: 1, done: [] }) }); // late, older: ignored
    expect(r.cells(r.get('Ada')!)[0]).toEqual({ id: '1', done: 2, total: 3 });
    r.apply({ at: at(2), kind: 'left', name: 'Ada', why: 'stalled' });
    expect(r.get('Ada')!.connected).toBe(false);
    r.apply({ at: at(3), kind: 'state', state: good({ run: 'new', seq: 1, done: [] }) });
    expect(r.get('Ada')!.connected).toBe(true);
    expect(r.cells(r.get('Ada')!)[0]!.done).toBe(0); // the restarted run's state wins
    expect(r.totals()[0]).toEqual({ id: '1', complete: 0, students: 1 });
  });
});
