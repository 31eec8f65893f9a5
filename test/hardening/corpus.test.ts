// Issue 13: what held when the proxy was attacked — every bad CONNECT target gets 400 with a
// reason, mutated ClientHellos are survived — kept as a corpus (./corpus.ts) that this test runs
// through the real CLI under `ulimit -n 1024`, and `npm run soak` runs ten times larger. Every
// bad request gets a 4xx answer or a close, every ClientHello a TLS answer, a close, or the wait
// for the rest of it (until the after-CONNECT limit); the process never prints a stack trace,
// and it serves a request afterwards with its descriptors back where they were.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, startOrigin, type Origin } from '../integration/helpers.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';
import {
  BAD_CONNECT_TARGETS,
  captureClientHello,
  mutatedClientHellos,
  RAW_INPUTS,
  runCorpus,
  sendHello,
  sendRaw,
} from './corpus.ts';
import { FD_LIMIT, startCliProxy, type CliProxy } from './helpers.ts';

const HELLOS = 400;

describe('the corpus of bad inputs (issue 13)', () => {
  let origin: Origin;
  let proxy: CliProxy;
  const tmp = tempDir('mitm-lab-corpus-');

  beforeAll(async () => {
    const pki = makeTestPki();
    origin = await startOrigin(pki.leaf(['corpus.test']));
    const root = path.join(tmp.dir, 'root.pem');
    writeFileSync(root, pki.rootPem);
    proxy = await startCliProxy(
      [
        '--mode',
        'intercept',
        '--upstream-ca',
        root,
        '--resolve',
        `corpus.test:443=127.0.0.1:${origin.httpsPort}`,
        '--resolve',
        'ok.test=127.0.0.1',
      ],
      { fdLimit: FD_LIMIT },
    );
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await origin?.close();
    tmp.cleanup();
  });

  it('every bad CONNECT target gets 400', async () => {
    const outcomes = await Promise.all(
      BAD_CONNECT_TARGETS.map((t) =>
        sendRaw(proxy.port, Buffer.from(`CONNECT ${t} HTTP/1.1\r\nHost: x\r\n\r\n`)),
      ),
    );
    expect(BAD_CONNECT_TARGETS.filter((_, i) => !/^HTTP\/1\.1 400 /.test(outcomes[i]!))).toEqual(
      [],
    );
  });

  it('bytes that are no request get a 4xx answer or a close', async () => {
    const outcomes = await Promise.all(RAW_INPUTS.map((r) => sendRaw(proxy.port, r.bytes)));
    const named = Object.fromEntries(RAW_INPUTS.map((r, i) => [r.name, outcomes[i]]));
    for (const [name, outcome] of Object.entries(named)) {
      expect(outcome, name).toMatch(/^(HTTP\/1\.1 4\d\d |closed$)/);
    }
  });

  it(`${HELLOS} mutated ClientHellos (and one cut short): the proxy answers, closes or waits, and keeps serving`, async () => {
    const fdsBefore = proxy.openFds();
    const hello = await captureClientHello('corpus.test');
    const inputs = [hello.subarray(0, 40), ...mutatedClientHellos(hello, HELLOS)].map(
      (h) => () => sendHello(proxy.port, 'corpus.test:443', h, 2000),
    );
    const counts = await runCorpus(inputs);
    console.info(`corpus: ${JSON.stringify(Object.fromEntries(counts))}`);
    const known = /^(TLS alert|TLS handshake|closed|no answer yet \(still open\)|\d+ bytes|bytes)$/;
    expect([...counts.keys()].filter((o) => !known.test(o))).toEqual([]);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(HELLOS + 1);
    let fds = proxy.openFds();
    await waitFor(() => (fds = proxy.openFds()) <= fdsBefore + 4, `descriptors back (${fds})`, {
      timeoutMs: 30_000,
    });
    await proxy.expectAlive(origin.httpPort);
  }, 180_000);
});
