// What exercise 4's HSTS steps say a browser shows (docs/labs/04-certificate-warning-gallery.md,
// steps 5 and 8), measured with headless Chromium driven by puppeteer-core: a profile that once
// loaded hsts.bank.test over a trusted connection (the real server, the lab root trusted through
// an NSS database in HOME) gets a warning page without the "Proceed" link when the proxy later
// forges the certificate; a profile that never saw the header gets the link.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import { LAB_ROOT_CN, startLab, type RunningLab } from '../../src/lab/index.ts';
import { startLabProxy } from '../lab/support/lab-proxy.ts';
import { CHROMIUM, closedPort, hasChromium, pacUrl } from '../support/chromium.ts';
import { hasTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-hsts-');
let lab: RunningLab;
let ca: Ca;
let home: string;

interface Warning {
  url: string;
  text: string;
  proceed: boolean;
}

/** Read in the page (a string: nothing the transpiler adds, no DOM types needed here). */
const READ = `(() => ({
  url: location.href,
  text: document.body ? document.body.innerText : '',
  proceed: !!document.querySelector('#proceed-link'),
}))()`;

/** Load https://hsts.bank.test/ in Chromium with `profile`, through a proxy in `mode`. */
async function visit(profile: string, mode: 'eavesdrop' | 'intercept'): Promise<Warning> {
  const p = await startLabProxy(ca, lab, { mode });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      `--proxy-pac-url=${pacUrl(p.proxy.port, await closedPort())}`,
    ],
    env: { ...process.env, HOME: home },
  });
  try {
    const page = await browser.newPage();
    // An error page makes goto reject; the page shown is what counts.
    await page.goto('https://hsts.bank.test/', { timeout: 15_000 }).catch(() => undefined);
    await page.waitForFunction('document.readyState === "complete"', { timeout: 10_000 });
    return (await page.evaluate(READ)) as Warning;
  } finally {
    await browser.close(); // closing (not killing) writes the HSTS state to the profile
    await p.proxy.close();
  }
}

const tools = hasChromium && hasTool('certutil');
describe.skipIf(!tools)(
  tools ? 'HSTS in Chromium (exercise 4)' : 'HSTS in Chromium: needs chromium and certutil',
  () => {
    beforeAll(async () => {
      ca = await openCa({ dir: path.join(tmp, 'ca') });
      lab = await startLab({ dir: path.join(tmp, 'lab') });
      home = path.join(tmp, 'home');
      const db = path.join(home, '.pki', 'nssdb');
      mkdirSync(db, { recursive: true });
      const root = path.join(tmp, 'lab-root.pem');
      writeFileSync(root, lab.rootPem);
      for (const args of [
        ['-d', `sql:${db}`, '-N', '--empty-password'],
        ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', LAB_ROOT_CN, '-i', root],
      ]) {
        const r = spawnSync('certutil', args, { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
      }
    }, 60_000);
    afterAll(async () => {
      await lab?.close();
      cleanup();
    });

    it('after one trusted visit, the forged certificate gets a warning with no Proceed link', async () => {
      const profile = path.join(tmp, 'hsts-profile');
      const first = await visit(profile, 'eavesdrop');
      expect(first.text).toContain('HSTS host (valid, strict)');
      const second = await visit(profile, 'intercept');
      expect(second.text).toContain('NET::ERR_CERT_AUTHORITY_INVALID');
      expect(second.proceed).toBe(false);
    }, 90_000);

    it('a profile that never saw the header gets the Proceed link', async () => {
      const fresh = await visit(path.join(tmp, 'fresh-profile'), 'intercept');
      expect(fresh.text).toContain('NET::ERR_CERT_AUTHORITY_INVALID');
      expect(fresh.proceed).toBe(true);
    }, 60_000);
  },
);
