// `mitm-lab lab` prints a `mitm-lab proxy --resolve NAME:PORT=ADDRESS:PORT … --upstream-ca`
// command; pasted as printed (plus a free port), it really routes the lab names to that lab:
// HTTPS to bank.test is decrypted by the proxy (curl trusts the mitm CA), HTTP is served.
// Both are real processes under plain node, and curl is the client.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProxyEvent } from '../../src/events/types.ts';
import { spawnCli, type CliProcess } from '../support/cli.ts';
import { hasTool } from '../support/run.ts';
import { waitFor } from '../support/wait.ts';
import { curl, tempDir } from './helpers.ts';

/** Shell words of a pasted command: `\` + newline joins lines; '…' quotes. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  for (const m of text.replace(/\\\n/g, ' ').matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)) {
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : (m[2] ?? ''));
  }
  return words;
}

const hasCurl = hasTool('curl', ['--version']);

describe('the proxy command `mitm-lab lab` prints', () => {
  const dir = tempDir('lab-proxy');
  // Outputs may not go in the CA folder (issue 13): the events log gets a folder of its own.
  const out = tempDir('lab-proxy-out');
  const started: CliProcess[] = [];
  afterAll(async () => {
    for (const p of started) p.kill('SIGTERM');
    await Promise.all(started.map((p) => p.exited));
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it.skipIf(!hasCurl)(
    'routes every lab name to the running lab: HTTPS decrypted, HTTP served',
    async () => {
      const lab = spawnCli(['lab', '--ca-dir', dir]);
      started.push(lab);
      await lab.waitForOutput(/express these ports/, 'the lab listing', 20_000);
      const printed = /^ {2}(mitm-lab proxy \\\n(?:.*\\\n)*.*)$/m.exec(lab.out())?.[1];
      expect(printed, lab.out() + lab.err()).toBeDefined();
      const words = shellWords(printed!);
      expect(words.slice(0, 2)).toEqual(['mitm-lab', 'proxy']);
      expect(words).toContain('--upstream-ca');
      expect(words.filter((w) => /^bank\.test:(80|443)=127\.0\.0\.1:\d+$/.test(w))).toHaveLength(2);

      const events = path.join(out, 'events.jsonl');
      const proxy = spawnCli([...words.slice(1), '--listen', '127.0.0.1:0', '--events', events]);
      started.push(proxy);
      const [, url = ''] = await proxy.waitForOutput(
        /listening on (http:\/\/127\.0\.0\.1:\d+)/,
        'the proxy',
        20_000,
      );

      const caPem = path.join(dir, 'certs', 'ca.pem');
      const secure = await curl(['-x', url, '--cacert', caPem, 'https://bank.test/']);
      expect(secure.stderr).toBe('');
      expect(secure.stdout).toContain('<h1>bank.test</h1>');
      const plain = await curl(['-x', url, '-i', 'http://bank.test/']);
      expect(plain.stdout).toMatch(/^HTTP\/1\.1 200/);
      expect(plain.stdout).toContain('<h1>bank.test</h1>');

      // The HTTPS request was read by the proxy (decrypted), not tunnelled.
      const seen = (): ProxyEvent[] =>
        readFileSync(events, 'utf8')
          .split('\n')
          .flatMap((l) => {
            // The sink may be mid-line while the proxy runs: only whole lines count.
            try {
              return [JSON.parse(l) as ProxyEvent];
            } catch {
              return [];
            }
          });
      await waitFor(
        () => seen().filter((e) => e.type === 'http.response').length >= 2,
        'two responses in the events file',
        { timeoutMs: 10_000, intervalMs: 50 },
      );
      const requests = seen().filter((e) => e.type === 'http.request');
      expect(requests.map((e) => [e.url, e.visibility])).toEqual([
        ['https://bank.test/', 'proxy-only'],
        ['http://bank.test/', 'wire'],
      ]);
      expect(seen().some((e) => e.type === 'tunnel.summary')).toBe(false);
    },
  );
});
