import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { FlowStore, parseFilter } from '../../src/store/index.ts';
import { portOf } from '../../src/store/url-port.ts';
import {
  decryptedHttps,
  lesson,
  plaintextLogin,
  refusedHttps,
  tunnelled,
  upstreamExpired,
} from './fixtures.ts';

function storeOn(bus: EventBus, opts = {}): FlowStore {
  const store = new FlowStore(opts);
  bus.on((e) => store.apply(e));
  return store;
}

describe('FlowStore folding', () => {
  it('folds a plain-HTTP exchange into one flow with request, response and wire capture', () => {
    const bus = new EventBus();
    const store = storeOn(bus);
    plaintextLogin(bus);
    const [flow] = store.all();
    expect(store.size).toBe(1);
    expect(flow?.badge).toBe('HTTP plaintext');
    expect(flow?.visibility).toBe('wire');
    expect(flow?.method).toBe('POST');
    expect(flow?.path).toBe('/login');
    expect(flow?.status).toBe(200);
    expect(flow?.outcome).toBe('ok');
    expect(flow?.port).toBe(80);
    expect(flow?.request?.body).toMatchObject({ text: 'user=alice&password=hunter2' });
    const wire = flow?.conn.closed?.wire.up.bytes.toString();
    expect(wire).toContain('password=hunter2');
  });

  it('gives HTTPS through a trusted CA the decrypted badge and the connection TLS info', () => {
    const bus = new EventBus();
    const store = storeOn(bus);
    decryptedHttps(bus);
    const flow = store.get('f2');
    expect(flow?.badge).toBe('HTTPS decrypted');
    expect(flow?.conn.forged?.certificate.issuer).toContain('mitm-lab throwaway CA');
    expect(flow?.conn.accepted?.protocol).toBe('TLS 1.3');
    expect(flow?.response?.upstreamCertificate?.issuer).toBe('CN=mitm-lab lab public root');
    expect(flow?.conn.closed?.wire.records.length).toBeGreaterThan(0);
    expect(store.connection('c2')?.flowCount).toBe(1);
  });

  it('makes a refused TLS connection a flow of its own', () => {
    const bus = new EventBus();
    const store = storeOn(bus);
    refusedHttps(bus);
    const flow = store.get('tls:c3');
    expect(flow?.kind).toBe('tls');
    expect(flow?.badge).toBe('HTTPS refused');
    expect(flow?.outcome).toBe('refused');
    expect(flow?.host).toBe('shop.test');
    expect(flow?.conn.rejected?.alert?.code).toBe(48);
    // its size comes from the wire capture when the connection closed
    expect(flow?.size).toBeGreaterThan(0);
  });

  it('makes a tunnel a flow with its byte counts', () => {
    const bus = new EventBus();
    const store = storeOn(bus);
    tunnelled(bus);
    const flow = store.get('tls:c4');
    expect(flow?.badge).toBe('HTTPS tunnelled');
    expect(flow?.outcome).toBe('tunnelled');
    expect(flow?.size).toBe(812 + 4410);
    expect(flow?.conn.tunnel?.reason).toBe('mode-eavesdrop');
  });

  it('attaches an upstream error to its flow', () => {
    const bus = new EventBus();
    const store = storeOn(bus);
    upstreamExpired(bus);
    const flow = store.get('f5');
    expect(flow?.outcome).toBe('upstream-error');
    expect(flow?.status).toBe(502);
    expect(flow?.upstreamError?.code).toBe('CERT_HAS_EXPIRED');
  });

  it('hangs an upstream error with no flowId on a connection-level flow', () => {
    const bus = new EventBus();
    const store = storeOn(bus);
    bus.emit({
      type: 'upstream.error',
      connId: 'c9',
      flowId: null,
      host: 'nowhere.test',
      port: 443,
      code: 'ENOTFOUND',
      message: 'getaddrinfo ENOTFOUND nowhere.test',
      status: 502,
    });
    const flow = store.get('tls:c9');
    expect(flow?.outcome).toBe('upstream-error');
    expect(flow?.host).toBe('nowhere.test');
    expect(store.connection('c9')?.upstreamErrors).toHaveLength(1);
  });

  it('keeps WebSocket messages on their flow, bounded', () => {
    const bus = new EventBus();
    const store = storeOn(bus, { maxWsMessages: 3 });
    plaintextLogin(bus, 'c1', 'w1');
    for (let i = 0; i < 5; i++) {
      bus.emit({
        type: 'ws.message',
        connId: 'c1',
        flowId: 'w1',
        direction: 'client-to-server',
        kind: 'text',
        preview: `hello ${i}`,
        size: 7,
        truncated: false,
        visibility: 'wire',
      });
    }
    const flow = store.get('w1');
    expect(flow?.ws.map((m) => m.preview)).toEqual(['hello 2', 'hello 3', 'hello 4']);
    expect(flow?.wsDropped).toBe(2);
  });

  it('reads the port from the URL (explicit, IPv6, or the scheme default)', () => {
    const bus = new EventBus();
    const store = storeOn(bus);
    const cases: Array<[string, 'http' | 'https', number]> = [
      ['https://bank.test:8443/x', 'https', 8443],
      ['http://[::1]:81/', 'http', 81],
      ['https://user:pw@bank.test/', 'https', 443],
      ['http://bank.test?q=1', 'http', 80],
    ];
    cases.forEach(([url, scheme], i) =>
      bus.emit({
        type: 'http.request',
        connId: `c${i}`,
        flowId: `p${i}`,
        scheme,
        method: 'GET',
        url,
        host: 'bank.test',
        path: '/',
        httpVersion: '1.1',
        headers: [],
        body: { text: '', size: 0, truncated: false },
        visibility: 'wire',
      }),
    );
    expect(cases.map((_c, i) => store.get(`p${i}`)?.port)).toEqual(cases.map((c) => c[2]));
  });

  it('survives a response whose request it never saw', () => {
    const store = new FlowStore();
    const bus = new EventBus();
    bus.on((e) => {
      if (e.type !== 'http.request') store.apply(e);
    });
    plaintextLogin(bus);
    expect(store.get('f1')?.status).toBe(200);
    expect(store.get('f1')?.badge).toBe('HTTP plaintext');
  });
});

describe('FlowStore bounds', () => {
  it('keeps at most maxFlows flows, dropping the oldest', () => {
    const bus = new EventBus();
    const store = storeOn(bus, { maxFlows: 5 });
    for (let i = 0; i < 12; i++) plaintextLogin(bus, `c${i}`, `f${i}`);
    expect(store.size).toBe(5);
    expect(store.evicted).toBe(7);
    expect(store.all().map((f) => f.id)).toEqual(['f7', 'f8', 'f9', 'f10', 'f11']);
  });

  it('keeps at most twice maxFlows connections, dropping the oldest, after many', () => {
    const bus = new EventBus();
    const store = storeOn(bus, { maxFlows: 3 });
    // Enough connections for the ring to compact several times.
    for (let i = 0; i < 5000; i++)
      bus.emit({ type: 'conn.open', connId: `k${i}`, clientAddress: '127.0.0.1', clientPort: i });
    const kept = Array.from({ length: 5000 }, (_, i) => `k${i}`).filter((id) =>
      store.connection(id),
    );
    expect(kept).toEqual(['k4994', 'k4995', 'k4996', 'k4997', 'k4998', 'k4999']);
    expect(store.connection('k4999')?.clientPort).toBe(4999);
    store.clear();
    bus.emit({ type: 'conn.open', connId: 'again', clientAddress: '127.0.0.1', clientPort: 1 });
    expect(store.connection('again')).toBeDefined();
    expect(store.connection('k4999')).toBeUndefined();
  });

  it('cuts long bodies and marks them', () => {
    const bus = new EventBus();
    const store = storeOn(bus, { maxBodyBytes: 100 });
    bus.emit({
      type: 'http.response',
      connId: 'c1',
      flowId: 'big',
      status: 200,
      statusMessage: 'OK',
      httpVersion: '1.1',
      headers: [],
      body: { text: 'x'.repeat(5000), size: 5000, truncated: false },
      visibility: 'wire',
      timings: { dnsMs: null, connectMs: null, tlsMs: null, ttfbMs: null, totalMs: null },
      upstreamCertificate: null,
      upstreamProtocol: null,
      upstreamCipher: null,
    });
    const body = store.get('big')?.response?.body;
    expect(body && 'text' in body ? body.text.length : -1).toBe(100);
    expect(body?.truncated).toBe(true);
    expect(body?.storeCut).toBe(true);
    expect(body?.size).toBe(5000);
  });

  it('cuts wire captures to its limit, in memory of its own', () => {
    const bus = new EventBus();
    const store = storeOn(bus, { maxWireBytes: 48 });
    let sent: Buffer = Buffer.alloc(0);
    bus.on((e) => {
      if (e.type === 'conn.close' && e.connId === 'c2') sent = e.wire.down.bytes;
    });
    decryptedHttps(bus);
    const down = store.get('f2')?.conn.closed?.wire.down;
    expect(down?.bytes.length).toBe(48);
    expect(down?.truncated).toBe(true);
    expect(down?.bytes).toEqual(sent.subarray(0, 48));
    // Not a view of the event's buffer: the store counts what it keeps.
    expect(down?.bytes.buffer).not.toBe(sent.buffer);
    expect(down?.bytes.buffer.byteLength).toBe(48);
  });
});

describe('FlowStore signals, counts and queries', () => {
  it('bumps version and notifies subscribers on each change', () => {
    const bus = new EventBus();
    const store = storeOn(bus);
    let calls = 0;
    const off = store.subscribe(() => calls++);
    const v0 = store.version;
    plaintextLogin(bus);
    expect(store.version).toBeGreaterThan(v0);
    expect(calls).toBe(store.version - v0);
    expect(calls).toBe(4); // conn.open, http.request, http.response, conn.close
    off();
    decryptedHttps(bus);
    expect(calls).toBe(4);
  });

  it('counts flows by badge', () => {
    const { events } = lesson();
    const store = new FlowStore();
    for (const e of events) store.apply(e);
    expect(store.counts()).toEqual({
      'HTTP plaintext': 1,
      'HTTPS decrypted': 2,
      'HTTPS refused': 1,
      'HTTPS tunnelled': 1,
    });
    expect(store.listening?.port).toBe(8080);
  });

  it('filters by host, badge, visibility, outcome and free text', () => {
    const { events } = lesson();
    const store = new FlowStore();
    for (const e of events) store.apply(e);
    const ids = (line: string) => store.query(parseFilter(line)).map((f) => f.id);
    expect(ids('host:bank')).toEqual(['f2']);
    expect(ids('badge:refused')).toEqual(['tls:c3']);
    expect(ids('vis:wire')).toEqual(['f1']);
    expect(ids('vis:none')).toEqual(['tls:c3', 'tls:c4']);
    expect(ids('outcome:unknown_ca')).toEqual(['tls:c3']);
    expect(ids('outcome:cert_has_expired')).toEqual(['f5']);
    expect(ids('outcome:tunnelled')).toEqual(['tls:c4']);
    expect(ids('login POST')).toEqual(['f1']);
    expect(ids('')).toHaveLength(5);
    expect(store.query({ text: [] })).toHaveLength(5); // an empty word list asks for nothing
    expect(ids('nothing-matches-this')).toEqual([]);
  });

  it('clear() forgets flows but keeps the proxy announcement', () => {
    const { events } = lesson();
    const store = new FlowStore();
    for (const e of events) store.apply(e);
    const v = store.version;
    store.clear();
    expect(store.size).toBe(0);
    expect(store.version).toBeGreaterThan(v);
    expect(store.listening).not.toBeNull();
  });
});

describe('FlowStore queue (enqueue: fold when read)', () => {
  it('shows queued events to every read, in order, as apply would', () => {
    const { events } = lesson();
    const direct = new FlowStore();
    for (const e of events) direct.apply(e);
    const queued = new FlowStore();
    for (const e of events) queued.enqueue(e);
    expect(queued.queueStats.folded).toBe(0); // nothing folded until somebody reads
    expect(queued.all().map((f) => [f.id, f.badge, f.outcome, f.status])).toEqual(
      direct.all().map((f) => [f.id, f.badge, f.outcome, f.status]),
    );
    expect(queued.queueStats.folded).toBe(events.length);
    expect(queued.counts()).toEqual(direct.counts());
    expect(queued.version).toBe(direct.version);
  });

  it('drains the queue before anything read or applied after it', () => {
    const { events } = lesson();
    const reads: Array<(s: FlowStore) => unknown> = [
      (s) => s.version,
      (s) => s.size,
      (s) => s.evicted,
      (s) => s.listening?.port,
      (s) => s.diags.length,
      (s) => s.get('f2')?.status,
      (s) => s.connection('c2')?.connId,
      (s) => s.query({}).length,
      (s) => s.counts()['HTTPS decrypted'],
    ];
    const direct = new FlowStore();
    for (const e of events) direct.apply(e);
    for (const read of reads) {
      const store = new FlowStore();
      for (const e of events) store.enqueue(e);
      expect(read(store)).toEqual(read(direct));
    }
    // An apply after queued events lands after them (a response after its request).
    const store = new FlowStore();
    const request = events.find((e) => e.type === 'http.request' && e.flowId === 'f1')!;
    const response = events.find((e) => e.type === 'http.response' && e.flowId === 'f1')!;
    store.enqueue(request);
    store.apply(response);
    expect(store.get('f1')?.method).toBe('POST');
    expect(store.get('f1')?.outcome).toBe('ok');
  });

  it('tells listeners once when a batch starts and once when it is folded', () => {
    const { events } = lesson();
    const store = new FlowStore();
    let calls = 0;
    store.subscribe(() => calls++);
    for (const e of events) store.enqueue(e);
    expect(calls).toBe(1);
    expect(store.size).toBe(5);
    expect(calls).toBe(2);
    store.enqueue(events[0]!);
    expect(calls).toBe(3);
  });

  it('folds on its own once the queue is long, so an unread store stays bounded', () => {
    const bus = new EventBus();
    const store = new FlowStore({ maxFlows: 10 });
    bus.on((e) => store.enqueue(e));
    for (let i = 0; i < 2000; i++) plaintextLogin(bus, `c${i}`, `f${i}`);
    // 8000 events queued: folded in batches as the queue filled, not all kept waiting.
    expect(store.queueStats.folded).toBeGreaterThanOrEqual(4096);
    expect(store.size).toBe(10);
  });

  it('notes an event it cannot fold as a diag and folds the rest of the batch', () => {
    const { events } = lesson();
    const store = new FlowStore();
    const broken = {
      ...events.find((e) => e.type === 'http.response')!,
      flowId: 'broken',
      body: undefined, // a broken producer behind a feed: not a BodyCapture at all
    } as unknown as ProxyEvent;
    store.enqueue(broken);
    for (const e of events) store.enqueue(e);
    // The read did not throw; every good event folded, and the broken one as far as it got.
    expect(store.size).toBe(6);
    const direct = new FlowStore();
    for (const e of events) direct.apply(e);
    for (const f of direct.all()) expect(store.get(f.id)?.status).toBe(f.status);
    expect(store.get('broken')?.status).toBeNull();
    const last = store.diags.at(-1);
    expect(last?.source).toBe('flow-store');
    expect(last?.message).toMatch(/^could not fold http\.response e\d+: /);
  });

  it('clear() folds what was queued before forgetting it', () => {
    const { events } = lesson();
    const store = new FlowStore();
    for (const e of events) store.enqueue(e);
    store.clear();
    expect(store.size).toBe(0);
    expect(store.counts()['HTTPS decrypted']).toBe(0);
    expect(store.listening?.port).toBe(8080);
  });
});

describe('FlowStore counts kept as flows come, change and go', () => {
  it('match a count over the live flows after eviction, badge changes and clear', () => {
    const walk = (s: FlowStore) => {
      const c: Record<string, number> = {
        'HTTP plaintext': 0,
        'HTTPS decrypted': 0,
        'HTTPS refused': 0,
        'HTTPS tunnelled': 0,
      };
      for (const f of s.all()) c[f.badge]!++;
      return c;
    };
    const bus = new EventBus();
    const store = storeOn(bus, { maxFlows: 7 });
    for (let i = 0; i < 30; i++) {
      // A mix that evicts every kind, and flows whose badge changes after they were listed:
      // a response before its request (plaintext, then decrypted), a refusal then a tunnel.
      if (i % 5 === 0) plaintextLogin(bus, `p${i}`, `fp${i}`);
      if (i % 5 === 1) decryptedHttps(bus, `d${i}`, `fd${i}`);
      if (i % 5 === 2) refusedHttps(bus, `r${i}`);
      if (i % 5 === 3) tunnelled(bus, `t${i}`);
      if (i % 5 === 4) {
        bus.emit({
          type: 'ws.message',
          connId: `w${i}`,
          flowId: `fw${i}`,
          direction: 'server-to-client',
          kind: 'text',
          preview: 'hi',
          size: 2,
          truncated: false,
          visibility: 'wire',
        });
        upstreamExpired(bus, `u${i}`, `fw${i}`);
      }
      expect(store.counts()).toEqual(walk(store));
    }
    expect(store.evicted).toBeGreaterThan(0);
    store.clear();
    expect(store.counts()).toEqual(walk(store));
    decryptedHttps(bus, 'again', 'fa');
    expect(store.counts()['HTTPS decrypted']).toBe(1);
  });
});

describe('portOf', () => {
  // The hand-written fast path must agree with the general pattern it replaces.
  const general = (url: string, scheme: 'http' | 'https'): number | null => {
    const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^/:?#]*)(?::(\d+))?/i.exec(url);
    if (!m) return null;
    return m[1] ? Number(m[1]) : scheme === 'https' ? 443 : 80;
  };
  const urls = [
    'http://bank.test/',
    'http://bank.test',
    'http://bank.test:8080/login?x=1',
    'https://bank.test/',
    'https://bank.test:8443',
    'http://bank.test:/x',
    'http://bank.test:80x/',
    'http://a?b@c:81/',
    'http://user:pw@bank.test:81/',
    'http://user@bank.test/',
    'http://a/b@c:82',
    'http://[::1]:8081/',
    'http://[::1]/',
    'http://a?x:80',
    'http://a:8?0',
    'http://a#frag:9',
    'http:///x',
    'HTTP://BANK.TEST:99/',
    'ws://bank.test:7000/',
    'bank.test:80',
    '',
  ];
  it.each(urls)('%s', (url) => {
    for (const scheme of ['http', 'https'] as const)
      expect(portOf(url, scheme)).toBe(general(url, scheme));
  });
});
