// The exercises' checkpoints from real clients: each exercise's steps played with curl (and
// headless Chromium where the step is a browser's) through the real proxy in front of the real
// lab, then folded from the events alone. A run that skips or falsifies a step leaves exactly
// that checkpoint open.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { BANK_TAMPER_RULES, LAB_ROOT_CN, startLab, type RunningLab } from '../../src/lab/index.ts';
import type { ProxyOptions } from '../../src/proxy/index.ts';
import { parseProxyUrl, runVictim } from '../../src/victim/index.ts';
import {
  EXERCISES,
  foldProgress,
  LessonProgress,
  uncheckedCheckpoints,
} from '../../src/lessons/index.ts';
import { startLabProxy, type LabProxy } from '../lab/support/lab-proxy.ts';
import { dumpDom, hasChromium } from '../support/chromium.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-lessons-');
let lab: RunningLab;
let ca: Ca;
let labRoot: string;
let mitmCa: string;

beforeAll(async () => {
  ca = await openCa({ dir: path.join(tmp, 'ca') });
  lab = await startLab({ dir: path.join(tmp, 'lab') });
  labRoot = path.join(tmp, 'lab-root.pem');
  writeFileSync(labRoot, lab.rootPem);
  mitmCa = path.join(tmp, 'both.pem');
  writeFileSync(mitmCa, `${lab.rootPem.trim()}\n${ca.certPem.trim()}\n`);
});
afterAll(async () => {
  await lab?.close();
  cleanup();
});

const LOGIN = ['-d', 'user=alice', '-d', 'password=correct-horse-battery-staple'];
const curl = (p: LabProxy, ...args: string[]) =>
  runTool('curl', ['-sS', '-o', '/dev/null', '--max-time', '10', '-x', p.proxy.url, ...args]);

/**
 * Play `steps` through a fresh proxy (auto mode unless `mode` says otherwise); the events, once
 * every connection closed.
 */
async function play(
  steps: (p: LabProxy) => Promise<void>,
  mode: 'auto' | 'eavesdrop' | 'intercept' = 'auto',
  extra: Partial<ProxyOptions> = {},
): Promise<ProxyEvent[]> {
  const p = await startLabProxy(ca, lab, { mode, ...extra });
  try {
    await steps(p);
    await waitFor(
      () => {
        const opened = p.events.filter((e) => e.type === 'conn.open').length;
        return opened > 0 && p.events.filter((e) => e.type === 'conn.close').length >= opened;
      },
      'every connection closed',
      { timeoutMs: 10_000 },
    );
    return p.events.slice();
  } finally {
    await p.proxy.close();
  }
}

function doneIds(events: ProxyEvent[], exercise: string): string[] {
  const ex = foldProgress(events).find((e) => e.id === exercise)!;
  return ex.checkpoints.filter((c) => c.done).map((c) => c.id);
}

describe('the exercises as data', () => {
  it('every checkpoint has a predicate, and ids are unique and name their exercise', () => {
    expect(uncheckedCheckpoints()).toEqual([]);
    const ids = EXERCISES.flatMap((e) => e.checkpoints.map((c) => c.id));
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of EXERCISES)
      for (const c of e.checkpoints) expect(c.id.startsWith(`${e.id}.`)).toBe(true);
  });
});

describe.skipIf(!hasTool('curl'))('checkpoints from real curl runs', () => {
  it('exercise 1: a login over plain HTTP ticks the password and the cookie; HTTPS does not', async () => {
    const over = await play(async (p) => {
      await curl(p, ...LOGIN, 'http://bank.test/login');
    });
    expect(doneIds(over, '1')).toEqual(['1.password-over-http', '1.cookie-over-http']);
    // The same login decrypted (a trusting device) is not "over plain HTTP".
    const decrypted = await play(async (p) => {
      await curl(p, '--cacert', mitmCa, ...LOGIN, 'https://bank.test/login');
    });
    expect(doneIds(decrypted, '1')).toEqual([]);
    expect(doneIds(decrypted, '3')).toEqual(['3.password-decrypted']);
  });

  it('exercise 2: refused, then tunnelled to the real site; curl never ticks "a browser refused"', async () => {
    const events = await play(async (p) => {
      await curl(p, ...LOGIN, 'https://bank.test/login');
      await curl(p, '--cacert', labRoot, ...LOGIN, 'https://bank.test/login');
    });
    expect(doneIds(events, '2')).toEqual(['2.forgery-refused', '2.real-site-tunnelled']);
  });

  it('exercise 2 falsified: the retry without the lab root fails again, so only the refusal ticks', async () => {
    const events = await play(async (p) => {
      await curl(p, ...LOGIN, 'https://bank.test/login');
      await curl(p, ...LOGIN, 'https://bank.test/login'); // no --cacert: refuses the real site too
    });
    expect(doneIds(events, '2')).toEqual(['2.forgery-refused']);
  });

  it('exercise 3: a decrypted password and the proxy refusing a broken real server', async () => {
    const events = await play(async (p) => {
      await curl(p, '--cacert', mitmCa, ...LOGIN, 'https://bank.test/login');
      await curl(p, '--cacert', mitmCa, 'https://expired.bank.test/');
    });
    expect(doneIds(events, '3')).toEqual(['3.password-decrypted', '3.broken-server-refused']);
  });

  it('exercise 4: three gallery hosts, each refused for real on the retry', async () => {
    const events = await play(async (p) => {
      for (const h of ['expired', 'wrong-host', 'self-signed']) {
        await curl(p, '--cacert', labRoot, `https://${h}.bank.test/`);
        await curl(p, '--cacert', labRoot, `https://${h}.bank.test/`);
      }
    });
    expect(doneIds(events, '4')).toEqual(['4.real-certificate-refused', '4.three-hosts']);
  });

  it('exercise 6: a TLS 1.2 forgery shows its certificate in clear, a TLS 1.3 one does not', async () => {
    const events = await play(async (p) => {
      p.proxy.controls.setClientTlsMax('1.2');
      await curl(p, '--cacert', mitmCa, 'https://bank.test/');
      p.proxy.controls.setClientTlsMax('1.3');
      await curl(p, '--cacert', mitmCa, 'https://bank.test/');
    });
    expect(doneIds(events, '6')).toEqual([
      '6.forged-certificate-in-clear',
      '6.forged-certificate-hidden',
    ]);
  });

  it('exercise 6 falsified: TLS 1.3 only, or a TLS 1.2 tunnel (the real certificate), leaves the 1.2 tick open', async () => {
    const only13 = await play(async (p) => {
      await curl(p, '--cacert', mitmCa, 'https://bank.test/');
    });
    expect(doneIds(only13, '6')).toEqual(['6.forged-certificate-hidden']);
    // Refused then tunnelled in TLS 1.2: a certificate in clear, but the real one, not a forgery.
    const tunnel = await play(async (p) => {
      await curl(p, '--cacert', labRoot, '--tls-max', '1.2', 'https://bank.test/');
      await curl(p, '--cacert', labRoot, '--tls-max', '1.2', 'https://bank.test/');
    });
    expect(doneIds(tunnel, '6')).toEqual([]);
  });

  it('exercise 4 falsified: one host only, tried once (no retry) leaves both open', async () => {
    const events = await play(async (p) => {
      await curl(p, '--cacert', labRoot, 'https://expired.bank.test/');
    });
    expect(doneIds(events, '4')).toEqual([]);
  });

  it('exercise 7 without a browser: the header read ticks; curl refusing the HSTS host does not', async () => {
    const events = await play(async (p) => {
      // Tunnelled in eavesdrop mode: the header crosses inside TLS, unread.
      expect((await curl(p, '--cacert', labRoot, 'https://hsts.bank.test/')).code).toBe(0);
      expect(JSON.stringify(p.events)).not.toMatch(/strict-transport-security/i);
      p.proxy.controls.setMode('intercept');
      await curl(p, '--cacert', mitmCa, 'https://hsts.bank.test/');
      await curl(p, '--cacert', labRoot, 'https://hsts.bank.test/'); // curl refuses: no browser
    }, 'eavesdrop');
    expect(doneIds(events, '7')).toEqual(['7.header-read']);
  });

  it('exercise 7: the header over plain HTTP, which browsers ignore, teaches the proxy nothing', () => {
    const base = { id: 'e', at: new Date(0).toISOString(), connId: 'c1', flowId: 'f1' };
    const headers: [string, string][] = [['Strict-Transport-Security', 'max-age=31536000']];
    const request = (visibility: 'wire' | 'proxy-only') =>
      ({
        ...base,
        type: 'http.request',
        visibility,
        host: 'hsts.bank.test',
        method: 'GET',
        headers: [],
        body: { text: '', size: 0, truncated: false },
      }) as unknown as ProxyEvent;
    const response = (visibility: 'wire' | 'proxy-only', value = headers) =>
      ({ ...base, type: 'http.response', visibility, headers: value }) as unknown as ProxyEvent;
    expect(doneIds([request('wire'), response('wire')], '7')).toEqual([]);
    // max-age=0 withdraws a policy (RFC 6797 §6.1.1): not one seen.
    const zero: [string, string][] = [['strict-transport-security', 'max-age=0']];
    expect(doneIds([request('proxy-only'), response('proxy-only', zero)], '7')).toEqual([]);
    expect(doneIds([request('proxy-only'), response('proxy-only')], '7')).toEqual([
      '7.header-read',
    ]);
  });

  it('exercise 8: recording both files, a decrypted and a tunnelled connection tick all three', async () => {
    const events = await play(
      async (p) => {
        await curl(p, '--cacert', mitmCa, ...LOGIN, 'https://bank.test/login');
        await curl(p, '--cacert', labRoot, 'https://bank.test/'); // refused
        await curl(p, '--cacert', labRoot, 'https://bank.test/'); // tunnelled
      },
      'auto',
      { keylog: () => undefined, pcap: true },
    );
    expect(doneIds(events, '8')).toEqual(['8.recording', '8.decryptable', '8.opaque']);
  });

  it('exercise 8 without --pcap (the key log alone): nothing ticks, the same traffic or not', async () => {
    const events = await play(
      async (p) => {
        await curl(p, '--cacert', mitmCa, ...LOGIN, 'https://bank.test/login');
        await curl(p, '--cacert', labRoot, 'https://bank.test/');
        await curl(p, '--cacert', labRoot, 'https://bank.test/');
      },
      'auto',
      { keylog: () => undefined },
    );
    expect(doneIds(events, '8')).toEqual([]);
  });

  /**
   * Exercise 9's three transfers, in the page's order: plain HTTP, HTTPS on a device that trusts
   * the mitm-lab CA, HTTPS on a normal one. Whether each reached the landlord, per the ledger.
   */
  async function payRentThrice(p: LabProxy): Promise<boolean[]> {
    const reached: boolean[] = [];
    for (const [only, trust] of [
      ['http-transfer', [lab.rootPem]],
      ['https-transfer', [lab.rootPem, ca.certPem]],
      ['https-transfer', [lab.rootPem]],
    ] as const) {
      const run = await runVictim({
        proxy: parseProxyUrl(p.proxy.url),
        profile: trust.length > 1 ? 'compromised' : 'normal',
        trust: trust.map((pem, i) => ({ name: `root ${i}`, pem })),
        print: () => {},
        only: [only],
      });
      for (const st of run.steps) if (st.transfer) reached.push(st.transfer.toLandlord);
    }
    return reached;
  }

  it('exercise 9: the victim pays the rent over HTTP, trusted HTTPS and normal HTTPS with --tamper bank: all four tick', async () => {
    let ledger: boolean[] = [];
    const events = await play(
      async (p) => {
        ledger = await payRentThrice(p);
      },
      'auto',
      { tamper: BANK_TAMPER_RULES.map((r) => ({ ...r })) },
    );
    expect(doneIds(events, '9')).toEqual([
      '9.tampering',
      '9.changed-over-http',
      '9.changed-over-https',
      '9.untouchable',
    ]);
    // Only the transfer the proxy could not touch reached the landlord.
    expect(ledger).toEqual([false, false, true]);
  });

  it('exercise 9 falsified: the same transfers without --tamper tick nothing, and all reach the landlord', async () => {
    let ledger: boolean[] = [];
    const events = await play(async (p) => {
      ledger = await payRentThrice(p);
    });
    expect(doneIds(events, '9')).toEqual([]);
    expect(ledger).toEqual([true, true, true]);
  });

  it('announces each checkpoint once, the moment it is done', async () => {
    const events = await play(async (p) => {
      await curl(p, ...LOGIN, 'http://bank.test/login');
      await curl(p, ...LOGIN, 'http://bank.test/login');
    });
    const progress = new LessonProgress();
    const announced: string[] = [];
    progress.onDone = (c) => announced.push(c.id);
    for (const e of events) progress.apply(e);
    expect(announced).toEqual(['1.password-over-http', '1.cookie-over-http']);
  });
});

describe.skipIf(!hasChromium)('checkpoints from a real browser (headless Chromium)', () => {
  it('exercise 1: the page over plain HTTP; exercise 2: Chromium refuses the forgery', async () => {
    const dir = mkdtempSync(path.join(tmp, 'chromium-'));
    const events = await play(async (p) => {
      await dumpDom(dir, p.proxy.port, 'http://bank.test/login');
      await dumpDom(dir, p.proxy.port, 'https://bank.test/');
    });
    expect(doneIds(events, '1')).toEqual(['1.browser-over-http']);
    expect(doneIds(events, '2')).toContain('2.browser-refused');
  });
});

/** A HOME whose NSS database (`~/.pki/nssdb`, where Chromium on Linux reads trust) holds the lab root. */
function homeTrustingLabRoot(): string {
  const home = mkdtempSync(path.join(tmp, 'nss-home-'));
  const db = path.join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  for (const args of [
    ['-d', `sql:${db}`, '-N', '--empty-password'],
    ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', LAB_ROOT_CN, '-i', labRoot],
  ]) {
    const r = spawnSync('certutil', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`certutil ${args.join(' ')}: ${r.stderr}`);
  }
  return home;
}

/** Exercise 5's steps, in eavesdrop mode, leaving out `skip`. */
function exercise5(skip: 'victim' | 'browser' | 'tls12' | null) {
  return async (p: LabProxy): Promise<void> => {
    if (skip !== 'victim') {
      // The scripted victim (Node's TLS client), trusting the lab root as a normal device.
      const said: string[] = [];
      const summary = await runVictim({
        proxy: parseProxyUrl(p.proxy.url),
        profile: 'normal',
        trust: [{ name: LAB_ROOT_CN, pem: lab.rootPem }],
        print: (line) => said.push(line),
        only: ['http-login', 'https-login', 'https-api', 'wss-chat'],
      });
      expect(summary.ok, said.join('\n')).toBe(4);
    }
    if (skip !== 'browser') {
      const dir = mkdtempSync(path.join(tmp, 'chromium-'));
      const r = await dumpDom(dir, p.proxy.port, 'https://bank.test/', {
        home: homeTrustingLabRoot(),
      });
      expect(r.dom, r.stderr).toContain('<h1>bank.test</h1>');
    }
    if (skip !== 'tls12') {
      const r = await curl(p, '--cacert', labRoot, '--tls-max', '1.2', 'https://bank.test/');
      expect(r.code, r.stderr).toBe(0);
    }
  };
}

const chromiumAndCertutil = hasChromium && hasTool('certutil') && hasTool('curl');
describe.skipIf(!chromiumAndCertutil)(
  chromiumAndCertutil
    ? 'exercise 5 (what HTTPS still leaks) from the victim, headless Chromium and curl'
    : 'exercise 5: needs chromium, certutil (libnss3-tools) and curl',
  () => {
    const ALL = ['5.program-observed', '5.browser-observed', '5.certificate-in-clear'];

    it('every checkpoint ticks in eavesdrop mode, and nothing was decrypted', async () => {
      const events = await play(exercise5(null), 'eavesdrop');
      expect(doneIds(events, '5')).toEqual(ALL);
      expect(events.filter((e) => e.type === 'tls.forged')).toEqual([]);
    });

    it.each([
      ['victim', '5.program-observed'],
      ['browser', '5.browser-observed'],
      ['tls12', '5.certificate-in-clear'],
    ] as const)('without the %s step, exactly %s stays open', async (skip, open) => {
      const events = await play(exercise5(skip), 'eavesdrop');
      expect(doneIds(events, '5')).toEqual(ALL.filter((id) => id !== open));
    });

    it('the same steps in auto mode tick nothing: the proxy forged instead of listening', async () => {
      // Auto mode decrypts (or tunnels after a refusal); exercise 5 is about a passive observer.
      const events = await play(exercise5(null), 'auto');
      expect(doneIds(events, '5')).toEqual([]);
    });
  },
);
