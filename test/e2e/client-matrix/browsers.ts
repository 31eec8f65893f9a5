// The two browsers of the matrix, driven by puppeteer-core (the system's own binaries, never a
// download): Chromium over the DevTools protocol, Firefox ESR over WebDriver BiDi. One browser
// per mode with a fresh profile, navigated from host to host (a new tab each time).
//
// Trust goes through an NSS database, as for a real user: Chromium reads `$HOME/.pki/nssdb` (a
// temporary HOME), Firefox the profile's own cert9.db. Traffic stays on loopback: a PAC script
// sends the lab's names (*.test) to the proxy — or DIRECT in direct mode, where the browser
// maps them to 127.0.0.1 itself (Chromium `--host-resolver-rules`, Firefox
// `network.dns.localDomains`) — and everything else to a closed loopback port, so the
// browsers' own background requests die there instead of reaching the internet.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { closedPort } from '../../support/chromium.ts';
import { sleep } from '../../support/wait.ts';
import type { Said } from './types.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const FIREFOX = '/usr/bin/firefox-esr';
export type BrowserKind = 'chromium' | 'firefox';

/** A navigation that neither loads nor fails within this long counts as a timeout. */
const NAV_TIMEOUT_MS = 15_000;
/** How long the error page may take to show its code after the navigation failed. */
const PAGE_SETTLE_MS = 15_000;
const LAUNCH_TIMEOUT_MS = 30_000;

export interface BrowserOptions {
  kind: BrowserKind;
  /** A folder for the profile (and Chromium's HOME); the caller removes it. */
  scratch: string;
  /** PEM certificates the browser trusts (added to its NSS database as CAs). */
  trust: string[];
  /** The proxy's port, or null for direct mode. */
  proxyPort: number | null;
  /** Direct mode: every lab name, mapped to 127.0.0.1 by the browser itself. */
  labHosts: string[];
}

export interface BrowserSession {
  version: string;
  /** Open `url` in a new tab and say what the browser showed. */
  visit(url: string): Promise<Said>;
  close(): Promise<void>;
}

/** PAC as a data: URL: lab names → the proxy (or DIRECT); anything else → a dead port. */
function pacUrl(proxyPort: number | null, deadPort: number): string {
  const lab = proxyPort === null ? 'DIRECT' : `PROXY 127.0.0.1:${proxyPort}`;
  const pac = `function FindProxyForURL(url, host) {
  return dnsDomainIs(host, '.test') ? '${lab}' : 'PROXY 127.0.0.1:${deadPort}';
}`;
  return `data:application/x-ns-proxy-autoconfig;base64,${Buffer.from(pac).toString('base64')}`;
}

/** A new NSS database in `dir` trusting `pems` as CAs (certutil, as a user would). */
function nssDb(dir: string, pems: string[]): void {
  mkdirSync(dir, { recursive: true });
  const run = (args: string[]): void => {
    const r = spawnSync('certutil', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`certutil ${args.join(' ')}: ${r.stderr}`);
  };
  run(['-N', '-d', `sql:${dir}`, '--empty-password']);
  pems.forEach((pem, i) => {
    const file = path.join(dir, `trust-${i}.pem`);
    writeFileSync(file, pem);
    run(['-A', '-d', `sql:${dir}`, '-t', 'C,,', '-n', `matrix-root-${i}`, '-i', file]);
  });
}

/**
 * What the page shows, read inside the page (also inside shadow roots: Firefox's error pages
 * are web components). A string, not a function: evaluated as is, whatever the test
 * transpiler adds to functions.
 */
const READ_PAGE = `(() => {
  const headings = [];
  const codes = [];
  const walk = (n) => {
    if (n.nodeType === 1) {
      if (n.shadowRoot) walk(n.shadowRoot);
      if (/^H[1-2]$/.test(n.tagName)) headings.push((n.textContent || '').trim());
      const cls = typeof n.className === 'string' ? n.className : '';
      if (/(^|[\\s-])error-code($|\\s)/.test(cls) || n.id === 'error-code' || n.id === 'errorCode')
        codes.push((n.innerText || n.textContent || '').trim()); // innerText: as shown (CSS upper-cases Chromium's)
    }
    for (const c of Array.from(n.childNodes)) walk(c);
  };
  walk(document);
  let certCode = null, netCode = null;
  try { certCode = document.getFailedCertSecurityInfo().errorCodeString; } catch (e) {}
  try { netCode = document.getNetErrorInfo().errorCodeString; } catch (e) {}
  const body = document.body ? (document.body.innerText || '').trim().split('\\n')[0].slice(0, 200) : '';
  return { url: location.href, title: document.title, headings: headings.filter(Boolean), codes: codes.filter(Boolean), certCode, netCode, body };
})()`;

interface PageView {
  url: string;
  title: string;
  headings: string[];
  codes: string[];
  certCode: string | null;
  netCode: string | null;
  /** The first line of the page's text (a plain-text page has no title or heading). */
  body: string;
}

/** Launch one browser for one mode. */
export async function launchBrowser(opts: BrowserOptions): Promise<BrowserSession> {
  const pac = pacUrl(opts.proxyPort, await closedPort());
  const profile = path.join(opts.scratch, 'profile');
  mkdirSync(profile, { recursive: true });
  let browser: Browser;
  if (opts.kind === 'chromium') {
    const home = path.join(opts.scratch, 'home');
    nssDb(path.join(home, '.pki', 'nssdb'), opts.trust);
    // Off: "alternate error pages", which also switches off the captive-portal probe Chromium
    // sends (to connectivitycheck.gstatic.com) on an authority or name error; and network
    // prediction (preconnects), as Firefox's speculative connections are off below. With it on,
    // Chromium opens one to three more connections to a host around a navigation, some a few ms
    // after refusing a certificate; auto mode tunnels those, and which connection the page came
    // from was a race (the first attempt showed the warning, the real site or its real error).
    // Off, each navigation opens one connection, and each cell has one story.
    mkdirSync(path.join(profile, 'Default'), { recursive: true });
    writeFileSync(
      path.join(profile, 'Default', 'Preferences'),
      JSON.stringify({
        alternate_error_pages: { enabled: false },
        net: { network_prediction_options: 2 },
      }),
    );
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      timeout: LAUNCH_TIMEOUT_MS,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        `--proxy-pac-url=${pac}`,
        ...(opts.proxyPort === null ? ['--host-resolver-rules=MAP *.test 127.0.0.1'] : []),
      ],
      env: { ...process.env, HOME: home },
    });
  } else {
    nssDb(profile, opts.trust);
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      userDataDir: profile,
      timeout: LAUNCH_TIMEOUT_MS,
      extraPrefsFirefox: {
        'network.proxy.type': 2,
        'network.proxy.autoconfig_url': pac,
        'network.captive-portal-service.enabled': false,
        'network.connectivity-service.enabled': false,
        'network.dns.disablePrefetch': true,
        'network.prefetch-next': false,
        'network.http.speculative-parallel-limit': 0,
        'browser.safebrowsing.malware.enabled': false,
        'browser.safebrowsing.phishing.enabled': false,
        ...(opts.proxyPort === null ? { 'network.dns.localDomains': opts.labHosts.join(',') } : {}),
      },
      env: { ...process.env },
    });
  }
  const version = await browser.version();
  // Tabs, reused: visits run a few at a time (see BROWSER_TABS in matrix.ts), each in a free
  // tab. Chromium sometimes holds a certificate warning back for 3 s (it waits for a check of
  // its own that, on loopback, only ends by its timeout); side by side, those waits overlap.
  const free: Page[] = [];
  return {
    version,
    visit: async (url) => {
      const page = free.pop() ?? (await browser.newPage());
      try {
        // Through about:blank, so that what is read afterwards cannot be the previous page
        // (an error page of either browser, or the same URL again for a retry).
        await page.goto('about:blank');
        return await visit(opts.kind, page, url);
      } finally {
        free.push(page);
      }
    },
    async close() {
      const proc = browser.process();
      await Promise.race([browser.close(), sleep(10_000)]);
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

async function visit(kind: BrowserKind, page: Page, url: string): Promise<Said> {
  {
    let status: number | null = null;
    let navError = '';
    try {
      const res = await page.goto(url, { timeout: NAV_TIMEOUT_MS, waitUntil: 'load' });
      status = res?.status() ?? null;
    } catch (err) {
      navError = err instanceof Error ? err.message : String(err);
    }
    const view = await settledView(page, url, status !== null);
    const text = (...parts: (string | null | undefined)[]): string =>
      parts
        .filter((p): p is string => !!p)
        .join(' | ')
        .replace(/\s+/g, ' ')
        .trim();
    if (status !== null)
      return {
        outcome: 'ok',
        code: String(status),
        text: text(view?.title, view?.headings[0] ?? (view?.title ? null : view?.body)),
      };
    const code =
      (kind === 'firefox' ? (view?.certCode ?? view?.netCode) : view?.codes[0]) ??
      codeFromNavError(navError);
    return {
      outcome: 'error',
      code,
      text: text(view?.title, view?.headings[0], kind === 'firefox' ? code : view?.codes[0]),
    };
  }
}

/** The browser's own code in a failed navigation's message (`net::ERR_…`, `SEC_ERROR_…`). */
function codeFromNavError(message: string): string {
  const chromium = /net::(ERR_[A-Z_]+)/.exec(message);
  if (chromium) return chromium[1]!;
  const firefox =
    /NS_ERROR_[A-Z_]+\([^,]+, ([A-Z_]+)\)|\b((?:SEC|SSL|MOZILLA_PKIX)_ERROR_[A-Z_]+)/.exec(message);
  if (firefox) return (firefox[1] ?? firefox[2])!;
  if (/timeout/i.test(message)) return 'timeout';
  return message.split('\n')[0]?.slice(0, 80) || 'unknown';
}

/**
 * Read the page until it has settled: error pages fill their heading and code a moment after
 * the navigation failed (Firefox localises them asynchronously), so wait until the page is
 * the one asked for, a heading is there, and two reads in a row agree — polling the page,
 * bounded.
 */
async function settledView(page: Page, url: string, loaded: boolean): Promise<PageView | null> {
  const deadline = Date.now() + PAGE_SETTLE_MS;
  let last: PageView | null = null;
  let lastJson = '';
  while (Date.now() < deadline) {
    // A failed read: the error page is still being committed; read again.
    const view = (await page.evaluate(READ_PAGE).catch(() => null)) as PageView | null;
    if (view) {
      const json = JSON.stringify(view);
      // Chromium shows its error pages at chrome-error://, Firefox at the URL asked for; the
      // tab came from about:blank, so either is this visit's page.
      const current = view.url === url || view.url.startsWith('chrome-error:');
      const ready = current && (loaded || (view.headings.length > 0 && view.title !== ''));
      if (ready && json === lastJson) return view;
      last = view;
      lastJson = json;
    }
    await sleep(50);
  }
  return last;
}
