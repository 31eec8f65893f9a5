// Does the terminal UI slow the proxy? Proxied plain-HTTP requests per second with the UI
// attached (a real blessed screen on a fake 120x40 TTY, fed by the flow store, redrawing at its
// normal rate) versus headless (the same proxy, no store, no UI), measured in the same run,
// alternating rounds so machine drift hits both. Target: UI >= 90 % of headless.
import http from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable, PassThrough } from 'node:stream';
import { openCa } from '../../src/ca/index.ts';
import { EventBus } from '../../src/events/bus.ts';
import { startProxy } from '../../src/proxy/index.ts';
import { FlowStore } from '../../src/store/index.ts';
import { startUi } from '../../src/ui/index.ts';

export const title = 'terminal UI attached vs headless: proxied HTTP requests/s';

/** What `npm run bench -- --help` prints for this module. */
export const usage = `npm run bench -- ui   (no options; in one process, a quick look: the proxy bench's
mitm-lab+viewer kind is the figure of record)

  BENCH_UI_PAIRS=N          measured pairs of rounds, headless and UI (12)
  BENCH_UI_ROUND_SECONDS=S  seconds per round (2)`;

/** Concurrent keep-alive client connections. */
const CONCURRENCY = 8;
/**
 * Seconds per measured round. Rounds come in pairs (headless, UI), alternating which goes
 * first; the figure is the median of the pairs' ratios, so a slow spell of a shared machine
 * hits both sides of a pair alike. Short rounds and many pairs beat long rounds and few: the
 * machine's speed drifts over seconds (single rounds of the same setup differ by 30 %).
 * BENCH_UI_PAIRS=N measures more pairs (a steadier median on a busy machine).
 */
const ROUND_SECONDS = Number(process.env['BENCH_UI_ROUND_SECONDS'] ?? 2);
const PAIRS = Number(process.env['BENCH_UI_PAIRS'] ?? 12);
/**
 * Unmeasured pairs first. The UI's code runs optimised and the heap settles at the size a
 * full store needs only after several seconds of load: measured earlier, the first UI rounds
 * read 20-30 % slow, which says nothing about a proxy that has been up for a minute.
 */
const WARMUP_PAIRS = 3;

interface Phase {
  name: string;
  rates: number[];
  frames: number;
  /** CPU time the UI side spent: queueing and folding events into the store, and drawing, ms. */
  storeMs: number;
  drawMs: number;
  seconds: number;
  /** Time spent in garbage collection during the rounds, ms (what the UI keeps alive costs here). */
  gcMs: number;
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mitm-lab-bench-ui-'));
  const origin = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true,"user":"alice","token":"abc"}');
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
  const originPort = (origin.address() as AddressInfo).port;
  const ca = await openCa({ dir });
  try {
    const emptyPhase = (name: string): Phase => ({
      name,
      rates: [],
      frames: 0,
      storeMs: 0,
      drawMs: 0,
      seconds: 0,
      gcMs: 0,
    });
    const headless = emptyPhase('headless');
    const withUi = emptyPhase('UI attached');
    for (let i = 0; i < WARMUP_PAIRS; i++) {
      await measure(false, ca, originPort);
      await measure(true, ca, originPort);
    }
    const ratios: number[] = [];
    for (let pair = 0; pair < PAIRS; pair++) {
      const order = pair % 2 === 0 ? [false, true] : [true, false];
      const rate: Record<string, number> = {};
      for (const ui of order) {
        const result = await measure(ui, ca, originPort);
        const phase = ui ? withUi : headless;
        phase.rates.push(result.rate);
        phase.frames += result.frames;
        phase.storeMs += result.storeMs;
        phase.drawMs += result.drawMs;
        phase.seconds += result.seconds;
        phase.gcMs += result.gcMs;
        rate[String(ui)] = result.rate;
      }
      ratios.push((rate['true'] ?? 0) / (rate['false'] ?? 1));
    }
    const med = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const m = Math.floor(s.length / 2);
      return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
    };
    const fmt = (xs: number[]) => xs.map((r) => r.toFixed(0)).join(', ');
    console.log(
      `  headless      ${med(headless.rates).toFixed(0)} req/s   (rounds: ${fmt(headless.rates)})`,
    );
    console.log(
      `  UI attached   ${med(withUi.rates).toFixed(0)} req/s   (rounds: ${fmt(withUi.rates)})`,
    );
    const sorted = [...ratios].sort((a, b) => a - b);
    const quartile = (q: number) => (sorted[Math.round(q * (sorted.length - 1))] ?? 0) * 100;
    console.log(
      `  ratio         ${(med(ratios) * 100).toFixed(1)} % of headless, median of ${PAIRS} pairs ` +
        `(middle half ${quartile(0.25).toFixed(0)}-${quartile(0.75).toFixed(0)} %; target >= 90 %)`,
    );
    console.log(`  pairs         ${ratios.map((r) => (r * 100).toFixed(0)).join(', ')} %`);
    const perSecond = (ms: number) => ms / withUi.seconds;
    console.log(
      `  GC            headless ${(headless.gcMs / headless.seconds).toFixed(1)} ms/s, UI attached ${perSecond(withUi.gcMs).toFixed(1)} ms/s` +
        ' (the UI side: events waiting for the next frame outlive a young-generation collection)',
    );
    console.log(
      `  UI frames     ${(withUi.frames / withUi.seconds).toFixed(1)} per second drawn while loaded`,
    );
    console.log(
      `  UI CPU        store ${perSecond(withUi.storeMs).toFixed(1)} ms/s + drawing ${perSecond(withUi.drawMs).toFixed(1)} ms/s` +
        ` = ${((perSecond(withUi.storeMs + withUi.drawMs) / 1000) * 100).toFixed(1)} % of one core` +
        ` (${(withUi.drawMs / Math.max(1, withUi.frames)).toFixed(2)} ms per frame)`,
    );
  } finally {
    await new Promise<void>((r) => origin.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(
  ui: boolean,
  ca: Awaited<ReturnType<typeof openCa>>,
  originPort: number,
): Promise<{
  rate: number;
  frames: number;
  storeMs: number;
  drawMs: number;
  seconds: number;
  gcMs: number;
}> {
  const bus = new EventBus();
  const proxy = await startProxy({ host: '127.0.0.1', port: 0, mode: 'auto', ca, bus });
  let frames = 0;
  let storeMs = 0;
  let drawMs = 0;
  let stop: () => void = () => {};
  let stopStore: () => void = () => {};
  if (ui) {
    // Wired as `start` and `proxy` wire it: the bus queues, the store folds when the UI reads.
    const store = new FlowStore();
    bus.on((e) => {
      const t = performance.now();
      store.enqueue(e);
      storeMs += performance.now() - t;
    });
    stopStore = () => (storeMs += store.queueStats.foldMs);
    const input = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: () => unknown };
    input.isTTY = true;
    input.setRawMode = () => input;
    const output = new Writable({
      write(_chunk, _enc, cb) {
        cb();
      },
    }) as Writable & { isTTY: boolean; columns: number; rows: number };
    output.isTTY = true;
    output.columns = 120;
    output.rows = 40;
    const running = startUi({
      store,
      controls: proxy.controls,
      info: { listen: `127.0.0.1:${proxy.port}`, caName: ca.name, caSha256: ca.summary.sha256 },
      stdin: input,
      stdout: output,
      onFrame: (ms) => {
        frames++;
        drawMs += ms;
      },
    });
    stop = () => running.destroy();
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = `http://bench.localhost:${originPort}/api?n=`;
  let done = 0;
  const until = Date.now() + ROUND_SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: proxy.port,
            method: 'GET',
            path: target + done,
            headers: { host: `bench.localhost:${originPort}` },
            agent,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve());
          },
        );
        req.on('error', reject);
        req.end();
      });
      done++;
    }
  };
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
  const seconds = (performance.now() - t0) / 1000;
  gc.disconnect();
  agent.destroy();
  stopStore();
  stop();
  await proxy.close();
  return { rate: done / seconds, frames, storeMs, drawMs, seconds, gcMs };
}
