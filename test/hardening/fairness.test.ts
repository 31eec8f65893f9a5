// Issue 13, item 10: with 1,000 busy keep-alive connections new connections were accepted about
// one per turn of the event loop (libuv accepts one connection per poll since 1.45, and each
// poll brought a thousand ready sockets): their first response had p50 23 s, p99 30 s; 43 % of
// 1,000 HTTPS connections opened at once never opened; RSS went 99 → 364 MB and stayed there.
// Now client reads are handed on a bounded number per turn (src/proxy/fair-reads.ts), the kernel
// holds up to 4,096 connections before the accept, and memory is released after a burst
// (src/proxy/memory-release.ts).
//
// Three processes, so that no event loop is shared: the proxy (the engine alone, ulimit -n
// 8192: 1,000 intercepted connections hold ~3,300 descriptors), the load (an origin and the
// clients: ./load-child.ts), and this test, which only opens the new connections it times.
// What is asserted is the issue's own bound on what a new client sees; the load is what the
// issue measured, and the margin measured here is wide (p99 ~0.1 s against 1 s).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki } from '../integration/helpers.ts';
import { tempDir } from '../support/temp-dir.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { startEngineProcess, type CliProxy } from './helpers.ts';
import { firstResponse, percentile, startLoadChild, type LoadChild } from './load.ts';

const BUSY = 1000;
const PROBES = 100;
const PROBE_EVERY_MS = 50;
const HTTPS = 1000;
const BATCH = 100;
/** The bound for a new connection's first response, p99. */
const FIRST_RESPONSE_P99_MS = 1000;
/**
 * How far above its idle plateau RSS may be 10 s after the burst. Measured: 31–37 MB above it
 * (TLS memory that the allocator keeps), from 63–90 MB above it with the connections open;
 * without the release after a burst, RSS stayed at its peak for good.
 */
const RSS_MARGIN_MB = 48;
/** The name clients ask for: `.localhost` always resolves to 127.0.0.1, and the CA may sign it. */
const HOST = 'busy.localhost';

describe('fairness under load (issue 13, item 10)', () => {
  let proxy: CliProxy;
  let load: LoadChild;
  const tmp = tempDir('mitm-lab-fair-');

  beforeAll(async () => {
    const pki = makeTestPki();
    load = await startLoadChild(pki.leaf([HOST]), tmp.dir);
    proxy = await startEngineProcess(
      { mode: 'intercept', upstreamCa: [pki.rootPem], print: [] },
      { fdLimit: 8192 },
    );
  }, 60_000);
  /** The proxy still runs, printed no stack trace, and answers a new connection. */
  async function expectServing(): Promise<void> {
    expect(proxy.process.running(), proxy.process.err().slice(-3000)).toBe(true);
    expect(proxy.process.err()).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    const r = await firstResponse(proxy.port, `http://${HOST}:${load.origin.http}/alive`);
    expect(r.statusLine).toBe('HTTP/1.1 200 OK');
  }

  afterAll(async () => {
    await load?.stop();
    await proxy?.stop();
    tmp.cleanup();
  });

  it(`${BUSY} busy keep-alive connections: a new connection gets its first response within 1 s (p99)`, async () => {
    load.send({ cmd: 'busy', proxyPort: proxy.port, conns: BUSY, host: HOST });
    let results: { ms: number; statusLine: string }[];
    let busyDuring: number;
    try {
      // Every busy connection has been answered at least once: all are in, all are busy.
      await load.waitFor(
        (r) => r.busy !== undefined && (r.busy.served === BUSY || r.busy.errors > 0),
        `all ${BUSY} connections served`,
        240_000,
      );
      expect(load.latest('busy')).toMatchObject({ opened: BUSY, served: BUSY, errors: 0 });
      const doneBefore = load.latest('busy')!.done;
      const probes: Promise<{ ms: number; statusLine: string }>[] = [];
      for (let i = 0; i < PROBES; i++) {
        probes.push(
          firstResponse(proxy.port, `http://${HOST}:${load.origin.http}/new-connection-${i}`),
        );
        await sleep(PROBE_EVERY_MS);
      }
      results = await Promise.all(probes);
      busyDuring = load.latest('busy')!.done - doneBefore;
      expect(load.latest('busy')!.errors).toBe(0);
    } finally {
      const since = load.count();
      load.send({ cmd: 'stop-busy' });
      await load.waitFor((r) => r.stopped === 'busy', 'busy connections closed', 60_000, since);
    }
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    const figures =
      `first response of ${PROBES} new connections beside ${BUSY} busy ones: ` +
      `p50 ${Math.round(percentile(ms, 0.5))} ms, p99 ${Math.round(percentile(ms, 0.99))} ms, ` +
      `max ${Math.round(ms.at(-1)!)} ms; the busy ones got ${busyDuring} responses meanwhile`;
    console.info(figures);
    expect(results.filter((r) => r.statusLine !== 'HTTP/1.1 200 OK')).toEqual([]);
    expect(percentile(ms, 0.99), figures).toBeLessThanOrEqual(FIRST_RESPONSE_P99_MS);
    // …and the busy connections were served all along (fair both ways).
    expect(busyDuring).toBeGreaterThan(BUSY);
    await expectServing();
  }, 400_000);

  it(`${HTTPS} intercepted HTTPS connections opened ${BATCH} at a time all open; RSS is back near its plateau 10 s after`, async () => {
    // The plateau: the proxy idle, after the load above and the release that follows a burst.
    await waitFor(async () => (await proxy.stats()).connections === 0, 'no connection left', {
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    await sleep(5000);
    const plateau = proxy.rssMb();

    const since = load.count();
    load.send({
      cmd: 'https',
      proxyPort: proxy.port,
      conns: HTTPS,
      batch: BATCH,
      host: HOST,
      caFile: proxy.caCert,
    });
    const report = await load.waitFor(
      (r) => r.https !== undefined,
      `${HTTPS} HTTPS connections opened`,
      300_000,
      since,
    );
    const open = (await proxy.stats()).connections;
    const peak = proxy.rssMb();
    expect(report.https).toEqual({ opened: HTTPS, failed: 0, errors: {} });
    expect(open).toBeGreaterThanOrEqual(HTTPS);

    const closing = load.count();
    load.send({ cmd: 'close-https' });
    await load.waitFor((r) => r.stopped === 'https', 'HTTPS connections closed', 60_000, closing);
    const closedAt = Date.now();
    let rss = proxy.rssMb();
    const back = await waitFor(() => (rss = proxy.rssMb()) <= plateau + RSS_MARGIN_MB, 'RSS', {
      timeoutMs: 10_000,
      intervalMs: 250,
    }).then(
      () => true,
      () => false,
    );
    const backAfter = (Date.now() - closedAt) / 1000;
    await sleep(Math.max(0, closedAt + 10_000 - Date.now()));
    const figures =
      `RSS ${Math.round(plateau)} MB idle, ${Math.round(peak)} MB with ${open} connections open, ` +
      `${Math.round(rss)} MB ${backAfter.toFixed(1)} s after they closed, ` +
      `${Math.round(proxy.rssMb())} MB 10 s after`;
    console.info(figures);
    expect(back, figures).toBe(true);
    await expectServing();
  }, 400_000);
});
