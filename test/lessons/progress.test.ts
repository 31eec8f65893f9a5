// The exercises' checkpoints from real clients: each exercise's steps played with curl (and
// headless Chromium where the step is a browser's) through the real proxy in front of the real
// lab, then folded from the events alone. A run that skips or falsifies a step leaves exactly
// that checkpoint open.
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
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

/** Play `steps` through a fresh auto-mode proxy; the events, once every connection closed. */
async function play(steps: (p: LabProxy) => Promise<void>): Promise<ProxyEvent[]> {
  const p = await startLabProxy(ca, lab);
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

  it('exercise 4 falsified: one host only, tried once (no retry) leaves both open', async () => {
    const events = await play(async (p) => {
      await curl(p, '--cacert', labRoot, 'https://expired.bank.test/');
    });
    expect(doneIds(events, '4')).toEqual([]);
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
