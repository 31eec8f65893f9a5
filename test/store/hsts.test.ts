// The store remembers which hosts sent Strict-Transport-Security in a response it decrypted, and
// a later refusal on such a host carries it: the Why view says the host uses HSTS — "it knows",
// from events alone. Plain HTTP (browsers ignore the header there), max-age=0 and a lab reset
// leave it unknown. (Chromium's side of it: test/lessons/hsts-browser.test.ts.)
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import type { Header, Visibility } from '../../src/events/types.ts';
import { explain } from '../../src/explain/index.ts';
import { FlowStore, HstsMemory, type Flow } from '../../src/store/index.ts';
import { whyView } from '../../src/ui/views/why.ts';
import { refusedHttps } from './fixtures.ts';

const STS: Header = ['Strict-Transport-Security', 'max-age=31536000'];

function setup(): { bus: EventBus; store: FlowStore } {
  const bus = new EventBus();
  const store = new FlowStore();
  bus.on((e) => store.apply(e));
  return { bus, store };
}

let n = 0;
/** One exchange with `host`, decrypted (`proxy-only`) or over plain HTTP (`wire`). */
function exchange(bus: EventBus, host: string, visibility: Visibility, headers: Header[]): void {
  const connId = `x${++n}`;
  const flowId = `fx${n}`;
  const scheme = visibility === 'wire' ? 'http' : 'https';
  bus.emit({
    type: 'http.request',
    connId,
    flowId,
    scheme,
    method: 'GET',
    url: `${scheme}://${host}/`,
    host,
    path: '/',
    httpVersion: '1.1',
    headers: [['Host', host]],
    body: { text: '', size: 0, truncated: false },
    visibility,
  });
  bus.emit({
    type: 'http.response',
    connId,
    flowId,
    status: 200,
    statusMessage: 'OK',
    httpVersion: '1.1',
    headers,
    body: { text: '', size: 0, truncated: false },
    visibility,
    timings: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, totalMs: 0 },
    upstreamCertificate: null,
    upstreamProtocol: null,
    upstreamCipher: null,
  });
}

/** A browser-less refusal of the forgery for `shop.test` (the fixture's host). */
function refusal(bus: EventBus, store: FlowStore): Flow {
  const connId = `r${++n}`;
  refusedHttps(bus, connId);
  return store.get(`tls:${connId}`)!;
}

describe('HSTS the proxy has seen', () => {
  it('a refusal after a decrypted response with the header carries it, and the Why view says so', () => {
    const { bus, store } = setup();
    const before = refusal(bus, store);
    expect(before.hsts).toBeNull();
    exchange(bus, 'shop.test', 'proxy-only', [STS]);
    const after = refusal(bus, store);
    expect(after.hsts).toMatchObject({ host: 'shop.test', header: 'max-age=31536000' });
    const x = explain(after);
    expect(x.hsts?.title).toBe('shop.test uses HSTS: a browser that saw it cannot click through');
    expect(x.hsts?.text).toContain('"Strict-Transport-Security: max-age=31536000"');
    expect(x.hsts?.text).not.toMatch(/\{\w+\}/);
    // The earlier refusal happened before the proxy knew: it stays a plain one.
    expect(explain(before).hsts).toBeNull();
    const view = whyView(after, { redact: false, width: 120 }).join('\n');
    expect(view).toContain('shop.test uses HSTS');
    expect(view).toContain('You cannot visit shop.test right now because the website uses HSTS.');
    expect(view).toContain('[unverified]'); // Firefox's line: no run backs it
    expect(whyView(before, { redact: false, width: 120 }).join('\n')).not.toContain('HSTS');
  });

  it('learns nothing from plain HTTP, from a response without the header, or from max-age=0', () => {
    const { bus, store } = setup();
    exchange(bus, 'shop.test', 'wire', [STS]);
    exchange(bus, 'shop.test', 'proxy-only', [['Content-Type', 'text/html']]);
    expect(refusal(bus, store).hsts).toBeNull();
    exchange(bus, 'shop.test', 'proxy-only', [STS]);
    expect(refusal(bus, store).hsts).not.toBeNull();
    exchange(bus, 'shop.test', 'proxy-only', [['strict-transport-security', 'max-age=0']]);
    expect(refusal(bus, store).hsts).toBeNull();
  });

  it('the c key (clear) keeps what was learnt; a lab reset (R) forgets it', () => {
    const { bus, store } = setup();
    exchange(bus, 'shop.test', 'proxy-only', [STS]);
    store.clear();
    expect(refusal(bus, store).hsts).not.toBeNull();
    bus.emit({ type: 'lab.reset', connId: null, forgotten: 0 });
    expect(refusal(bus, store).hsts).toBeNull();
  });
});

describe('HstsMemory', () => {
  it('covers subdomains only with includeSubDomains, never the parent', () => {
    const m = new HstsMemory();
    m.noteResponse('bank.test', [['Strict-Transport-Security', 'max-age=60']], 'now', 'e1');
    expect(m.lookup('BANK.test')?.header).toBe('max-age=60');
    expect(m.lookup('hsts.bank.test')).toBeNull();
    m.noteResponse(
      'bank.test',
      [['strict-transport-security', 'max-age=60; includeSubDomains']],
      'now',
      'e2',
    );
    expect(m.lookup('a.b.bank.test')?.eventId).toBe('e2');
    expect(m.lookup('test')).toBeNull();
  });

  it('ignores a header without max-age (not a valid policy, RFC 6797 §6.1.1)', () => {
    const m = new HstsMemory();
    m.noteResponse('bank.test', [['Strict-Transport-Security', 'includeSubDomains']], 'now', 'e1');
    expect(m.lookup('bank.test')).toBeNull();
  });
});
