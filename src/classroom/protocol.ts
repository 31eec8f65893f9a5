// The classroom's wire protocol: what a student's mitm-lab sends to the instructor's classroom,
// over one WebSocket, one JSON text message each. It is the whole of what leaves a student's
// machine (docs/classroom.md, tested against this file): the student's chosen name, which lab
// checkpoints are done (their ids, e.g. `1.password-over-http`), counts of flows by badge and
// the badge of the last one. Never a URL, a header, a body, a secret, a host name or a key.

/** Bumped on an incompatible change. */
export const CLASSROOM_PROTOCOL = 1;

/** Flow counts by badge, as in the proxy UI's header. */
export interface OutcomeCounts {
  plaintext: number;
  decrypted: number;
  refused: number;
  tunnelled: number;
}

export type Badge = keyof OutcomeCounts;
export const BADGES: readonly Badge[] = ['plaintext', 'decrypted', 'refused', 'tunnelled'];

/**
 * A student's whole state, sent on connect and after every change (so a lost or reordered
 * message is repaired by the next one, and a restart on either side needs no replay).
 */
export interface StudentState {
  type: 'state';
  protocol: number;
  /** The name the student chose (`--name`): 1-32 printable characters. */
  name: string;
  /** Increases with every message of one student run; a new run starts again at 1. */
  seq: number;
  /** A random id of this student run: a restart is a new run of the same name. */
  run: string;
  /** Ids of the checkpoints done (since the student's last lab reset). */
  done: string[];
  outcomes: OutcomeCounts;
  /** The badge of the student's last flow, or null before the first. */
  last: Badge | null;
}

/** Close codes (4000-4999: applications, RFC 6455 §7.4.2). */
export const CLOSE_BAD_MESSAGE = 4002;
export const CLOSE_REPLACED = 4003;
export const CLOSE_STALLED = 4004;

/** Names: what a projector can show, nothing that could mangle a terminal. */
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._'-]{0,31}$/u;
/** Checkpoint ids as src/lessons defines them (`<exercise>.<name>`). */
const CHECKPOINT = /^\d{1,2}\.[a-z0-9-]{1,48}$/;
/** At most this many checkpoint ids in one message (every exercise's, with room to grow). */
const MAX_DONE = 200;

/** Is `name` acceptable as a student name? */
export function validName(name: string): boolean {
  return NAME.test(name);
}

/** Parse one message from a student; null for anything that is not a well-formed state. */
export function parseStudentMessage(data: string): StudentState | null {
  if (data.length > 16 * 1024) return null;
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const m = v as Record<string, unknown>;
  if (m['type'] !== 'state' || m['protocol'] !== CLASSROOM_PROTOCOL) return null;
  if (typeof m['name'] !== 'string' || !validName(m['name'])) return null;
  if (typeof m['seq'] !== 'number' || !Number.isSafeInteger(m['seq']) || m['seq'] < 1) return null;
  if (typeof m['run'] !== 'string' || !/^[\w-]{1,64}$/.test(m['run'])) return null;
  const done = m['done'];
  if (!Array.isArray(done) || done.length > MAX_DONE) return null;
  if (!done.every((d) => typeof d === 'string' && CHECKPOINT.test(d))) return null;
  const o = m['outcomes'] as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) return null;
  for (const b of BADGES)
    if (typeof o[b] !== 'number' || !Number.isSafeInteger(o[b]) || (o[b] as number) < 0)
      return null;
  const last = m['last'];
  if (last !== null && !BADGES.includes(last as Badge)) return null;
  return {
    type: 'state',
    protocol: CLASSROOM_PROTOCOL,
    name: m['name'],
    seq: m['seq'],
    run: m['run'],
    done: [...new Set(done as string[])],
    outcomes: {
      plaintext: o['plaintext'] as number,
      decrypted: o['decrypted'] as number,
      refused: o['refused'] as number,
      tunnelled: o['tunnelled'] as number,
    },
    last: last as Badge | null,
  };
}

/** Exactly the fields a StudentState has: the schema test holds docs/classroom.md to it. */
export const STUDENT_STATE_FIELDS = [
  'type',
  'protocol',
  'name',
  'seq',
  'run',
  'done',
  'outcomes',
  'last',
] as const;
