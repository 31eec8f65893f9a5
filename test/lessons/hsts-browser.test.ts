// Exercise 7 (docs/labs/07-hsts.md), played with headless Chromium driven by puppeteer-core over
// the DevTools protocol, through one real proxy in front of the real lab:
// 1. eavesdrop mode: a profile whose HOME trusts the lab root only (an NSS database) loads
//    https://hsts.bank.test/ from the real server, and stores its HSTS policy;
// 2. intercept mode (the UI's m): curl trusting the mitm-lab CA lets the proxy read the header;
// 3. the same profile meets the forgery for hsts.bank.test: a warning with no Proceed link;
// 4. the same profile meets the same forgery for bank.test (no HSTS): the Proceed link is there;
// 5. a device that also trusts the mitm-lab CA loads hsts.bank.test, decrypted: HSTS does not
//    stop a CA the device trusts.
// Chromium's words the page and the explain catalog quote are asserted here, from the page's DOM.
// The checkpoints are folded from the events, and the Why view's HSTS note from the store.
//
// Screenshots (Page.captureScreenshot: headless --screenshot writes nothing on an interstitial),
// 1000x700: `MITM_LAB_SCREENSHOTS=1` (npm run docs:screenshots) writes them to docs/labs/img/,
// where the page and the README show them; otherwise they go to a temporary folder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import puppeteer, { type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import { explain } from '../../src/explain/index.ts';
import { LAB_ROOT_CN, startLab, type RunningLab } from '../../src/lab/index.ts';
import { foldProgress } from '../../src/lessons/index.ts';
import { FlowStore } from '../../src/store/index.ts';
import { startLabProxy, type LabProxy } from '../lab/support/lab-proxy.ts';
import { CHROMIUM, closedPort, hasChromium, pacUrl } from '../support/chromium.ts';
import { ROOT } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-hsts-');
const IMG = path.join(ROOT, 'docs/labs/img');
const WRITE_DOCS = process.env['MITM_LAB_SCREENSHOTS'] === '1';
const shots = WRITE_DOCS ? IMG : path.join(tmp, 'img');
/** The screenshots the page and the README show. */
const SHOTS = {
  wall: '07-hsts-no-proceed.png',
  proceed: '07-bank-proceed.png',
  decrypted: '07-compromised-bank.png',
} as const;
/** A CSS viewport of 1250x875, captured at 0.8: 1000x700 pixels, with the Advanced text in. */
const VIEWPORT = { width: 1250, height: 875 };
const SHOT_SCALE = 0.8;

let lab: RunningLab;
let ca: Ca;
let caFile: string;
/** HOME of a normal device (trusts the lab root) and of a compromised one (and the mitm-lab CA). */
let normalHome: string;
let compromisedHome: string;

interface Shown {
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
/** A warning page's "Advanced" button, pressed: the text (and link) it hides appear. */
const ADVANCED = `(() => { const b = document.querySelector('#details-button'); if (b) b.click(); return !!b; })()`;

async function screenshot(page: Page, name: string): Promise<void> {
  const cdp = await page.createCDPSession();
  const shot = (await cdp.send('Page.captureScreenshot', {
    format: 'png',
    clip: { x: 0, y: 0, ...VIEWPORT, scale: SHOT_SCALE },
  })) as { data: string };
  mkdirSync(shots, { recursive: true });
  writeFileSync(path.join(shots, name), Buffer.from(shot.data, 'base64'));
}

/** Width and height of a PNG (its IHDR). */
function pngSize(file: string): [number, number] {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

/**
 * Load `url` in Chromium with `profile` and `home` through `p`; what the page shows (after
 * pressing Advanced, on a warning page), and a screenshot of it when `shot` is given.
 */
async function visit(
  p: LabProxy,
  profile: string,
  home: string,
  url: string,
  shot?: string,
): Promise<Shown> {
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
    await page.setViewport(VIEWPORT);
    // An error page makes goto reject; the page shown is what counts.
    await page.goto(url, { timeout: 15_000 }).catch(() => undefined);
    await page.waitForFunction('document.readyState === "complete"', { timeout: 10_000 });
    await page.evaluate(ADVANCED);
    const shown = (await page.evaluate(READ)) as Shown;
    if (shot) await screenshot(page, shot);
    return shown;
  } finally {
    await browser.close(); // closing (not killing) writes the HSTS state to the profile
  }
}

/** Every connection opened so far has closed (the tunnel's summary comes at its close). */
async function settled(p: LabProxy): Promise<void> {
  await waitFor(
    () =>
      p.events.filter((e) => e.type === 'conn.close').length >=
      p.events.filter((e) => e.type === 'conn.open').length,
    'every connection closed',
    { timeoutMs: 15_000 },
  );
}

/** An NSS database in `home` trusting `certs` (name → PEM file), as certutil makes it. */
function nssHome(home: string, certs: Record<string, string>): void {
  const db = path.join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  const runs = [['-d', `sql:${db}`, '-N', '--empty-password']];
  for (const [name, file] of Object.entries(certs))
    runs.push(['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', name, '-i', file]);
  for (const args of runs) {
    const r = spawnSync('certutil', args, { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  }
}

const tools = hasChromium && hasTool('certutil') && hasTool('curl');
describe.skipIf(!tools)(
  tools
    ? 'HSTS in Chromium (exercise 7)'
    : 'HSTS in Chromium (exercise 7): needs chromium, certutil and curl',
  () => {
    beforeAll(async () => {
      ca = await openCa({ dir: path.join(tmp, 'ca') });
      lab = await startLab({ dir: path.join(tmp, 'lab') });
      const root = path.join(tmp, 'lab-root.pem');
      writeFileSync(root, lab.rootPem);
      caFile = path.join(tmp, 'mitm-ca.pem');
      writeFileSync(caFile, ca.certPem);
      normalHome = path.join(tmp, 'home');
      nssHome(normalHome, { [LAB_ROOT_CN]: root });
      compromisedHome = path.join(tmp, 'compromised-home');
      nssHome(compromisedHome, { [LAB_ROOT_CN]: root, 'Interceptor CA': caFile });
    }, 60_000);
    afterAll(async () => {
      await lab?.close();
      cleanup();
    });

    it('after one trusted visit the forgery meets a wall; bank.test keeps its Proceed link; the proxy knows why', async () => {
      const p = await startLabProxy(ca, lab, { mode: 'eavesdrop' });
      const profile = path.join(tmp, 'hsts-profile');
      try {
        // 1. The real server, tunnelled: the policy is stored; the proxy holds no key.
        const first = await visit(p, profile, normalHome, 'https://hsts.bank.test/');
        expect(first.text).toContain('HSTS host (valid, strict)');
        // Where the page says Chromium keeps it: one `force-https` entry (host names hashed).
        const state = readFileSync(path.join(profile, 'Default', 'TransportSecurity'), 'utf8');
        expect(state).toContain('"mode":"force-https"');
        await settled(p);
        const tunnel = p.events.find(
          (e) => e.type === 'tunnel.summary' && (e.sni ?? e.host) === 'hsts.bank.test',
        );
        expect(tunnel?.type === 'tunnel.summary' && tunnel.reason).toBe('mode-eavesdrop');
        // No event holds the header: it crossed inside TLS.
        expect(JSON.stringify(p.events)).not.toMatch(/strict-transport-security/i);

        // 2. Intercept mode (the UI's m); a device that trusts the mitm-lab CA: the header, read.
        p.proxy.controls.setMode('intercept');
        const curl = await runTool('curl', [
          '-sS',
          '-o',
          '/dev/null',
          '-D',
          '-',
          '--max-time',
          '10',
          '-x',
          p.proxy.url,
          '--cacert',
          caFile,
          'https://hsts.bank.test/',
        ]);
        expect(curl.stdout).toMatch(/^strict-transport-security: max-age=31536000\r?$/im);

        // 3. The same profile, the forgery: the HSTS wall, in Chromium's words.
        const wall = await visit(p, profile, normalHome, 'https://hsts.bank.test/', SHOTS.wall);
        expect(wall.text).toContain('NET::ERR_CERT_AUTHORITY_INVALID');
        expect(wall.text).toContain('Your connection is not private');
        expect(wall.text).toContain(
          'You cannot visit hsts.bank.test right now because the website uses HSTS.',
        );
        expect(wall.text).toContain('Reload');
        expect(wall.text).not.toContain('Back to safety');
        expect(wall.text).not.toContain('Proceed to');
        expect(wall.proceed).toBe(false);

        // 4. The same forgery for a host without HSTS: the usual warning, with the way through.
        const plain = await visit(p, profile, normalHome, 'https://bank.test/', SHOTS.proceed);
        expect(plain.text).toContain('NET::ERR_CERT_AUTHORITY_INVALID');
        expect(plain.text).toContain('Back to safety');
        expect(plain.text).toContain('Proceed to bank.test (unsafe)');
        expect(plain.proceed).toBe(true);

        // 5. A compromised device (the mitm-lab CA trusted), the same profile: HSTS or not, the
        // forgery is trusted and the proxy reads the page.
        const trusted = await visit(p, profile, compromisedHome, 'https://hsts.bank.test/');
        expect(trusted.text).toContain('HSTS host (valid, strict)');
        expect(trusted.proceed).toBe(false);
        const bank = await visit(
          p,
          path.join(tmp, 'compromised-profile'),
          compromisedHome,
          'https://bank.test/',
          SHOTS.decrypted,
        );
        expect(bank.url).toBe('https://bank.test/');
        expect(bank.text).toContain('bank.test');
        await settled(p);
      } finally {
        await p.proxy.close();
      }

      // The checkpoints, from the events alone.
      const ex = foldProgress(p.events).find((e) => e.id === '7')!;
      expect(ex.checkpoints.filter((c) => !c.done).map((c) => c.id)).toEqual([]);

      // The Why view's explanation of the refusal: it knows the host sent HSTS, and when.
      const store = new FlowStore();
      for (const e of p.events) store.apply(e);
      const refused = (host: string) =>
        store.all().find((f) => f.badge === 'HTTPS refused' && f.host === host);
      const onHsts = refused('hsts.bank.test');
      expect(onHsts?.hsts?.header).toBe('max-age=31536000');
      const why = explain(onHsts!);
      expect(why.hsts?.title).toBe(
        'hsts.bank.test uses HSTS: a browser that saw it cannot click through',
      );
      expect(why.hsts?.text).toContain('Strict-Transport-Security: max-age=31536000');
      expect(why.hsts?.clients.chromium?.[0]?.says).toBe(
        'You cannot visit hsts.bank.test right now because the website uses HSTS.',
      );
      const onBank = refused('bank.test');
      expect(onBank?.hsts).toBeNull();
      expect(explain(onBank!).hsts).toBeNull();

      for (const name of Object.values(SHOTS))
        expect(pngSize(path.join(shots, name)), name).toEqual([1000, 700]);
    }, 180_000);

    it('a profile that never saw the header gets the Proceed link, and nothing says HSTS', async () => {
      const p = await startLabProxy(ca, lab, { mode: 'intercept' });
      try {
        const fresh = await visit(
          p,
          path.join(tmp, 'fresh-profile'),
          normalHome,
          'https://hsts.bank.test/',
        );
        expect(fresh.text).toContain('NET::ERR_CERT_AUTHORITY_INVALID');
        expect(fresh.text).toContain('Proceed to hsts.bank.test (unsafe)');
        expect(fresh.proceed).toBe(true);
        await settled(p);
      } finally {
        await p.proxy.close();
      }
      // The proxy never read the header here: the refusal is a plain one, to the events too.
      const done = foldProgress(p.events)
        .find((e) => e.id === '7')!
        .checkpoints.filter((c) => c.done)
        .map((c) => c.id);
      expect(done).toEqual(['7.plain-refused']);
      const store = new FlowStore();
      for (const e of p.events) store.apply(e);
      const flow = store.all().find((f) => f.badge === 'HTTPS refused');
      expect(flow?.host).toBe('hsts.bank.test');
      expect(explain(flow!).hsts).toBeNull();
    }, 90_000);

    it('the page and the README show the committed screenshots, 1000x700', () => {
      const page = readFileSync(path.join(ROOT, 'docs/labs/07-hsts.md'), 'utf8');
      const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
      for (const name of Object.values(SHOTS)) {
        const file = path.join(IMG, name);
        expect(existsSync(file), file).toBe(true);
        expect(pngSize(file)).toEqual([1000, 700]);
        expect(page).toContain(`(img/${name})`);
        expect(readme).toContain(`(docs/labs/img/${name})`);
      }
    });
  },
);
