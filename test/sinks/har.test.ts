// The HAR recorder: HAR 1.2 shape checked field by field, requests paired with responses by
// flowId, an upstream failure recorded as the 502 the client got, unanswered requests kept with
// status 0, bounded, and written atomically to a real file.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import {
  DEFAULT_MAX_HAR_BYTES,
  HarRecorder,
  type Har,
  type HarEntry,
} from '../../src/sinks/har.ts';
import { tempDir } from '../support/temp-dir.ts';
import { emitLesson, TIMINGS } from './event-kit.ts';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('mitm-lab-har-'));
});
afterEach(() => cleanup());

const isNameValue = (x: unknown): boolean =>
  typeof x === 'object' &&
  x !== null &&
  typeof (x as { name?: unknown }).name === 'string' &&
  typeof (x as { value?: unknown }).value === 'string';

/** The HAR 1.2 required fields and types (http://www.softwareishard.com/blog/har-12-spec/). */
function expectHar12Entry(e: HarEntry): void {
  expect(typeof e.startedDateTime).toBe('string');
  expect(new Date(e.startedDateTime).toISOString()).toBe(e.startedDateTime);
  expect(typeof e.time).toBe('number');
  expect(e.time).toBeGreaterThanOrEqual(0);
  const rq = e.request;
  expect(typeof rq.method).toBe('string');
  expect(typeof rq.url).toBe('string');
  expect(rq.httpVersion).toMatch(/^HTTP\/\d(\.\d)?$/);
  for (const list of [rq.headers, rq.queryString, rq.cookies]) {
    expect(Array.isArray(list)).toBe(true);
    for (const nv of list) expect(isNameValue(nv)).toBe(true);
  }
  expect(typeof rq.headersSize).toBe('number');
  expect(typeof rq.bodySize).toBe('number');
  const rs = e.response;
  expect(typeof rs.status).toBe('number');
  expect(typeof rs.statusText).toBe('string');
  expect(typeof rs.httpVersion).toBe('string');
  for (const list of [rs.headers, rs.cookies]) {
    expect(Array.isArray(list)).toBe(true);
    for (const nv of list) expect(isNameValue(nv)).toBe(true);
  }
  expect(typeof rs.content.size).toBe('number');
  expect(typeof rs.content.mimeType).toBe('string');
  expect(typeof rs.redirectURL).toBe('string');
  expect(typeof rs.headersSize).toBe('number');
  expect(typeof rs.bodySize).toBe('number');
  expect(e.cache).toEqual({});
  for (const k of ['blocked', 'dns', 'connect', 'send', 'wait', 'receive', 'ssl'] as const) {
    expect(typeof e.timings[k]).toBe('number');
    expect(e.timings[k]).toBeGreaterThanOrEqual(-1);
  }
  // send, wait and receive are required non-negative; time is the sum of the known phases.
  for (const k of ['send', 'wait', 'receive'] as const)
    expect(e.timings[k]).toBeGreaterThanOrEqual(0);
  const t = e.timings;
  const sum = [t.dns, t.connect, t.send, t.wait, t.receive]
    .filter((v) => v > 0)
    .reduce((a, b) => a + b, 0);
  expect(e.time).toBeCloseTo(sum, 3);
}

describe('HarRecorder', () => {
  it('renders HAR 1.2: log, creator, and one entry per request in order', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus);
    emitLesson(bus);
    const doc = har.toHar();
    expect(doc.log.version).toBe('1.2');
    expect(doc.log.creator).toEqual({
      name: 'mitm-lab',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect(doc.log.pages).toEqual([]);
    expect(doc.log.entries.map((e) => e.request.url)).toEqual([
      'http://bank.test/login?next=%2Faccount&lang=en',
      'https://bank.test/account',
      'https://expired.test/',
      'http://slow.test/',
    ]);
    for (const e of doc.log.entries) expectHar12Entry(e);
  });

  it('fills request and response from the paired events', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus);
    const events = emitLesson(bus);
    const [login] = har.toHar().log.entries;
    if (!login) throw new Error('no entry');
    const req = events.find((e) => e.type === 'http.request');
    expect(login.startedDateTime).toBe(req?.at);
    expect(login.request).toMatchObject({
      method: 'POST',
      httpVersion: 'HTTP/1.1',
      queryString: [
        { name: 'next', value: '/account' },
        { name: 'lang', value: 'en' },
      ],
      cookies: [
        { name: 'theme', value: 'dark' },
        { name: 'session', value: 'abc123' },
      ],
      postData: {
        mimeType: 'application/x-www-form-urlencoded',
        text: 'user=alice&password=hunter2',
        params: [],
      },
      headersSize: -1,
      bodySize: 27,
    });
    expect(login.request.headers[0]).toEqual({ name: 'Host', value: 'bank.test' });
    expect(login.response).toMatchObject({
      status: 302,
      statusText: 'Found',
      httpVersion: 'HTTP/1.1',
      redirectURL: '/account',
      bodySize: 1234,
      content: { size: 1234, mimeType: 'text/html', text: 'x'.repeat(1234) },
    });
    expect(login.response.cookies).toEqual([
      {
        name: 'session',
        value: 's3cr3t',
        path: '/',
        httpOnly: true,
        expires: '2026-11-25T10:00:00.000Z',
      },
    ]);
    // HAR's connect includes ssl; wait = ttfb; receive = total - ttfb.
    expect(login.timings).toEqual({
      blocked: -1,
      dns: 1.5,
      connect: 10,
      send: 0,
      wait: 12,
      receive: 8,
      ssl: 8,
    });
    expect(login.time).toBe(31.5);
    expect(login._visibility).toBe('wire');
    expect(login._connId).toBe('c1');
  });

  it('keeps binary and truncated bodies as base64 with marks, and reused connections as -1', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus);
    emitLesson(bus);
    const account = har.toHar().log.entries[1];
    expect(account?.response.content).toEqual({
      size: 300000,
      mimeType: 'image/png',
      text: Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString('base64'),
      encoding: 'base64',
      _truncated: true,
    });
    expect(account?.request.postData).toBeUndefined();
    expect(account?.timings).toMatchObject({ dns: -1, connect: -1, ssl: -1, wait: 3, receive: 7 });
    expect(account?._visibility).toBe('proxy-only');
  });

  it('records an upstream failure as the 502 the client got, with the reason', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus);
    emitLesson(bus);
    const [, , expired] = har.toHar().log.entries;
    expect(expired?.response).toMatchObject({
      status: 502,
      statusText: 'Bad Gateway',
      httpVersion: 'HTTP/1.1',
      comment:
        'mitm-lab answered 502 itself: the upstream expired.test:443 failed (CERT_HAS_EXPIRED: certificate has expired)',
      _error: 'CERT_HAS_EXPIRED: certificate has expired',
    });
    expect(expired?.response.bodySize).toBe(-1); // the 502's body is not in the events
    if (expired) expectHar12Entry(expired);
  });

  it('keeps unanswered requests with status 0 and the reason', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus);
    emitLesson(bus);
    // A request whose client was gone when the upstream failed: nobody got a 502.
    bus.emit({
      type: 'http.request',
      connId: 'c9',
      flowId: 'f9',
      scheme: 'https',
      method: 'GET',
      url: 'https://gone.test/',
      host: 'gone.test',
      path: '/',
      httpVersion: '1.1',
      headers: [['Host', 'gone.test']],
      body: { text: '', size: 0, truncated: false },
      visibility: 'proxy-only',
    });
    bus.emit({
      type: 'upstream.error',
      connId: 'c9',
      flowId: 'f9',
      host: 'gone.test',
      port: 443,
      code: 'ECONNRESET',
      message: 'socket hang up',
      status: null,
    });
    const entries = har.toHar().log.entries;
    const slow = entries.find((e) => e.request.url === 'http://slow.test/');
    const gone = entries.find((e) => e.request.url === 'https://gone.test/');
    expect(slow?.response).toMatchObject({ status: 0, statusText: '', _error: 'no response' });
    expect(gone?.response).toMatchObject({
      status: 0,
      statusText: '',
      _error: 'ECONNRESET: socket hang up',
    });
    expect(gone?.response.comment).toBeUndefined();
    for (const e of [slow, gone]) if (e) expectHar12Entry(e);
  });

  it('keeps only the newest maxEntries and says so', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus, { maxEntries: 2 });
    emitLesson(bus);
    const doc = har.toHar();
    expect(doc.log.entries.map((e) => e.request.url)).toEqual([
      'https://expired.test/',
      'http://slow.test/',
    ]);
    expect(doc.log.comment).toMatch(/2 older ones were dropped/);
  });

  /** `n` downloads of `body` on one connection, as the engine reports them. */
  function emitDownloads(bus: EventBus, n: number, body: Buffer): void {
    for (let i = 1; i <= n; i++) {
      bus.emit({
        type: 'http.request',
        connId: 'c1',
        flowId: `f${i}`,
        scheme: 'http',
        method: 'GET',
        url: `http://files.test/${i}.bin`,
        host: 'files.test',
        path: `/${i}.bin`,
        httpVersion: '1.1',
        headers: [['Host', 'files.test']],
        body: { text: '', size: 0, truncated: false },
        visibility: 'wire',
      });
      bus.emit({
        type: 'http.response',
        connId: 'c1',
        flowId: `f${i}`,
        status: 200,
        statusMessage: 'OK',
        httpVersion: '1.1',
        headers: [['Content-Type', 'application/octet-stream']],
        body: { bytes: body, size: body.length, truncated: false },
        visibility: 'wire',
        timings: TIMINGS,
        upstreamCertificate: null,
        upstreamProtocol: null,
        upstreamCipher: null,
      });
    }
  }

  it('keeps at most maxBytes of entries, the newest, and says so', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus, { maxBytes: 1024 * 1024 });
    emitDownloads(bus, 40, Buffer.alloc(100_000, 7));
    // ~100 KB a download: ten fit in 1 MiB, not eleven.
    expect(har.size).toBe(10);
    expect(har.heldBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(har.heldBytes).toBeGreaterThan(10 * 100_000);
    const doc = har.toHar();
    expect(doc.log.entries.map((e) => e.request.url)).toEqual(
      Array.from({ length: 10 }, (_, i) => `http://files.test/${31 + i}.bin`),
    );
    expect(doc.log.entries.at(-1)?.response.content.text).toBe(
      Buffer.alloc(100_000, 7).toString('base64'),
    );
    expect(doc.log.comment).toBe(
      'mitm-lab kept the last 10 entries (at most 5000, holding at most 1 MiB); 30 older ones were dropped',
    );
  });

  it('by default holds no more than the flow store does (64 MiB), however many bodies come', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus);
    // 600 bodies at the capture limit (256 KiB): 150 MiB had they all been kept.
    emitDownloads(bus, 600, Buffer.alloc(256 * 1024, 1));
    expect(har.heldBytes).toBeLessThanOrEqual(DEFAULT_MAX_HAR_BYTES);
    expect(DEFAULT_MAX_HAR_BYTES).toBe(64 * 1024 * 1024);
    expect(har.size).toBeLessThanOrEqual(256); // each holds over 256 KiB
    expect(har.size).toBeGreaterThan(240); // and not much more (headers, URLs, the events)
    const urls = har.toHar().log.entries.map((e) => e.request.url);
    expect(urls[0]).toBe(`http://files.test/${600 - har.size + 1}.bin`);
    expect(har.toHar().log.entries.at(-1)?.request.url).toBe('http://files.test/600.bin');
  });

  it('keeps one entry larger than the budget: the newest is never dropped', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus, { maxBytes: 10_000 });
    emitDownloads(bus, 3, Buffer.alloc(50_000));
    expect(har.toHar().log.entries.map((e) => e.request.url)).toEqual(['http://files.test/3.bin']);
  });

  it('writes the archive atomically to a file, replacing an older one', async () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus);
    const file = join(dir, 'flows.har');
    await har.writeTo(file);
    expect((JSON.parse(readFileSync(file, 'utf8')) as Har).log.entries).toEqual([]);
    emitLesson(bus);
    await har.writeTo(file);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Har;
    expect(doc.log.version).toBe('1.2');
    expect(doc.log.entries).toHaveLength(4);
    expect(doc).toEqual(JSON.parse(JSON.stringify(har.toHar())));
    expect(readdirSync(dir)).toEqual(['flows.har']); // no temporary file left behind
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('rejects a write into a missing folder and leaves nothing behind', async () => {
    const har = new HarRecorder(new EventBus());
    const bad = join(dir, 'missing', 'flows.har');
    await expect(har.writeTo(bad)).rejects.toThrow(/ENOENT/);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('stops recording after detach', () => {
    const bus = new EventBus();
    const har = new HarRecorder(bus);
    har.detach();
    emitLesson(bus);
    expect(har.toHar().log.entries).toEqual([]);
  });
});
