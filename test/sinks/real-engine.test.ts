// The sinks on the real engine's events: a real proxy (temp CA), the built-in lab and real curl.
// A login over plain HTTP, HTTPS refused by curl without the CA, then decrypted for curl with
// it, then a broken upstream answered 502 — seen in the JSONL log, the HAR, the key log (both
// TLS legs) and the headless lines.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import { EventBus } from '../../src/events/bus.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import type { RunningProxy } from '../../src/proxy/index.ts';
import { HarRecorder, type Har } from '../../src/sinks/har.ts';
import { attachHeadlessPrinter } from '../../src/sinks/headless.ts';
import { openJsonlSink, type JsonlSink } from '../../src/sinks/jsonl.ts';
import { openKeylogSink, type KeylogSink } from '../../src/sinks/keylog.ts';
import { startLabProxy } from '../lab/support/lab-proxy.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

/** curl's exit code (1 when it had none: killed or not started). */
async function curl(args: string[]): Promise<number> {
  const r = await runTool('curl', ['-s', '-o', '/dev/null', '--max-time', '10', ...args]);
  return r.code ?? 1;
}

const until = (cond: () => boolean, ms = 8000): Promise<void> =>
  waitFor(cond, 'condition', { timeoutMs: ms });

let dir: string;
let cleanup: (() => void) | undefined;
let ca: Ca;
let lab: RunningLab;
let proxy: RunningProxy;
let jsonl: JsonlSink;
let keylog: KeylogSink;
let har: HarRecorder;
const events: ProxyEvent[] = [];
let printed = '';

describe.skipIf(!hasTool('curl'))(
  'sinks on the real engine (curl through the proxy to the lab)',
  () => {
    beforeAll(async () => {
      ({ dir, cleanup } = tempDir('mitm-lab-sinks-'));
      ca = await openCa({ dir: path.join(dir, 'ca') });
      lab = await startLab({ dir: path.join(dir, 'lab') });
      const bus = new EventBus();
      bus.on((e) => events.push(e));
      const out = new PassThrough();
      out.on('data', (d: Buffer) => (printed += d.toString()));
      attachHeadlessPrinter(bus, out);
      jsonl = openJsonlSink(path.join(dir, 'events.jsonl'), bus);
      keylog = openKeylogSink(path.join(dir, 'keys.log'));
      har = new HarRecorder(bus);
      ({ proxy } = await startLabProxy(ca, lab, { bus, keylog: (line) => keylog.write(line) }));
      // The lesson: login over HTTP, refusal without the CA, decrypted with it.
      expect(
        await curl([
          '-x',
          proxy.url,
          '-d',
          'user=alice&password=hunter2',
          'http://bank.test/login',
        ]),
      ).toBe(0);
      expect(await curl(['-x', proxy.url, 'https://bank.test/'])).toBe(60);
      await until(() => events.some((e) => e.type === 'tls.client-rejected'));
      proxy.controls.forgetRejected();
      expect(await curl(['-x', proxy.url, '--cacert', ca.certPath, 'https://bank.test/'])).toBe(0);
      await until(() =>
        events.some((e) => e.type === 'http.response' && e.visibility === 'proxy-only'),
      );
      // A broken upstream (the gallery's RSA-1024 host): curl gets the proxy's 502.
      expect(
        await curl(['-x', proxy.url, '--cacert', ca.certPath, 'https://weak-key.bank.test/']),
      ).toBe(0);
      await until(() => events.some((e) => e.type === 'upstream.error'));
      await until(() => events.filter((e) => e.type === 'conn.close').length >= 4);
    }, 60_000);

    afterAll(async () => {
      await proxy?.close();
      await lab?.close();
      await jsonl?.close();
      await keylog?.close();
      cleanup?.();
    });

    it('logs every event as a JSON line, the login body on the wire', async () => {
      const lines = (await readFile(path.join(dir, 'events.jsonl'), 'utf8')).trimEnd().split('\n');
      const logged = lines.map((l) => JSON.parse(l) as ProxyEvent);
      expect(logged.map((e) => e.id)).toEqual(events.slice(0, logged.length).map((e) => e.id));
      expect(logged[0]?.type).toBe('proxy.listening');
      const login = logged.find((e) => e.type === 'http.request' && e.method === 'POST');
      expect(login).toMatchObject({
        visibility: 'wire',
        body: { text: 'user=alice&password=hunter2' },
      });
      expect(logged.some((e) => e.type === 'tls.client-rejected' && e.alert?.code === 48)).toBe(
        true,
      );
    });

    it('prints one readable line per outcome', () => {
      expect(printed).toMatch(/LISTEN +127\.0\.0\.1:\d+ {2}mode auto/);
      expect(printed).toMatch(
        /HTTP +plaintext {2}POST http:\/\/bank\.test\/login -> \d{3} .*\[password visible on the wire\]/,
      );
      expect(printed).toMatch(
        /REFUSED +bank\.test {2}alert 48 unknown_ca {2}client curl {2}Refused: unknown CA/,
      );
      expect(printed).toMatch(/TRUSTED +bank\.test {2}TLS 1\.3/);
      expect(printed).toMatch(/HTTPS +decrypted {2}GET https:\/\/bank\.test\/ -> 200 OK/);
    });

    it('records the flows as HAR 1.2 and writes them to a file', async () => {
      const file = path.join(dir, 'flows.har');
      await har.writeTo(file);
      const doc = JSON.parse(await readFile(file, 'utf8')) as Har;
      expect(doc.log.version).toBe('1.2');
      const [login, decrypted] = doc.log.entries;
      expect(login?.request).toMatchObject({
        method: 'POST',
        url: 'http://bank.test/login',
        postData: { text: 'user=alice&password=hunter2' },
      });
      expect(login?._visibility).toBe('wire');
      expect(decrypted?.request.url).toBe('https://bank.test/');
      expect(decrypted?.response.status).toBe(200);
      expect(decrypted?._visibility).toBe('proxy-only');
      expect(decrypted?.timings.wait).toBeGreaterThanOrEqual(0);
    });

    it('records the broken upstream as the 502 curl got, with the reason', async () => {
      const doc = har.toHar();
      const weak = doc.log.entries.find((e) => e.request.url === 'https://weak-key.bank.test/');
      expect(weak?.response).toMatchObject({
        status: 502,
        statusText: 'Bad Gateway',
        _error: expect.stringMatching(/^UPSTREAM_KEY_TOO_WEAK: .*RSA key of 1024 bits/),
      });
      expect(weak?.response.comment).toMatch(/^mitm-lab answered 502 itself/);
    });

    it('writes key log lines for both TLS legs (client↔proxy and proxy↔lab)', async () => {
      const lines = (await readFile(path.join(dir, 'keys.log'), 'utf8')).trimEnd().split('\n');
      for (const l of lines) expect(l).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+$/);
      const randoms = new Set(
        lines.filter((l) => l.startsWith('SERVER_TRAFFIC_SECRET_0 ')).map((l) => l.split(' ')[1]),
      );
      // At least the refused attempt's or the decrypted client leg, plus the upstream leg.
      expect(randoms.size).toBeGreaterThanOrEqual(2);
    });
  },
);
