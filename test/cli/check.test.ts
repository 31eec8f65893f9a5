// `mitm-lab check` as a real process on events files a real proxy wrote: done / not done,
// the hint for the first missing checkpoint, --json, a file still being written, and files that
// are not events files (exit 2, a sentence, never a stack trace).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa } from '../../src/ca/index.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import { EXERCISES } from '../../src/lessons/index.ts';
import { startLabProxy } from '../lab/support/lab-proxy.ts';
import { dumpDom, hasChromium } from '../support/chromium.ts';
import { runCli } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-check-');
let lab: RunningLab;
let events: ProxyEvent[] = [];
const file = (name: string) => path.join(tmp, name);
const jsonl = (list: ProxyEvent[]) => list.map((e) => JSON.stringify(e)).join('\n') + '\n';

beforeAll(async () => {
  if (!hasTool('curl')) return;
  const ca = await openCa({ dir: path.join(tmp, 'ca') });
  lab = await startLab({ dir: path.join(tmp, 'lab') });
  const p = await startLabProxy(ca, lab);
  try {
    const r = await runTool('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-x',
      p.proxy.url,
      '-d',
      'user=alice',
      '-d',
      'password=correct-horse-battery-staple',
      'http://bank.test/login',
    ]);
    expect(r.code).toBe(0);
    await waitFor(() => p.events.some((e) => e.type === 'conn.close'), 'the login recorded');
    events = p.events.slice();
  } finally {
    await p.proxy.close();
  }
  writeFileSync(file('login.jsonl'), jsonl(events));
});
afterAll(async () => {
  await lab?.close();
  cleanup();
});

describe.skipIf(!hasTool('curl'))('mitm-lab check', () => {
  it('exercise 1 after an HTTP login: two of three ticked, the next hint, exit 1', async () => {
    const r = await runCli(['check', '1', '--events', file('login.jsonl')]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('Exercise 1: A login over HTTP, sniffed  2/3');
    expect(r.stdout).toContain('[x] a password seen over plain HTTP');
    expect(r.stdout).toContain('[x] a session cookie seen over plain HTTP');
    expect(r.stdout).toContain("[ ] a browser's page over plain HTTP");
    expect(r.stdout).toContain('next: open http://bank.test/ in a browser');
  });

  it("fills a hint's {proxy} with the proxy the file names, and {labRoot} with the lab root's file", async () => {
    const listening = events.find((e) => e.type === 'proxy.listening')!;
    expect(listening.type).toBe('proxy.listening');
    const port = listening.type === 'proxy.listening' ? listening.port : 0;
    const two = await runCli(['check', '2', '--events', file('login.jsonl')]);
    expect(two.stdout).toContain(`curl -x http://127.0.0.1:${port}`);
    expect(two.stdout).not.toMatch(/\{proxy\}|\{labRoot\}|\{ca\}/);
    const json = await runCli(['check', '2', '--events', file('login.jsonl'), '--json']);
    expect(json.stdout).not.toContain('{proxy}');
  });

  it('--json: one object in the documented shape', async () => {
    const r = await runCli(['check', '1', '--events', file('login.jsonl'), '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { exercises: Array<Record<string, unknown>> };
    expect(j.exercises).toHaveLength(1);
    const ex = j.exercises[0]!;
    expect(Object.keys(ex).sort()).toEqual(['checkpoints', 'done', 'id', 'title']);
    expect(ex).toMatchObject({ id: '1', done: false });
    const cps = ex.checkpoints as Array<Record<string, unknown>>;
    expect(Object.keys(cps[0]!).sort()).toEqual(['done', 'hint', 'id', 'title']);
    expect(cps.map((c) => c.done)).toEqual([true, true, false]);
  });

  it('without N: one line per exercise, exit 1 until every exercise is done', async () => {
    const r = await runCli(['check', '--events', file('login.jsonl')]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(EXERCISES.length);
    expect(lines[0]).toBe('Exercise 1: A login over HTTP, sniffed  2/3');
    expect(lines[1]).toMatch(/^Exercise 2: .* 0\/3$/);
  });

  it.skipIf(!hasChromium)(
    'exit 0 when the exercise is complete (curl and a real Chromium)',
    async () => {
      const ca = await openCa({ dir: path.join(tmp, 'ca') });
      const p = await startLabProxy(ca, lab);
      try {
        await dumpDom(tmp, p.proxy.port, 'http://bank.test/login');
        await waitFor(() => p.events.some((e) => e.type === 'conn.close'), 'the page recorded');
        writeFileSync(file('complete.jsonl'), jsonl([...events, ...p.events]));
      } finally {
        await p.proxy.close();
      }
      const r = await runCli(['check', '1', '--events', file('complete.jsonl')]);
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toContain('3/3  done');
    },
  );

  it('tolerates a last line cut short (a proxy still writing), and says so', async () => {
    const text = jsonl(events);
    writeFileSync(file('growing.jsonl'), text + JSON.stringify(events[0]).slice(0, 25));
    const r = await runCli(['check', '1', '--events', file('growing.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('2/3');
    expect(r.stdout).toContain('the last line of the file was cut short');
  });

  it('usage errors exit 2 with a sentence, never a stack trace', async () => {
    writeFileSync(file('notes.txt'), 'these are my notes\nnot events\n');
    writeFileSync(file('other.jsonl'), '{"hello":"world"}\n');
    const cases: Array<[string[], string]> = [
      [['check', '42', '--events', file('login.jsonl')], 'there is no exercise "42"'],
      [['check', '--events', file('missing.jsonl')], 'there is no such file'],
      [['check', '--events', file('notes.txt')], 'line 1 is not JSON'],
      [['check', '--events', file('other.jsonl')], 'line 1 is not a mitm-lab event'],
      [['check'], 'check needs --events FILE'],
    ];
    for (const [args, words] of cases) {
      const r = await runCli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(words);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
