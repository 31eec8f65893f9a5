// The instructor's grid on a headless blessed screen: rows per student with done/total per
// exercise, totals, the join page with its QR code, a student's checkpoints and hints on Enter,
// and at most 10 frames a second while states pour in.
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CLASSROOM_PROTOCOL, Roster, type StudentState } from '../../src/classroom/index.ts';
import { startClassroomUi, type RunningClassroomUi } from '../../src/ui/classroom.ts';
import { sleep } from '../support/wait.ts';

const open: RunningClassroomUi[] = [];
afterEach(() => {
  for (const u of open.splice(0)) u.destroy();
});

function ui(roster: Roster, onFrame?: () => void) {
  const input = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: () => unknown };
  input.isTTY = true;
  input.setRawMode = () => input;
  const output = new Writable({ write: (_c, _e, cb) => cb() }) as Writable & {
    isTTY: boolean;
    columns: number;
    rows: number;
  };
  output.isTTY = true;
  output.columns = 120;
  output.rows = 40;
  const u = startClassroomUi({
    roster,
    joinCommand: "npx mitm-lab start --classroom 'ws://192.168.1.10:4000/?token=T' --name NAME",
    joinUrl: 'ws://192.168.1.10:4000/?token=T',
    source: 'listening on 0.0.0.0:4000 (LAN)',
    stdin: input,
    stdout: output,
    ...(onFrame ? { onFrame } : {}),
  });
  open.push(u);
  const press = async (k: string) => {
    input.write(k);
    await sleep(20);
  };
  const screen = () => {
    u.redraw();
    return u.text().join('\n');
  };
  return { u, press, screen };
}

const state = (name: string, seq: number, done: string[]): StudentState => ({
  type: 'state',
  protocol: CLASSROOM_PROTOCOL,
  name,
  seq,
  run: `r-${name}`,
  done,
  outcomes: { plaintext: 1, decrypted: done.length > 2 ? 1 : 0, refused: 0, tunnelled: 0 },
  last: done.length > 2 ? 'decrypted' : 'plaintext',
});
const at = () => new Date().toISOString();

describe('the classroom grid', () => {
  it('shows the join page with a QR code while nobody has joined', () => {
    const { screen } = ui(new Roster());
    const s = screen();
    expect(s).toContain('Join the class');
    expect(s).toContain(
      "npx mitm-lab start --classroom 'ws://192.168.1.10:4000/?token=T' --name NAME",
    );
    expect(s).toMatch(/[█▄▀]{7}/); // the QR code's finder pattern
  });

  it('a row per student, done/total per exercise, last outcome in words, totals; Enter: hints', async () => {
    const roster = new Roster();
    roster.apply({
      at: at(),
      kind: 'state',
      state: state('Ada', 1, ['1.password-over-http', '1.cookie-over-http', '1.browser-over-http']),
    });
    roster.apply({ at: at(), kind: 'state', state: state('Grace', 1, ['1.password-over-http']) });
    const { screen, press } = ui(roster);
    let s = screen();
    expect(s).toMatch(/Ada\s+3\/3\s+0\/3/);
    expect(s).toMatch(/Grace\s+1\/3\s+0\/3/);
    expect(s).toContain('HTTPS decrypted: their client trusts the CA');
    expect(s).toContain('complete: Ex 1 1/2');
    await press('j');
    await press('\r');
    s = screen();
    expect(s).toContain('Exercise 1: A login over HTTP, sniffed');
    expect(s).toContain('[x] a password seen over plain HTTP');
    expect(s).toMatch(/hint: the login answer over plain HTTP sets a cookie/);
  });

  it('draws at most 10 frames a second while states pour in', async () => {
    const roster = new Roster();
    let frames = 0;
    ui(roster, () => frames++);
    await sleep(200);
    const start = frames;
    const t0 = Date.now();
    for (let i = 0; i < 2000; i++) {
      roster.apply({ at: at(), kind: 'state', state: state(`s${i % 200}`, i + 1, []) });
      if (i % 20 === 0) await sleep(10);
    }
    await sleep(1000);
    const seconds = (Date.now() - t0) / 1000;
    expect(frames - start).toBeGreaterThan(0);
    expect((frames - start) / seconds).toBeLessThanOrEqual(10.5);
  });
});
