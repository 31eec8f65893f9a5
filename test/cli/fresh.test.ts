// `--fresh`: a new session starts from a clean lab state. Without it the --events file is
// appended to (a student resumes where they were); with it the file is emptied first, so
// `mitm-lab check` counts only the new session. Real `mitm-lab start` processes, real curl.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { curlVia, LAB_LOGIN, runCli, startHeadlessLab } from '../support/cli.ts';
import { hasTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-fresh-');
afterAll(() => cleanup());
const events = path.join(tmp, 'lab.jsonl');

/** Run `start` headless on events, do `work` with its proxy URL, then stop it by SIGTERM. */
async function session(extra: string[], work: (proxy: string) => Promise<void>): Promise<void> {
  const lab = await startHeadlessLab([
    '--ca-dir',
    path.join(tmp, 'ca'),
    '--events',
    events,
    ...extra,
  ]);
  try {
    await work(lab.proxyUrl);
    lab.process.kill('SIGTERM');
    expect((await lab.process.exited).code).toBe(0);
  } finally {
    await lab.process.stop();
  }
}

const lines = () => readFileSync(events, 'utf8').trim().split('\n');
const listenings = () =>
  lines().filter((l) => (JSON.parse(l) as { type: string }).type === 'proxy.listening').length;

describe.skipIf(!hasTool('curl'))('start --fresh', () => {
  it('appends by default and empties the events file with --fresh', async () => {
    await session([], async (proxy) => {
      const r = await curlVia(proxy, ...LAB_LOGIN, 'http://bank.test/login');
      expect(r.code).toBe(0);
      await waitFor(() => readFileSync(events, 'utf8').includes('"http.response"'), 'the login');
    });
    const first = await runCli(['check', '1', '--events', events, '--json']);
    const ticked = (out: string) =>
      (
        JSON.parse(out) as { exercises: { checkpoints: { done: boolean }[] }[] }
      ).exercises[0]!.checkpoints.filter((c) => c.done).length;
    expect(ticked(first.stdout)).toBe(2);

    // A second session without --fresh resumes: the login still counts.
    await session([], async () => undefined);
    expect(listenings()).toBe(2);
    expect(ticked((await runCli(['check', '1', '--events', events, '--json'])).stdout)).toBe(2);

    // --fresh: only the new session is in the file, and nothing is ticked.
    await session(['--fresh'], async () => undefined);
    expect(listenings()).toBe(1);
    expect((JSON.parse(lines()[0]!) as { type: string }).type).toBe('proxy.listening');
    expect(ticked((await runCli(['check', '1', '--events', events, '--json'])).stdout)).toBe(0);
  }, 90_000);
});
