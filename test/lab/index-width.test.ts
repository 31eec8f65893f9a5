// http://lab.test/ in a real browser window 1200 px wide (issue 10: the gallery table pushed the
// page sideways to ~1900 px). Headless Chromium through the real proxy in front of the lab,
// driven by puppeteer-core: the page must fit its window at 1200 px, and at 800 px only the
// table's own box may scroll, never the page.
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa } from '../../src/ca/index.ts';
import { GALLERY, startLab, type RunningLab } from '../../src/lab/index.ts';
import { CHROMIUM, closedPort, hasChromium, pacUrl } from '../support/chromium.ts';
import { tempDir } from '../support/temp-dir.ts';
import { startLabProxy, type LabProxy } from './support/lab-proxy.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-index-width-');
let lab: RunningLab;
let proxy: LabProxy;
let browser: Browser | undefined;

interface Widths {
  scrollWidth: number;
  clientWidth: number;
  table: number;
  boxWidth: number;
  text: string;
}

/** Evaluated in the page (a string: no DOM types here, and nothing the transpiler adds). */
const MEASURE = `(() => {
  const box = document.querySelector('.scroll');
  return {
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    table: document.querySelector('table')?.getBoundingClientRect().width ?? 0,
    boxWidth: box?.clientWidth ?? 0,
    text: document.body.innerText,
  };
})()`;

/** Widths of the document and of the gallery table's scroll box, at `width` px. */
async function widths(width: number): Promise<Widths> {
  const page = await browser!.newPage();
  try {
    await page.setViewport({ width, height: 900 });
    const res = await page.goto('http://lab.test/', { waitUntil: 'load', timeout: 15_000 });
    expect(res?.status()).toBe(200);
    return (await page.evaluate(MEASURE)) as Widths;
  } finally {
    await page.close();
  }
}

describe.skipIf(!hasChromium)('the lab index at http://lab.test/ in headless Chromium', () => {
  beforeAll(async () => {
    lab = await startLab({ dir: path.join(tmp, 'lab') });
    proxy = await startLabProxy(await openCa({ dir: path.join(tmp, 'ca') }), lab);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: path.join(tmp, 'profile'),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        `--proxy-pac-url=${pacUrl(proxy.proxy.port, await closedPort())}`,
      ],
      env: { ...process.env, HOME: tmp },
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await proxy?.proxy.close();
    await lab?.close();
    cleanup();
  });

  it('fits a 1200 px window: no sideways scrolling, and the table fits too', async () => {
    const w = await widths(1200);
    expect(w.clientWidth).toBe(1200);
    expect(w.scrollWidth).toBeLessThanOrEqual(w.clientWidth);
    expect(w.table).toBeLessThanOrEqual(w.boxWidth);
    for (const g of GALLERY) expect(w.text).toContain(g.host);
  });

  it('at 800 px only the table scrolls, inside its box; the page itself does not', async () => {
    const w = await widths(800);
    expect(w.scrollWidth).toBeLessThanOrEqual(w.clientWidth);
    expect(w.boxWidth).toBeLessThanOrEqual(w.clientWidth);
  });
});
