// The headless printer: one readable line per outcome, saying visibility and outcome, with the
// explain catalog's titles; steps and info diags print nothing; a dead stream stops it quietly.
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import type { NewEvent } from '../../src/events/types.ts';
import { attachHeadlessPrinter, formatBytes } from '../../src/sinks/headless.ts';
import { waitUntil } from '../support/wait.ts';
import { emitLesson, lessonEvents } from './event-kit.ts';

function closeOf(connId: string): NewEvent {
  const empty = { bytes: Buffer.alloc(0), size: 0, truncated: false };
  return {
    type: 'conn.close',
    connId,
    durationMs: 1,
    wire: {
      up: empty,
      down: empty,
      records: [],
      recordsTruncated: false,
      serverCertificates: null,
      tlsVersion: null,
    },
  };
}

function capture(): { out: PassThrough; lines: () => string[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  return { out, lines: () => text.split('\n').filter((l) => l !== '') };
}

/** Unanswered requests are printed after a grace period: wait (bounded) for them. */
async function waitForLines(lines: () => string[], n: number): Promise<void> {
  await waitUntil(() => lines().length >= n, { timeoutMs: 3000 });
}

describe('attachHeadlessPrinter', () => {
  it('prints one line per outcome of the lesson, in order', async () => {
    const bus = new EventBus();
    const { out, lines } = capture();
    const printer = attachHeadlessPrinter(bus, out);
    emitLesson(bus);
    await waitForLines(lines, 10);
    const got = lines();
    const words = got.map((l) => l.split(/\s+/)[1]);
    expect(words).toEqual([
      'LISTEN',
      'HTTP',
      'TRUSTED',
      'HTTPS',
      'REFUSED',
      'TUNNEL',
      'UPSTREAM',
      'WS',
      'WARN',
      'HTTP', // the unanswered request, printed when its connection closed
    ]);
    expect(printer.lines).toBe(got.length);
    for (const l of got) expect(l).toMatch(/^\d\d:\d\d:\d\d [A-Z]+ +\S/);
  });

  it('says what each line means: visibility, sizes, alerts, reasons', async () => {
    const bus = new EventBus();
    const { out, lines } = capture();
    attachHeadlessPrinter(bus, out);
    emitLesson(bus);
    await waitForLines(lines, 10);
    const [listen, http, trusted, https, refused, tunnel, upstream, ws, warn, slow] = lines();
    expect(listen).toMatch(
      /LISTEN +127\.0\.0\.1:8080 {2}mode auto {2}CA "mitm-lab throwaway CA 2026-11-23 3f9a1c" 3F:9A {2}upstream validation on$/,
    );
    expect(http).toMatch(
      /HTTP +plaintext {2}POST http:\/\/bank\.test\/login\?next=%2Faccount&lang=en -> 302 Found \(1\.2 KB\) \[password, cookies visible on the wire\]$/,
    );
    expect(trusted).toMatch(
      /TRUSTED +bank\.test {2}TLS 1\.3 TLS_AES_256_GCM_SHA384 {2}HTTPS decrypted: the client trusts the interceptor$/,
    );
    expect(https).toMatch(
      /HTTPS +decrypted {2}GET https:\/\/bank\.test\/account -> 200 OK \(293\.0 KB, capture cut\) \[decrypted: only the proxy reads it\]$/,
    );
    expect(refused).toMatch(
      /REFUSED +bank\.test {2}alert 48 unknown_ca {2}client curl {2}Refused: unknown CA \(alert 48\) {2}\[auto: next connections tunnelled\]$/,
    );
    expect(tunnel).toMatch(
      /TUNNEL +bank\.test:443 {2}TLS 1\.2 {2}up 1\.9 KB \/ down 6\.1 KB, 15 records, 230 ms {2}certificate in clear: CN=bank\.test, O=mitm-lab {2}Tunnelled: a client refused the forgery for this host before$/,
    );
    expect(upstream).toMatch(
      /UPSTREAM +expired\.test:443 {2}CERT_HAS_EXPIRED -> 502 {2}GET https:\/\/expired\.test\/ {2}The real server's certificate has expired$/,
    );
    expect(ws).toMatch(/WS +plaintext {2}client->server text "hello\\nworld" \(11 B\)$/);
    expect(warn).toMatch(/WARN +\[connect\] bad CONNECT target \.\.\/\.\.\/x:443$/);
    expect(slow).toMatch(
      /HTTP +plaintext {2}GET http:\/\/slow\.test\/ -> \(no response\) \[credentials visible on the wire\]$/,
    );
  });

  it('keeps each line on one line and free of terminal control characters', () => {
    const bus = new EventBus();
    const { out, lines } = capture();
    attachHeadlessPrinter(bus, out);
    bus.emit({
      type: 'diag',
      connId: null,
      level: 'error',
      source: 'engine',
      message: 'a\nb\x1b[2Jc',
    });
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/ERROR +\[engine\] a b\?\[2Jc$/);
  });

  it('prints a response that arrives just after its connection closed, once, with its request', async () => {
    const bus = new EventBus();
    const { out, lines } = capture();
    attachHeadlessPrinter(bus, out);
    const [, , request, response] = lessonEvents();
    if (request?.type !== 'http.request' || response?.type !== 'http.response')
      throw new Error('kit');
    bus.emit(request);
    bus.emit({ ...closeOf('c1') });
    bus.emit(response);
    await new Promise((r) => setTimeout(r, 1200));
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(
      /POST http:\/\/bank\.test\/login\?next=%2Faccount&lang=en -> 302 Found/,
    );
  });

  it('prints pending requests on detach and nothing after', () => {
    const bus = new EventBus();
    const { out, lines } = capture();
    const printer = attachHeadlessPrinter(bus, out);
    bus.emit({
      type: 'http.request',
      connId: 'c1',
      flowId: 'f1',
      scheme: 'http',
      method: 'GET',
      url: 'http://shop.test/',
      host: 'shop.test',
      path: '/',
      httpVersion: '1.1',
      headers: [],
      body: { text: '', size: 0, truncated: false },
      visibility: 'wire',
    });
    expect(lines()).toEqual([]);
    printer.detach();
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(
      /GET http:\/\/shop\.test\/ -> \(no response\) \[visible on the wire\]/,
    );
    emitLesson(bus);
    expect(lines()).toHaveLength(1);
  });

  it('writes the traffic lines of one turn of the event loop at once, after the lines before them', async () => {
    const bus = new EventBus();
    const writes: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        writes.push(chunk.toString());
        cb();
      },
    });
    const printer = attachHeadlessPrinter(bus, out);
    const [listening, , request, response] = lessonEvents();
    if (request?.type !== 'http.request' || response?.type !== 'http.response')
      throw new Error('kit');
    bus.emit(listening!);
    expect(writes).toHaveLength(1); // the listening line goes out at once
    for (let i = 0; i < 3; i++) {
      bus.emit({ ...request, flowId: `f${i}` });
      bus.emit({ ...response, flowId: `f${i}` });
    }
    expect(writes).toHaveLength(1); // held until the end of this turn
    expect(printer.lines).toBe(4);
    bus.emit({ type: 'diag', connId: null, level: 'warn', source: 'engine', message: 'w' });
    // A warning goes out at once, after the traffic lines held before it.
    expect(writes).toHaveLength(2);
    expect(writes[1]!.split('\n').map((l) => l.split(/\s+/)[1])).toEqual([
      'HTTP',
      'HTTP',
      'HTTP',
      'WARN',
      undefined,
    ]);
    bus.emit({ ...request, flowId: 'f9' });
    bus.emit({ ...response, flowId: 'f9' });
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(3);
    expect(writes[2]).toMatch(/^\S+ HTTP .*\n$/);
    printer.detach();
  });

  it('writes traffic lines at most once per interval: those soon after a write wait for it to pass', async () => {
    const bus = new EventBus();
    const [, , request, response] = lessonEvents();
    if (request?.type !== 'http.request' || response?.type !== 'http.response')
      throw new Error('kit');
    const collect = (): { out: Writable; writes: string[] } => {
      const writes: string[] = [];
      const out = new Writable({
        write(chunk: Buffer, _enc, cb) {
          writes.push(chunk.toString());
          cb();
        },
      });
      return { out, writes };
    };
    const pair = (b: EventBus, flowId: string): void => {
      b.emit({ ...request, flowId });
      b.emit({ ...response, flowId });
    };
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

    // An interval no test run outlasts: what is held stays held until flushed or detached.
    const long = collect();
    const held = attachHeadlessPrinter(bus, long.out, { flushIntervalMs: 600_000 });
    pair(bus, 'a');
    await turn();
    expect(long.writes).toHaveLength(1); // after a quiet spell: at the end of the turn
    pair(bus, 'b');
    pair(bus, 'c');
    await turn();
    await turn();
    expect(long.writes).toHaveLength(1); // within the interval: held
    held.flush();
    expect(long.writes).toHaveLength(2);
    expect(long.writes[1]!.split('\n').filter(Boolean)).toHaveLength(2); // b and c, one write
    pair(bus, 'd');
    held.detach(); // writes what it holds, and its timer does not write again
    expect(long.writes).toHaveLength(3);

    // A short interval: the held lines go out by themselves once it has passed.
    const bus2 = new EventBus();
    const short = collect();
    const printer = attachHeadlessPrinter(bus2, short.out, { flushIntervalMs: 30 });
    pair(bus2, 'e');
    await turn();
    expect(short.writes).toHaveLength(1);
    pair(bus2, 'f');
    await waitUntil(() => short.writes.length >= 2, { timeoutMs: 3000 });
    expect(short.writes).toHaveLength(2);
    expect(short.writes[1]).toMatch(/^\S+ HTTP .*\n$/);
    printer.detach();
  });

  it('stops quietly when its stream fails, and the bus keeps delivering', async () => {
    const bus = new EventBus();
    const dead = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('EPIPE: reader went away'));
      },
    });
    const printer = attachHeadlessPrinter(bus, dead);
    let delivered = 0;
    bus.on(() => delivered++);
    emitLesson(bus);
    const printedBefore = printer.lines;
    await new Promise((r) => setImmediate(r)); // the stream reports its failure asynchronously
    emitLesson(bus);
    expect(delivered).toBe(2 * lessonEvents().length);
    expect(printedBefore).toBe(9); // the 10th (no response) would come after the grace period
    printer.detach();
    expect(printer.lines).toBe(printedBefore);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KB'],
    [1229, '1.2 KB'],
    [5 * 1024 * 1024, '5.0 MB'],
  ])('%d → %s', (n, s) => expect(formatBytes(n)).toBe(s));
});
