// The UI on the real engine's events, in process: a real proxy (temp CA), the real lab, real
// curl, and the headless blessed screen. The lesson an instructor narrates: a password over
// HTTP, HTTPS refused by a client that does not trust the CA, HTTPS decrypted for one that does.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import { EventBus } from '../../src/events/bus.ts';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import { startProxy, type RunningProxy } from '../../src/proxy/index.ts';
import { FlowStore } from '../../src/store/index.ts';
import { headless, type Harness } from './harness.ts';

function curl(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-o', '/dev/null', '--max-time', '10', ...args], (err) => {
      resolve(err ? Number((err as { code?: number }).code ?? 1) : 0);
    });
  });
}

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

let dir: string;
let ca: Ca;
let lab: RunningLab;
let proxy: RunningProxy;
let store: FlowStore;
let h: Harness;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mitm-lab-ui-'));
  ca = await openCa({ dir });
  lab = await startLab({ dir: path.join(dir, 'lab') });
  const bus = new EventBus();
  store = new FlowStore();
  bus.on((e) => store.apply(e));
  proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    mode: 'auto',
    ca,
    bus,
    resolve: lab.resolve,
    upstreamCa: [lab.rootPem],
  });
  h = headless(store, { cols: 120, rows: 50, controls: proxy.controls });
}, 60_000);

afterAll(async () => {
  h?.close();
  await proxy?.close();
  await lab?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the UI on the real engine', () => {
  it('shows a login over plain HTTP with the password on the wire (hidden until r)', async () => {
    const code = await curl([
      '-x',
      proxy.url,
      '-d',
      'user=alice&password=hunter2',
      'http://bank.test/login',
    ]);
    expect(code).toBe(0);
    await until(() =>
      store.all().some((f) => f.badge === 'HTTP plaintext' && f.conn.closed !== null),
    );
    await h.press('home', '1');
    let s = h.screen();
    expect(s).toMatch(/HTTP plaintext\s+bank\.test\s+POST\s+\/login/);
    expect(s).toContain('POST http://bank.test/login HTTP/1.1'); // absolute form, to a proxy
    expect(s).toContain('password=[hidden 7]');
    await h.press('r');
    s = h.screen();
    expect(s).toContain('password=hunter2');
    await h.press('r');
  });

  it('shows HTTPS refused by curl without the CA, with alert 48 explained', async () => {
    const code = await curl(['-x', proxy.url, 'https://bank.test/']);
    expect(code).toBe(60);
    await until(() => store.all().some((f) => f.badge === 'HTTPS refused'));
    await h.press('end', '4');
    const s = h.screen();
    expect(s).toMatch(/HTTPS refused\s+bank\.test\s+TLS\s+alert 48 unknown_ca/);
    expect(s).toContain('Refused: unknown CA (alert 48)');
    expect(s).toContain('NET::ERR_CERT_AUTHORITY_INVALID');
    await h.press('2');
    expect(h.screen()).toContain('Nothing: the proxy never held the keys.');
  });

  it('after f (forget), shows HTTPS decrypted for a client that trusts the CA, both certificates', async () => {
    await h.press('f');
    expect(h.screen()).toContain('forgot 1 refused host');
    const code = await curl(['-x', proxy.url, '--cacert', ca.certPath, 'https://bank.test/']);
    expect(code).toBe(0);
    await until(() =>
      store.all().some((f) => f.badge === 'HTTPS decrypted' && f.response !== null),
    );
    await h.press('end', '3');
    let s = h.screen();
    expect(s).toMatch(/HTTPS decrypted\s+bank\.test\s+GET\s+\/\s+200/);
    expect(s).toContain(ca.name);
    expect(s).toMatch(/same issuer\s+no/);
    expect(s).toMatch(/same key\s+no/);
    await h.press('1');
    s = h.screen();
    expect(s).toMatch(/SNI\s+bank\.test/);
    expect(s).toMatch(/ClientHello/);
    await h.press('5');
    expect(h.screen()).toMatch(/TLS handshake\s+[\d.]+ ms/);
  });

  it('cycles the real proxy mode with m', async () => {
    await h.press('m');
    expect(proxy.controls.getMode()).toBe('intercept');
    expect(h.screen()).toContain('mode intercept');
    await h.press('m', 'm');
    expect(proxy.controls.getMode()).toBe('auto');
  });
});
