// The class as the instructor sees it, folded from the class record alone (live from the
// server, or from a `--events` file with `--replay`): one row per student name with their
// checkpoints, outcome counts, last badge and when they were last heard from.
import { EXERCISES, type Exercise } from '../lessons/index.ts';
import type { Badge, OutcomeCounts, StudentState } from './protocol.ts';

/** One line of the class record (`mitm-lab classroom --events FILE`). */
export type ClassRecord =
  | { at: string; kind: 'open'; listen: string }
  | { at: string; kind: 'state'; state: StudentState }
  | { at: string; kind: 'left'; name: string; why: string };

export interface StudentRow {
  name: string;
  run: string;
  seq: number;
  done: ReadonlySet<string>;
  outcomes: OutcomeCounts;
  last: Badge | null;
  /** When the student was last heard from (ms since the epoch). */
  lastSeen: number;
  connected: boolean;
}

/** Per exercise: done/total checkpoints of one student. */
export interface ExerciseCell {
  id: string;
  done: number;
  total: number;
}

/** What the instructor reads for a student's last badge. */
export const LAST_WORDS: Record<Badge, string> = {
  plaintext: 'HTTP plaintext: anyone on the path reads it',
  decrypted: 'HTTPS decrypted: their client trusts the CA',
  refused: 'HTTPS refused: validation stopped the forgery',
  tunnelled: 'HTTPS tunnelled: only metadata visible',
};

export class Roster {
  private readonly rows = new Map<string, StudentRow>();
  /** Changes with every change (the UI redraws on it). */
  version = 0;

  constructor(private readonly exercises: readonly Exercise[] = EXERCISES) {}

  apply(r: ClassRecord): void {
    if (r.kind === 'open') return;
    const at = Date.parse(r.at);
    if (r.kind === 'left') {
      const row = this.rows.get(r.name);
      if (row && row.connected) {
        row.connected = false;
        this.version++;
      }
      return;
    }
    const s = r.state;
    const row = this.rows.get(s.name);
    // A new run (the student restarted) replaces the old; within a run, only newer messages.
    if (row && row.run === s.run && s.seq <= row.seq) {
      row.lastSeen = Math.max(row.lastSeen, at);
      row.connected = true;
      return;
    }
    this.rows.set(s.name, {
      name: s.name,
      run: s.run,
      seq: s.seq,
      done: new Set(s.done),
      outcomes: { ...s.outcomes },
      last: s.last,
      lastSeen: at,
      connected: true,
    });
    this.version++;
  }

  /** Every student, by name. */
  students(): StudentRow[] {
    return [...this.rows.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): StudentRow | undefined {
    return this.rows.get(name);
  }

  get size(): number {
    return this.rows.size;
  }

  /** One student's done/total per exercise. */
  cells(row: StudentRow): ExerciseCell[] {
    return this.exercises.map((ex) => ({
      id: ex.id,
      done: ex.checkpoints.filter((c) => row.done.has(c.id)).length,
      total: ex.checkpoints.length,
    }));
  }

  /** Per exercise: how many students have every checkpoint of it. */
  totals(): Array<{ id: string; complete: number; students: number }> {
    const all = this.students();
    return this.exercises.map((ex) => ({
      id: ex.id,
      complete: all.filter((r) => ex.checkpoints.every((c) => r.done.has(c.id))).length,
      students: all.length,
    }));
  }

  /** The grid as JSON (`classroom --replay FILE --json`). */
  toJSON(): {
    students: Array<{
      name: string;
      connected: boolean;
      lastSeen: string;
      last: Badge | null;
      outcomes: OutcomeCounts;
      exercises: ExerciseCell[];
      done: string[];
    }>;
    totals: Array<{ id: string; complete: number; students: number }>;
  } {
    return {
      students: this.students().map((r) => ({
        name: r.name,
        connected: r.connected,
        lastSeen: new Date(r.lastSeen).toISOString(),
        last: r.last,
        outcomes: r.outcomes,
        exercises: this.cells(r),
        done: [...r.done].sort(),
      })),
      totals: this.totals(),
    };
  }
}
