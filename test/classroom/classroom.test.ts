// The classroom with real students: `mitm-lab start --headless --classroom URL --name NAME`
// processes and real curl against an in-process classroom server on 127.0.0.1; what is sent
// (nothing of the traffic itself), the tick within a second, a wrong token, 1,000 bad joins
// while a student works, a stalled student dropped without holding up the others, and a
// classroom restart recovered.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLASSROOM_PROTOCOL,
  Roster,
  startClassroomServer,
  type ClassRecord,
  type ClassroomServer,
} from '../../src/classroom/index.ts';
import { WebSocket } from '../../src/util/ws.ts';
import { curlVia, LAB_LOGIN, startHeadlessLab, type CliProcess } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';
import { waitFor } from '../support/wait.ts';

const CURL = hasTool('curl');
const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-classroom-'));
const TOKEN = 'classroom-test-token-0123456789';
const records: ClassRecord[] = [];
let roster = new Roster();
let server: ClassroomServer;
let port = 0;
const students: CliProcess[] = [];

async function startServer(pingMs = 500): Promise<void> {
  server = await startClassroomServer({
    host: '127.0.0.1',
    port,
    token: TOKEN,
    pingMs,
    onRecord: (r) => {
      records.push(r);
      roster.apply(r);
    },
  });
  port = server.port;
}

/** A real student: `start --headless` reporting to the classroom; resolves to its proxy URL. */
async function student(name: string): Promise<string> {
  const lab = await startHeadlessLab([
    '--events',
    path.join(dir, `${name}.jsonl`),
    '--ca-dir',
    path.join(dir, 'ca'),
    '--classroom',
    `ws://127.0.0.1:${port}/?token=${TOKEN}`,
    '--name',
    name,
  ]);
  students.push(lab.process);
  return lab.proxyUrl;
}

beforeAll(async () => {
  await startServer();
});
afterAll(async () => {
  for (const s of students) await s.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const done = (name: string): string[] => [...(roster.get(name)?.done ?? [])];

describe.skipIf(!CURL)('the classroom with real students', () => {
  it('says what leaves the machine, ticks within a second, and sends nothing of the traffic', async () => {
    const proxy = await student('Ada');
    const s = students.at(-1)!;
    // The one line, before anything is sent.
    expect(s.err()).toContain(
      'classroom: sending to 127.0.0.1:' +
        port +
        ' as "Ada" only which lab checkpoints are done and counts of flows by badge',
    );
    await waitFor(() => roster.get('Ada') !== undefined, 'Ada joined', { timeoutMs: 15_000 });
    const r = await curlVia(proxy, ...LAB_LOGIN, 'http://bank.test/login');
    expect(r.code).toBe(0);
    await waitFor(() => done('Ada').includes('1.password-over-http'), 'the tick', {
      timeoutMs: 10_000,
    });
    const ticked = records.find(
      (x) =>
        x.kind === 'state' &&
        x.state.name === 'Ada' &&
        x.state.done.includes('1.password-over-http'),
    )!;
    // Within a second of the student's checkpoint: from the event that ticked it in the
    // student's own proxy (its events file; one machine, one clock) to the classroom's record.
    const login = readFileSync(path.join(dir, 'Ada.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; at: string; method?: string })
      .find((e) => e.type === 'http.request' && e.method === 'POST')!;
    expect(Date.parse(ticked.at) - Date.parse(login.at)).toBeLessThan(1000);
    expect(roster.get('Ada')!.outcomes.plaintext).toBeGreaterThanOrEqual(1);
    expect(roster.get('Ada')!.last).toBe('plaintext');
    // Nothing of the traffic: no host, URL, header, cookie or password in any message.
    const sent = JSON.stringify(records.filter((x) => x.kind === 'state'));
    for (const secret of ['bank.test', 'http://', 'alice', 'correct-horse', 'session=', 'Cookie'])
      expect(sent).not.toContain(secret);
    for (const x of records)
      if (x.kind === 'state')
        expect(Object.keys(x.state).sort()).toEqual(
          ['done', 'last', 'name', 'outcomes', 'protocol', 'run', 'seq', 'type'].sort(),
        );
  }, 60_000);

  it('refuses a wrong token with a sentence, and 1,000 bad joins do not stop a working student', async () => {
    const bad = await new Promise<{ status: number; body: string }>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/?token=wrong`);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('error', () => undefined);
    });
    expect(bad.status).toBe(401);
    expect(bad.body).toContain('wrong or missing class token');
    const before = server.refused();
    const proxy = await student('Grace');
    await waitFor(() => roster.get('Grace') !== undefined, 'Grace joined', { timeoutMs: 15_000 });
    // 1,000 wrong-token joins, 50 at a time, while Grace logs in over plain HTTP.
    const attack = (async () => {
      for (let i = 0; i < 20; i++)
        await Promise.all(
          Array.from(
            { length: 50 },
            () =>
              new Promise<void>((resolve) => {
                const ws = new WebSocket(`ws://127.0.0.1:${port}/?token=guess${i}`);
                ws.on('error', () => resolve());
                ws.on('close', () => resolve());
                ws.on('unexpected-response', (_q, res) => {
                  res.resume();
                  resolve();
                });
              }),
          ),
        );
    })();
    const login = runTool('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-x',
      proxy,
      '-d',
      'password=x',
      'http://bank.test/login',
    ]);
    await Promise.all([attack, login]);
    expect(server.refused() - before).toBe(1000);
    await waitFor(() => done('Grace').includes('1.password-over-http'), 'Grace ticked', {
      timeoutMs: 10_000,
    });
  }, 90_000);

  it('drops a stalled student without holding up the others', async () => {
    // A student whose socket stops answering pings (autoPong off: a frozen laptop).
    const frozen = new WebSocket(`ws://127.0.0.1:${port}/?token=${TOKEN}`, { autoPong: false });
    await new Promise<void>((resolve, reject) => {
      frozen.on('open', () => resolve());
      frozen.on('error', reject);
    });
    frozen.send(
      JSON.stringify({
        type: 'state',
        protocol: CLASSROOM_PROTOCOL,
        name: 'Frozen',
        seq: 1,
        run: 'f1',
        done: [],
        outcomes: { plaintext: 0, decrypted: 0, refused: 0, tunnelled: 0 },
        last: null,
      }),
    );
    await waitFor(() => roster.get('Frozen')?.connected === true, 'Frozen joined');
    await waitFor(() => roster.get('Frozen')?.connected === false, 'Frozen dropped', {
      timeoutMs: 5000,
    });
    expect(
      records.some((r) => r.kind === 'left' && r.name === 'Frozen' && r.why === 'stalled'),
    ).toBe(true);
    // The real students stayed connected through it.
    expect(roster.get('Ada')!.connected).toBe(true);
    frozen.terminate();
  });

  it('recovers every student within 15 s of a classroom restart', async () => {
    const names = ['Ada', 'Grace'];
    const beforeRestart = new Map(names.map((n) => [n, done(n).sort()]));
    await server.close();
    const restartedAt = records.length;
    roster = new Roster(); // the restarted classroom knows nothing: the grid is rebuilt
    await startServer(); // same port, same token
    await waitFor(
      () =>
        names.every((n) =>
          records.slice(restartedAt).some((r) => r.kind === 'state' && r.state.name === n),
        ),
      'every student back',
      { timeoutMs: 15_000 },
    );
    for (const n of names) expect(done(n).sort()).toEqual(beforeRestart.get(n));
  }, 30_000);
});
