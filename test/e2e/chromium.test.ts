// A real browser through the proxy: headless Chromium (Debian's /usr/bin/chromium) against the
// built-in lab, in-process proxy in auto mode. Driven with `--dump-dom` (prints the page's DOM
// and exits), bounded by a timeout that kills Chromium's whole process group by its PID.
// Three victims: plain HTTP (everything on the wire), HTTPS with a browser that does not trust
// the mitm-lab CA (it refuses the forgery: what does it say?), and HTTPS with a browser that
// trusts it (the "compromised device": an NSS database in its HOME with the CA, and Chromium's
// per-session SPKI allow-list). Each case gets its own proxy: in auto mode a refusal makes the
// proxy tunnel that host afterwards.
//
// Chromium is pointed at the proxy with a PAC script, not `--proxy-server`: even with
// --disable-background-networking / --disable-component-update, Debian's Chromium 156 sends
// update.googleapis.com, clients2.google.com and accounts.google.com through the proxy, which
// would fetch them from the internet. The PAC sends the lab's names (*.test) to the proxy and
// everything else to a closed loopback port, so the test stays on loopback.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import { startTestProxy, type TestProxy } from '../integration/helpers.ts';
import { dumpDom, hasChromium } from '../support/chromium.ts';

const certutil = spawnSync('sh', ['-c', 'command -v certutil']).status === 0;
const present = hasChromium;
const BANK_PAGE = '<h1>bank.test</h1>';

let tmp = '';
let lab: RunningLab;

/** A proxy in auto mode in front of the lab, with its own temp CA. */
function labProxy(): Promise<TestProxy> {
  return startTestProxy({ resolve: lab.resolve, upstreamCa: [lab.rootPem] });
}

describe.skipIf(!present)(
  present
    ? 'headless Chromium through the proxy (the lab)'
    : 'chromium not installed: apt-get install chromium',
  () => {
    beforeAll(async () => {
      tmp = mkdtempSync(path.join(tmpdir(), 'mitm-lab-chromium-'));
      lab = await startLab({ dir: path.join(tmp, 'lab') });
    });
    afterAll(async () => {
      await lab?.close();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('http://bank.test/: the page arrives, and the proxy saw the request on the wire', async () => {
      const p = await labProxy();
      try {
        const r = await dumpDom(tmp, p.proxy.port, 'http://bank.test/');
        expect(r.timedOut, `${r.ms} ms; stderr:\n${r.stderr}`).toBe(false);
        expect(r.dom).toContain(BANK_PAGE);
        const req = p.of('http.request').find((e) => e.host === 'bank.test' && e.path === '/');
        expect(req?.scheme).toBe('http');
        expect(req?.visibility).toBe('wire');
        expectOnlyLab(p);
      } finally {
        await p.close();
      }
    });

    it('https://bank.test/, CA not trusted: Chromium refuses the forgery with an alert', async () => {
      const p = await labProxy();
      try {
        const r = await dumpDom(tmp, p.proxy.port, 'https://bank.test/');
        expect(r.timedOut, `${r.ms} ms; stderr:\n${r.stderr}`).toBe(false);
        expect(r.dom).not.toContain(BANK_PAGE);
        // Headless --dump-dom prints no DOM for an error page; the browser logs the reason.
        expect(r.stderr).toContain('net::ERR_CERT_AUTHORITY_INVALID');
        const rejected = p.of('tls.client-rejected').filter((e) => e.host === 'bank.test');
        expect(rejected.length, JSON.stringify(p.events.map((e) => e.type))).toBeGreaterThan(0);
        const first = rejected[0]!;
        expect(first.outcome).toBe('alert');
        expect(first.alert).toEqual({ code: 46, name: 'certificate_unknown' });
        expect(first.clientHint).toBe('chromium');
        expect(first.willTunnel).toBe(true);
        // It never accepted the forgery, so nothing was decrypted.
        expect(p.of('tls.client-accepted')).toEqual([]);
        expect(p.of('http.request').filter((e) => e.scheme === 'https')).toEqual([]);
        expectOnlyLab(p);
      } finally {
        await p.close();
      }
    });

    it.skipIf(!certutil)(
      'https://bank.test/, CA in the NSS database of HOME: the page arrives, decrypted by the proxy',
      async () => {
        const p = await labProxy();
        const home = mkdtempSync(path.join(tmp, 'nss-home-'));
        try {
          const db = path.join(home, '.pki', 'nssdb');
          mkdirSync(db, { recursive: true });
          const caFile = path.join(home, 'ca.pem');
          writeFileSync(caFile, p.ca.certPem);
          for (const certutilArgs of [
            ['-N', '-d', `sql:${db}`, '--empty-password'],
            ['-A', '-d', `sql:${db}`, '-t', 'C,,', '-n', 'mitm-lab', '-i', caFile],
          ]) {
            const c = spawnSync('certutil', certutilArgs, { encoding: 'utf8' });
            expect(c.status, `certutil ${certutilArgs.join(' ')}: ${c.stderr}`).toBe(0);
          }
          const r = await dumpDom(tmp, p.proxy.port, 'https://bank.test/', { home });
          expect(r.timedOut, `${r.ms} ms; stderr:\n${r.stderr}`).toBe(false);
          expect(r.dom).toContain(BANK_PAGE);
          expectIntercepted(p);
        } finally {
          await p.close();
          rmSync(home, { recursive: true, force: true });
        }
      },
    );

    it('https://bank.test/, --ignore-certificate-errors-spki-list=<leaf SPKI>: the page arrives, decrypted', async () => {
      // Every forged leaf of a CA shares one key, so one SPKI hash covers every host.
      const p = await labProxy();
      try {
        const leafSpki = p.ca.mintLeaf('bank.test').summary.spkiSha256;
        expect(p.ca.leafSpkiSha256).toBe(leafSpki); // what `mitm-lab ca info` prints
        expect(p.ca.mintLeaf('shop.test').summary.spkiSha256).toBe(leafSpki);
        const r = await dumpDom(tmp, p.proxy.port, 'https://bank.test/', {
          extra: [`--ignore-certificate-errors-spki-list=${leafSpki}`],
        });
        expect(r.timedOut, `${r.ms} ms; stderr:\n${r.stderr}`).toBe(false);
        expect(r.dom).toContain(BANK_PAGE);
        expectIntercepted(p);
      } finally {
        await p.close();
      }
    });

    it('https://bank.test/, --ignore-certificate-errors-spki-list=<CA SPKI>: not enough, Chromium still refuses', async () => {
      // Chromium matches the list against the certificates the server sent (the leaf alone
      // here), not against a root it does not know: the CA's own SPKI hash unlocks nothing.
      const p = await labProxy();
      try {
        const r = await dumpDom(tmp, p.proxy.port, 'https://bank.test/', {
          extra: [`--ignore-certificate-errors-spki-list=${p.ca.summary.spkiSha256}`],
        });
        expect(r.timedOut, `${r.ms} ms; stderr:\n${r.stderr}`).toBe(false);
        expect(r.dom).not.toContain(BANK_PAGE);
        // Headless --dump-dom prints no DOM for an error page; the browser logs the reason.
        expect(r.stderr).toContain('net::ERR_CERT_AUTHORITY_INVALID');
        const rejected = p.of('tls.client-rejected').find((e) => e.host === 'bank.test');
        expect(rejected?.alert).toEqual({ code: 46, name: 'certificate_unknown' });
        expect(p.of('tls.client-accepted')).toEqual([]);
      } finally {
        await p.close();
      }
    });
  },
);

/** The browser accepted the forged certificate and its request went through the proxy decrypted. */
function expectIntercepted(p: TestProxy): void {
  const types = JSON.stringify(p.events.map((e) => e.type));
  expect(
    p.of('tls.client-accepted').some((e) => e.host === 'bank.test'),
    types,
  ).toBe(true);
  const req = p.of('http.request').find((e) => e.host === 'bank.test' && e.path === '/');
  expect(req?.scheme, types).toBe('https');
  expect(req?.visibility).toBe('proxy-only');
  expectOnlyLab(p);
}

/** Only lab names reached the proxy (the PAC kept Chromium's own chatter off it). */
function expectOnlyLab(p: TestProxy): void {
  const hosts = [...p.of('tls.client-hello'), ...p.of('http.request')].map((e) => e.host);
  expect(hosts.filter((h) => !h.endsWith('.test'))).toEqual([]);
}
