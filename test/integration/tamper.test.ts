// `--tamper`: the proxy changes what it relays on plain HTTP and on decrypted HTTPS, with the
// framing right (a new Content-Length, chunked bodies re-framed, gzip / deflate / br decoded and
// encoded again), marks each changed flow, and relays untouched — with a diag — what it cannot
// change safely. A client that refuses the forged certificate gets the real bytes or none.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import { explain } from '../../src/explain/index.ts';
import type { HttpRequestEvent, HttpResponseEvent } from '../../src/events/types.ts';
import { attachHeadlessPrinter } from '../../src/sinks/headless.ts';
import { FlowStore } from '../../src/store/index.ts';
import { headerLines, listRow } from '../../src/ui/frame.ts';
import { stripTags } from '../../src/ui/text.ts';
import { decryptedView } from '../../src/ui/views/decrypted.ts';
import { parseTamperRules, TAMPER_MAX_BYTES, type TamperRule } from '../../src/proxy/tamper.ts';
import { closeServer, listenLoopback } from '../support/net.ts';
import { curl, makeTestPki, startTestProxy, type TestProxy } from './helpers.ts';

const RULES: TamperRule[] = [
  {
    name: 'swap-iban',
    on: 'response',
    host: 'bank.test',
    replace: 'IBAN-AAA',
    with: 'IBAN-EVE-LONGER',
  },
  {
    name: 'request-iban',
    on: 'request',
    host: 'bank.test',
    method: 'POST',
    path: '/echo',
    field: 'iban',
    set: 'IBAN-EVE',
  },
  {
    name: 'confirm',
    on: 'response',
    host: 'bank.test',
    method: 'POST',
    path: '/echo',
    replace: 'IBAN-EVE',
    with: '{request.iban}',
  },
];

const PAGE = 'Pay to IBAN-AAA today. Again: IBAN-AAA.';
const HUGE = `IBAN-AAA${'x'.repeat(TAMPER_MAX_BYTES + 10)}`;

let plain: http.Server;
let secure: https.Server;
let tp: TestProxy;
let caPem: string;
/** The origin's own root: a device that trusts the real site but not the mitm-lab CA. */
let originRoot: string;
/** What the origin received on /echo: the body and the framing headers. */
const received: { body: string; length: string | undefined; te: string | undefined }[] = [];

const handler: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', (): void => {
    const body = Buffer.concat(chunks).toString();
    const text = { 'content-type': 'text/html; charset=utf-8' };
    switch (req.url) {
      case '/page':
        res.writeHead(200, { ...text, 'content-length': Buffer.byteLength(PAGE) });
        res.end(PAGE);
        return;
      case '/chunked':
        res.writeHead(200, text);
        res.write('Pay to IBAN-');
        setImmediate(() => res.end('AAA in two chunks'));
        return;
      case '/gzip':
      case '/deflate':
      case '/br': {
        const enc = req.url.slice(1);
        const packed =
          enc === 'gzip'
            ? zlib.gzipSync(PAGE)
            : enc === 'deflate'
              ? zlib.deflateSync(PAGE)
              : zlib.brotliCompressSync(Buffer.from(PAGE));
        res.writeHead(200, { ...text, 'content-encoding': enc, 'content-length': packed.length });
        res.end(packed);
        return;
      }
      case '/zstd':
        res.writeHead(200, { ...text, 'content-encoding': 'zstd' });
        res.end('IBAN-AAA (not really zstd)');
        return;
      case '/binary':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end('IBAN-AAA');
        return;
      case '/huge':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(HUGE);
        return;
      case '/echo':
        received.push({
          body,
          length: req.headers['content-length'],
          te: req.headers['transfer-encoding'],
        });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`booked: ${body}`);
        return;
      default:
        res.writeHead(404);
        res.end();
    }
  });
};

beforeAll(async () => {
  const pki = makeTestPki();
  const leaf = pki.leaf(['bank.test']);
  plain = http.createServer(handler);
  secure = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, handler);
  const [httpPort, httpsPort] = await Promise.all([plain, secure].map(listenLoopback));
  tp = await startTestProxy({
    tamper: RULES,
    upstreamCa: [pki.rootPem],
    resolve: [
      { pattern: 'bank.test', address: '127.0.0.1', ports: { 80: httpPort!, 443: httpsPort! } },
    ],
  });
  caPem = `${tp.caDir}/certs/ca.pem`;
  originRoot = path.join(tp.caDir, 'origin-root.pem');
  writeFileSync(originRoot, pki.rootPem);
});

afterAll(async () => {
  await tp?.close();
  for (const s of [plain, secure]) s?.closeAllConnections();
  await Promise.all([plain, secure].map((s) => (s ? closeServer(s) : undefined)));
});

/** curl through the proxy (decoding what it can): the body, and the response head it got. */
async function get(url: string, ...extra: string[]) {
  const r = await curl(['-sS', '-x', tp.proxy.url, '--compressed', '-D', '-', ...extra, url]);
  const cut = r.stdout.indexOf('\r\n\r\n');
  return { code: r.code, head: r.stdout.slice(0, cut), stdout: r.stdout.slice(cut + 4) };
}

const response = (path: string) =>
  tp.waitFor('http.response', (e) => {
    const req = tp.of('http.request').find((r) => r.flowId === e.flowId);
    return req?.path === path;
  });

describe('--tamper on plain HTTP', () => {
  it('proxy.listening names the rules', () => {
    expect(tp.of('proxy.listening')[0]?.tamper).toEqual(['swap-iban', 'request-iban', 'confirm']);
  });

  it('rewrites a Content-Length body, with the new length, and marks the flow', async () => {
    const r = await get('http://bank.test/page');
    expect(r.code).toBe(0);
    const want = PAGE.replaceAll('IBAN-AAA', 'IBAN-EVE-LONGER');
    expect(r.stdout).toBe(want);
    expect(r.head).toMatch(new RegExp(`content-length: ${Buffer.byteLength(want)}$`, 'im'));
    const e = await response('/page');
    expect(e.tampered?.rules).toEqual(['swap-iban']);
    expect(e.body).toMatchObject({ text: PAGE }); // what the server sent
    expect(e.tampered?.before).toMatchObject({ text: PAGE });
    expect(e.tampered?.after).toMatchObject({ text: want }); // what the client got
    expect(e.tampered?.encoding).toBeNull();
  });

  it('keeps a keep-alive connection in step: a tampered response, then the next one on it', async () => {
    const from = tp.events.length;
    const r = await curl([
      '-sS',
      '-x',
      tp.proxy.url,
      'http://bank.test/page',
      'http://bank.test/binary',
      'http://bank.test/page',
    ]);
    expect(r.code).toBe(0);
    const want = PAGE.replaceAll('IBAN-AAA', 'IBAN-EVE-LONGER');
    expect(r.stdout).toBe(`${want}IBAN-AAA${want}`);
    // All three rode one client connection (curl reuses it): the framing held between them.
    const reqs = tp.events.slice(from).filter((e) => e.type === 'http.request');
    expect(reqs).toHaveLength(3);
    expect(new Set(reqs.map((e) => e.connId)).size).toBe(1);
  });

  it('re-frames a chunked body with a Content-Length', async () => {
    const r = await get('http://bank.test/chunked');
    expect(r.stdout).toBe('Pay to IBAN-EVE-LONGER in two chunks');
    expect(r.head).not.toMatch(/transfer-encoding/i);
    expect(r.head).toMatch(/content-length: 36$/im);
    expect((await response('/chunked')).tampered?.rules).toEqual(['swap-iban']);
  });

  it.each(['gzip', 'deflate', 'br'])('decodes, rewrites and re-encodes a %s body', async (enc) => {
    const r = await get(`http://bank.test/${enc}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(PAGE.replaceAll('IBAN-AAA', 'IBAN-EVE-LONGER'));
    expect(r.head).toMatch(new RegExp(`content-encoding: ${enc}$`, 'im'));
    const e = await response(`/${enc}`);
    expect(e.tampered?.encoding).toBe(enc);
    expect(e.tampered?.after).toMatchObject({ text: r.stdout });
    // The stored body is the server's, still encoded.
    expect('bytes' in e.body).toBe(true);
  });

  it.each([
    ['/zstd', /encoded as "zstd"/],
    ['/binary', /image\/png, not text/],
    ['/huge', new RegExp(`over ${TAMPER_MAX_BYTES} bytes`)],
  ])('relays %s untouched, with a diag naming the rule and why', async (path, why) => {
    const r = await curl(['-sS', '-x', tp.proxy.url, `http://bank.test${path}`]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('IBAN-AAA')).toBe(true);
    if (path === '/huge') expect(r.stdout.length).toBe(HUGE.length);
    const e = await response(path);
    expect(e.tampered).toBeNull();
    const d = await tp.waitFor('diag', (x) => x.source === 'tamper' && x.message.includes(path));
    expect(d.message).toContain('swap-iban');
    expect(d.message).toMatch(why);
  });

  it('sets a form field on the way to the server (right Content-Length) and puts it back in the answer', async () => {
    const r = await curl([
      '-sS',
      '-x',
      tp.proxy.url,
      '-d',
      'name=Landlord&iban=IBAN-AAA&amount=120.00',
      'http://bank.test/echo',
    ]);
    const got = received.at(-1)!;
    expect(got.body).toBe('name=Landlord&iban=IBAN-EVE&amount=120.00');
    expect(got.length).toBe(String(Buffer.byteLength(got.body)));
    expect(got.te).toBeUndefined();
    // The server booked IBAN-EVE; the client is shown its own IBAN back.
    expect(r.stdout).toBe('booked: name=Landlord&iban=IBAN-AAA&amount=120.00');
    const req = await tp.waitFor(
      'http.request',
      (e: HttpRequestEvent) => e.path === '/echo' && e.tampered != null,
    );
    expect(req.body).toMatchObject({ text: 'name=Landlord&iban=IBAN-AAA&amount=120.00' });
    expect(req.tampered?.after).toMatchObject({ text: got.body });
    const res = (await tp.waitFor(
      'http.response',
      (e) => e.flowId === req.flowId,
    )) as HttpResponseEvent;
    expect(res.tampered?.rules).toEqual(['confirm']);
  });
});

describe('--tamper on HTTPS', () => {
  it('changes a decrypted response for a client that trusts the CA', async () => {
    const r = await curl(['-sS', '-x', tp.proxy.url, '--cacert', caPem, 'https://bank.test/page']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(PAGE.replaceAll('IBAN-AAA', 'IBAN-EVE-LONGER'));
    const e = await tp.waitFor(
      'http.response',
      (x) => x.visibility === 'proxy-only' && x.tampered != null,
    );
    expect(e.tampered?.rules).toEqual(['swap-iban']);
  });

  it('cannot change anything for a client that refuses the forged certificate', async () => {
    // This device trusts the real site's root, not the mitm-lab CA: it refuses the forgery
    // (curl exit 60), and auto mode tunnels the retry to the real server, over TLS the proxy
    // cannot read — the page arrives as the server sent it.
    const args = ['-sS', '-x', tp.proxy.url, '--cacert', originRoot, 'https://bank.test/page'];
    const refused = await curl(args);
    expect(refused.code).toBe(60);
    await tp.waitFor('tls.client-rejected', (e) => e.host === 'bank.test');
    const tunnelled = await curl(args);
    expect(tunnelled.code).toBe(0);
    expect(tunnelled.stdout).toBe(PAGE);
    const t = await tp.waitFor('tunnel.summary', (e) => e.host === 'bank.test');
    expect(t.reason).toBe('auto-refused-before');
    // The explanations of both say nothing there could be changed.
    const rejected = tp.of('tls.client-rejected').find((e) => e.host === 'bank.test')!;
    expect(explain(rejected).lesson).toContain('neither read it nor change it');
    expect(explain(t).lesson).toContain('nothing in the tunnel can be changed');
    expect(
      tp.of('http.response').filter((e) => e.visibility === 'proxy-only' && e.tampered).length,
    ).toBe(1); // only the trusting client's, from the test above
  });
});

describe('rules files', () => {
  it('accepts an array or {rules: []}', () => {
    const one = [{ on: 'response', host: 'x.test', replace: 'a', with: 'b' }];
    expect(parseTamperRules(JSON.stringify(one), 'f')).toHaveLength(1);
    expect(parseTamperRules(JSON.stringify({ rules: one }), 'f')[0]).toMatchObject({
      name: 'response rule',
      host: 'x.test',
    });
  });

  it.each([
    ['not json', /f is not JSON/],
    ['[]', /non-empty JSON array/],
    ['[{"on":"sideways","host":"x","replace":"a","with":"b"}]', /rule 1: "on" must be/],
    ['[{"on":"response","replace":"a","with":"b"}]', /"host" is missing/],
    ['[{"on":"response","host":"x","field":"a","set":"b"}]', /"on" must be "request"/],
    ['[{"on":"request","host":"x"}]', /either "replace" and "with"/],
    [
      '[{"on":"request","host":"x","replace":"a","with":"b","colour":"red"}]',
      /unknown key "colour"/,
    ],
    [
      '[{"on":"request","host":"x","path":"transfer","replace":"a","with":"b"}]',
      /must start with \//,
    ],
  ])('refuses %s with a sentence', (text, message) => {
    expect(() => parseTamperRules(text, 'f')).toThrow(message);
  });
});

describe('what the UI and the headless printer show of a tampered flow', () => {
  it('the list row carries TAMPERED, the Decrypted view the original and what was received', () => {
    const store = new FlowStore();
    for (const e of tp.events) store.apply(e);
    const echo = store.all().find((f) => f.path === '/echo' && f.request?.tampered);
    expect(echo).toBeDefined();
    expect(stripTags(listRow(echo!, 120, false, false))).toContain('TAMPERED /echo');
    const untouched = store.all().find((f) => f.path === '/zstd');
    expect(stripTags(listRow(untouched!, 120, false, false))).not.toContain('TAMPERED');
    const text = decryptedView(echo!, { redact: false, width: 120 }).map(stripTags);
    const at = (s: string) => text.findIndex((l) => l.includes(s));
    // The request: what the client sent (iban IBAN-AAA), then what the server got (IBAN-EVE).
    const sent = at('As the client sent it');
    const got = at('What the server received instead');
    expect(sent).toBeGreaterThan(0);
    expect(got).toBeGreaterThan(sent);
    expect(text.slice(sent, got).join('\n')).toMatch(/^ {2}iban = IBAN-AAA$/m);
    expect(text.slice(got).join('\n')).toMatch(/^>>iban = IBAN-EVE$/m);
    expect(text.slice(got).join('\n')).toMatch(/^ {2}amount = 120\.00$/m); // unchanged: no >>
    // The response: the server booked IBAN-EVE; the client was shown IBAN-AAA.
    const served = at('As the server sent it');
    const shown = at('What the client received instead');
    expect(served).toBeGreaterThan(got);
    expect(text[served + 1]).toContain('booked: name=Landlord&iban=IBAN-EVE');
    expect(text[shown + 1]).toBe('>>booked: name=Landlord&iban=IBAN-AAA&amount=120.00');
  });

  it('the header says the proxy is tampering, and how many rules', () => {
    const store = new FlowStore();
    for (const e of tp.events) store.apply(e);
    const header = (tamper: readonly string[]) =>
      stripTags(
        headerLines(
          {
            listen: '127.0.0.1:8080',
            mode: 'auto',
            caName: 'CA',
            caSha256: 'AA:BB',
            counts: store.counts(),
            shown: 0,
            total: 0,
            maxFlows: 10,
            paused: null,
            redact: true,
            filter: '',
            source: null,
            tamper,
          },
          120,
        )[0]!,
      );
    expect(header(store.listening?.tamper ?? [])).toContain('TAMPERING (3 rules)');
    expect(header([])).not.toContain('TAMPERING');
  });

  it('the headless printer says TAMPERED and which rules', () => {
    const bus = new EventBus();
    const lines: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const printer = attachHeadlessPrinter(bus, out);
    for (const e of tp.events) bus.emit(e);
    printer.flush();
    const echo = lines.find((l) => l.includes('POST http://bank.test/echo'));
    expect(echo).toContain('TAMPERED by the proxy: request (request-iban) and response (confirm)');
  });
});
