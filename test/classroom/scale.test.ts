// The classroom at class scale, as its own process (`mitm-lab classroom --headless --events`):
// 200 simulated students (real ws clients speaking the documented protocol) join within 5 s and
// each sends a checkpoint change every 2 s for 60 s. No message is lost — every student's final
// state in the grid (`classroom --replay FILE --json`, the same fold as the live grid) equals
// the last one it sent — and the classroom's peak RSS stays within 150 MB. The students run in
// this process, the classroom in its own.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLASSROOM_PROTOCOL, type StudentState } from '../../src/classroom/index.ts';
import { EXERCISES } from '../../src/lessons/index.ts';
import { WebSocket } from '../../src/util/ws.ts';
import { runCli, spawnCli } from '../support/cli.ts';
import { sleep } from '../support/wait.ts';

const STUDENTS = 200;
const JOIN_WITHIN_MS = 5000;
const EVERY_MS = 2000;
/** The 60 s; MITM_LAB_CLASS_SECONDS shortens it while working on the classroom. */
const DURATION_MS = Number(process.env['MITM_LAB_CLASS_SECONDS'] ?? 60) * 1000;
const MAX_RSS_KB = 150 * 1024;

const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-class-scale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHECKPOINTS = EXERCISES.flatMap((e) => e.checkpoints.map((c) => c.id));

/** Peak resident memory of a process, KiB (Linux /proc). */
function peakRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

describe.skipIf(process.platform !== 'linux')('the classroom at class scale', () => {
  it(
    `${STUDENTS} students, a change every 2 s: nothing lost, memory bounded`,
    async () => {
      const events = path.join(dir, 'class.jsonl');
      const classroom = spawnCli([
        'classroom',
        '--headless',
        '--listen',
        '127.0.0.1:0',
        '--events',
        events,
      ]);
      try {
        const url = (
          await classroom.waitForOutput(
            /'(ws:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)'/,
            'the join URL',
          )
        )[1]!;
        const last = new Map<string, StudentState>();
        const sockets: WebSocket[] = [];
        const send = (ws: WebSocket, s: StudentState) => {
          last.set(s.name, s);
          ws.send(JSON.stringify(s));
        };
        // Join: spread over JOIN_WITHIN_MS, each opening its socket and sending its first state.
        const started = Date.now();
        await Promise.all(
          Array.from({ length: STUDENTS }, async (_, i) => {
            await sleep((i * JOIN_WITHIN_MS * 0.8) / STUDENTS);
            const ws = new WebSocket(url);
            await new Promise<void>((resolve, reject) => {
              ws.once('open', () => resolve());
              ws.once('error', reject);
            });
            sockets.push(ws);
            send(ws, {
              type: 'state',
              protocol: CLASSROOM_PROTOCOL,
              name: `student-${String(i).padStart(3, '0')}`,
              seq: 1,
              run: `run${i}`,
              done: [],
              outcomes: { plaintext: 0, decrypted: 0, refused: 0, tunnelled: 0 },
              last: null,
            });
            (ws as WebSocket & { student?: number }).student = i;
          }),
        );
        expect(Date.now() - started).toBeLessThan(JOIN_WITHIN_MS + 2000);
        // Every EVERY_MS each student ticks one more checkpoint (and its counts move), until the end.
        const rounds = Math.floor(DURATION_MS / EVERY_MS);
        for (let round = 1; round <= rounds; round++) {
          const tick = Date.now();
          for (const ws of sockets) {
            const i = (ws as WebSocket & { student?: number }).student!;
            const name = `student-${String(i).padStart(3, '0')}`;
            const prev = last.get(name)!;
            const next = CHECKPOINTS[(i + round) % CHECKPOINTS.length]!;
            send(ws, {
              ...prev,
              seq: prev.seq + 1,
              done: prev.done.includes(next)
                ? prev.done.filter((d) => d !== next)
                : [...prev.done, next],
              outcomes: { ...prev.outcomes, plaintext: prev.outcomes.plaintext + 1 },
              last: 'plaintext',
            });
          }
          await sleep(Math.max(0, EVERY_MS - (Date.now() - tick)));
        }
        // Let the last messages land (the record is written as they arrive), then read it back.
        await sleep(500);
        const rss = peakRssKb(classroom.pid);
        for (const ws of sockets) ws.close();
        classroom.kill('SIGTERM');
        expect((await classroom.exited).code).toBe(0);

        const r = await runCli(['classroom', '--replay', events, '--json']);
        expect(r.code, r.stderr).toBe(0);
        const grid = JSON.parse(r.stdout) as {
          students: { name: string; done: string[]; outcomes: StudentState['outcomes'] }[];
        };
        expect(grid.students).toHaveLength(STUDENTS);
        for (const row of grid.students) {
          const sent = last.get(row.name)!;
          expect(row.done, row.name).toEqual([...sent.done].sort());
          expect(row.outcomes, row.name).toEqual(sent.outcomes);
        }
        expect(rss, `classroom peak RSS ${Math.round(rss / 1024)} MB`).toBeLessThanOrEqual(
          MAX_RSS_KB,
        );
      } finally {
        await classroom.stop();
      }
    },
    DURATION_MS + 60_000,
  );
});
