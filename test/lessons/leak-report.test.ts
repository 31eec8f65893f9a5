// What HTTPS does not hide, from a real run: curl over plain HTTP and over HTTPS in EAVESDROP
// mode (the proxy forges nothing), TLS 1.3 and TLS 1.2, through the real proxy in front of the
// real lab; then the report from the events alone, and `mitm-lab report` on the file.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa } from '../../src/ca/index.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import { leakReport } from '../../src/lessons/index.ts';
import { startLabProxy } from '../lab/support/lab-proxy.ts';
import { runCli } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-report-');
let lab: RunningLab;
let events: ProxyEvent[] = [];
const PASSWORD = 'correct-horse-battery-staple';

beforeAll(async () => {
  if (!hasTool('curl')) return;
  const ca = await openCa({ dir: path.join(tmp, 'ca') });
  lab = await startLab({ dir: path.join(tmp, 'lab') });
  const root = path.join(tmp, 'root.pem');
  writeFileSync(root, lab.rootPem);
  const p = await startLabProxy(ca, lab, { mode: 'eavesdrop' });
  try {
    const curl = (...a: string[]) =>
      runTool('curl', ['-sS', '-o', '/dev/null', '-x', p.proxy.url, ...a]);
    expect(
      (await curl('-d', 'user=alice', '-d', `password=${PASSWORD}`, 'http://bank.test/login')).code,
    ).toBe(0);
    expect(
      (
        await curl(
          '--cacert',
          root,
          '-d',
          'user=alice',
          '-d',
          `password=${PASSWORD}`,
          'https://bank.test/login',
        )
      ).code,
    ).toBe(0);
    expect(
      (await curl('--cacert', root, '--tls-max', '1.2', 'https://expired.bank.test/')).code,
    ).toBe(60);
    await waitFor(
      () => p.events.filter((e) => e.type === 'conn.close').length >= 3,
      'three connections closed',
      { timeoutMs: 5000 },
    );
    events = p.events.slice();
  } finally {
    await p.proxy.close();
  }
  writeFileSync(
    path.join(tmp, 'run.jsonl'),
    events.map((e) => JSON.stringify(e)).join('\n') + '\n',
  );
});
afterAll(async () => {
  await lab?.close();
  cleanup();
});

describe.skipIf(!hasTool('curl'))('the leak report (eavesdrop mode: nothing decrypted)', () => {
  it('names every host, how it was seen, and its traffic, although HTTPS hid the content', () => {
    const r = leakReport(events);
    const bank = r.hosts.find((h) => h.host === 'bank.test')!;
    expect(bank.seenVia).toEqual(
      expect.arrayContaining(['plain-HTTP URL', 'Host header', 'CONNECT target', 'SNI']),
    );
    expect(bank.connections).toBe(2);
    expect(bank.bytesUp).toBeGreaterThan(500);
    expect(bank.bytesDown).toBeGreaterThan(500);
    expect(bank.tlsVersions).toContain('TLS 1.3');
    expect(bank.ports).toEqual(expect.arrayContaining([80, 443]));
    expect(bank.clients).toEqual(['127.0.0.1']);
    const expired = r.hosts.find((h) => h.host === 'expired.bank.test')!;
    expect(expired.seenVia).toEqual(['CONNECT target', 'SNI']);
    expect(expired.requests).toBe(0);
    expect(expired.tlsVersions).toEqual(['TLS 1.2']);
  });

  it('lists the password and the cookie of plain HTTP only, masked unless revealed', () => {
    const r = leakReport(events);
    const kinds = r.plaintextSecrets.map((s) => `${s.host} ${s.kind}`);
    expect(kinds).toEqual(['bank.test password', 'bank.test set-cookie']);
    const pw = r.plaintextSecrets[0]!;
    expect(pw.value).not.toContain(PASSWORD);
    expect(pw.where).toBe('POST http://bank.test/login (body field password)');
    expect(leakReport(events, true).plaintextSecrets[0]!.value).toBe(PASSWORD);
  });

  it('shows the certificate that crossed in clear in TLS 1.2, and none of TLS 1.3', () => {
    const r = leakReport(events);
    expect(r.certificatesInClear.map((c) => c.host)).toEqual(
      expect.arrayContaining(['expired.bank.test']),
    );
    expect(r.certificatesInClear.every((c) => c.host === 'expired.bank.test')).toBe(true);
    expect(r.certificatesInClear[0]!.subject).toContain('expired.bank.test');
  });

  it('mitm-lab report prints it, and --json in the documented shape', async () => {
    const file = path.join(tmp, 'run.jsonl');
    const t = await runCli(['report', '--events', file]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain('bank.test  ports');
    expect(t.stdout).toContain('seen via');
    expect(t.stdout).not.toContain(PASSWORD);
    const j = await runCli(['report', '--events', file, '--json']);
    const o = JSON.parse(j.stdout) as Record<string, Array<Record<string, unknown>>>;
    expect(Object.keys(o).sort()).toEqual(['certificatesInClear', 'hosts', 'plaintextSecrets']);
    for (const k of [
      'host',
      'seenVia',
      'connections',
      'requests',
      'bytesUp',
      'bytesDown',
      'tlsVersions',
    ])
      expect(Object.keys(o.hosts![0]!)).toContain(k);
    expect(Object.keys(o.plaintextSecrets![0]!)).toEqual(
      expect.arrayContaining(['host', 'kind', 'where']),
    );
    expect(Object.keys(o.certificatesInClear![0]!)).toEqual(
      expect.arrayContaining(['host', 'subject', 'issuer']),
    );
    const bad = await runCli(['report', '--events', path.join(tmp, 'nope.jsonl')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('there is no such file');
  });
});
