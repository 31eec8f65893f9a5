// explain(): an alert or a hang-up names a family of causes; what mitm-lab forged rules some of
// them out; a tunnel's client verdict picks the real server's family; the lab names its hosts.
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import type { ClientVerdict, TlsRecord } from '../../src/events/types.ts';
import { describeClients, explain, type ExplainContext } from '../../src/explain/index.ts';
import { FlowStore, type Flow } from '../../src/store/index.ts';
import { cert, hello } from '../store/fixtures.ts';

const DAY = 86_400_000;

/** A refusal of a forgery made as mitm-lab makes them: right name, from yesterday for 30 days. */
function refusal(
  alert: { code: number; name: string } | null,
  outcome: 'alert' | 'reset-during-handshake' | 'closed-after-handshake' = 'alert',
  forged = {},
): Flow {
  const bus = new EventBus();
  const store = new FlowStore();
  bus.on((e) => store.apply(e));
  const host = 'bank.test';
  hello(bus, 'c1', host, 'curl');
  bus.emit({
    type: 'tls.forged',
    connId: 'c1',
    host,
    sni: host,
    certificate: cert({
      cn: host,
      issuer: 'CN=mitm-lab throwaway CA',
      notBefore: new Date(Date.now() - DAY).toISOString(),
      notAfter: new Date(Date.now() + 30 * DAY).toISOString(),
      ...forged,
    }),
    cached: false,
    mintMs: 1,
  });
  bus.emit({
    type: 'tls.client-rejected',
    connId: 'c1',
    host,
    sni: host,
    outcome,
    alert,
    raw: 'x',
    clientHint: 'curl',
    willTunnel: false,
  });
  return store.get('tls:c1')!;
}

function tunnel(host: string, clientVerdict: ClientVerdict): Flow {
  const bus = new EventBus();
  const store = new FlowStore();
  bus.on((e) => store.apply(e));
  hello(bus, 'c2', host, 'curl');
  bus.emit({
    type: 'tunnel.summary',
    connId: 'c2',
    host,
    port: 443,
    sni: host,
    reason: 'auto-refused-before',
    bytesUp: 600,
    bytesDown: 3000,
    durationMs: 5,
    tlsVersion: 'TLS 1.3',
    serverCertificates: null,
    recordCount: 6,
    clientVerdict,
  });
  const records: TlsRecord[] = [];
  bus.emit({
    type: 'conn.close',
    connId: 'c2',
    durationMs: 5,
    wire: {
      up: { bytes: Buffer.alloc(0), size: 600, truncated: false },
      down: { bytes: Buffer.alloc(0), size: 3000, truncated: false },
      records,
      recordsTruncated: false,
      serverCertificates: null,
      tlsVersion: 'TLS 1.3',
    },
  });
  return store.get('tls:c2')!;
}

const possible = (f: Flow, ctx?: ExplainContext) =>
  explain(f, ctx)
    .causes.filter((c) => c.ruledOut === null)
    .map((c) => c.id);

describe('explain: an alert names a family of causes', () => {
  it('alert 42 on a forgery for the right name, in date, strong key: only the client clock remains', () => {
    const x = explain(refusal({ code: 42, name: 'bad_certificate' }));
    expect(x.causes.map((c) => c.id)).toEqual(
      expect.arrayContaining(['client-clock', 'wrong-name', 'weak-key', 'not-yet-valid']),
    );
    expect(possible(refusal({ code: 42, name: 'bad_certificate' }))).toEqual(['client-clock']);
    expect(x.causes.find((c) => c.id === 'wrong-name')?.ruledOut).toContain(
      'forged this certificate for bank.test',
    );
    expect(x.clients.curl?.map((l) => l.says)).toEqual([
      'certificate is not yet valid',
      'certificate has expired',
    ]);
  });

  it('alert 46 (Chromium, any certificate error): the untrusted issuer and the clock remain', () => {
    const p = possible(refusal({ code: 46, name: 'certificate_unknown' }));
    expect(p).toContain('untrusted-issuer');
    expect(p).toContain('client-clock');
    expect(p).not.toContain('wrong-name');
    expect(p).not.toContain('expired');
  });

  it('rules nothing out that the forgery does not prove: a 1024-bit forged key keeps "weak key"', () => {
    expect(
      possible(refusal({ code: 42, name: 'bad_certificate' }, 'alert', { key: 'RSA 1024' })),
    ).toContain('weak-key');
  });

  it('alert 48: the untrusted issuer, with every client line for it', () => {
    const x = explain(refusal({ code: 48, name: 'unknown_ca' }));
    expect(possible(refusal({ code: 48, name: 'unknown_ca' }))).toEqual(['untrusted-issuer']);
    expect(x.clients.wget?.[0]).toMatchObject({ code: '5', says: "doesn't have a known issuer" });
    const rows = describeClients(x.clients);
    expect(rows.map(([label]) => label)).toEqual([
      'Chromium',
      'Firefox',
      'curl',
      'wget',
      'Python',
      'Node',
      's_client',
    ]);
    expect(rows.find(([l]) => l === 'curl')?.[1]).toBe(
      'exit 60: "unable to get local issuer certificate"',
    );
  });
});

describe('explain: a tunnel is explained by what the client made of the real server', () => {
  it('a client alert 45 in clear is a refusal of the real certificate, never a success', () => {
    const f = tunnel('expired.bank.test', {
      outcome: 'alert',
      sentBy: 'client',
      alert: { level: 'fatal', code: 45, name: 'certificate_expired' },
      evidence: 'the client sent alert fatal 45 certificate_expired in clear',
    });
    const x = explain(f);
    expect(x.verdict).toContain("curl refused the real server's certificate");
    expect(x.verdict).toContain('alert fatal 45 certificate_expired');
    expect(x.clients.curl?.every((l) => l.outcome === 'error')).toBe(true);
    expect(x.clients.curl?.map((l) => l.says)).toContain('certificate has expired');
  });

  it("with the lab context, names the host's real defect and narrows the family to it", () => {
    const ctx: ExplainContext = {
      labHost: (h) =>
        h === 'not-yet-valid.bank.test'
          ? { problem: 'The certificate only becomes valid in 30 days.', cause: 'not-yet-valid' }
          : null,
    };
    const f = tunnel('not-yet-valid.bank.test', {
      outcome: 'alert',
      sentBy: 'client',
      alert: { level: 'fatal', code: 42, name: 'bad_certificate' },
      evidence: 'alert 42 in clear',
    });
    const x = explain(f, ctx);
    expect(x.whatHappened).toContain('The certificate only becomes valid in 30 days.');
    expect(possible(f, ctx).sort()).toEqual(['client-clock', 'not-yet-valid']);
  });

  it('an accepted certificate is a success for every client', () => {
    const x = explain(tunnel('bank.test', { outcome: 'accepted', evidence: 'application data' }));
    expect(x.causes).toEqual([]);
    expect(
      Object.values(x.clients)
        .flat()
        .every((l) => l.outcome === 'ok'),
    ).toBe(true);
  });

  it('an encrypted alert keeps the whole certificate family and says the sizes gave it away', () => {
    const x = explain(
      tunnel('wrong-host.bank.test', { outcome: 'encrypted-alert', evidence: '19 bytes' }),
    );
    expect(x.verdict).toContain('Even encrypted, the sizes tell an eavesdropper');
    expect(x.causes.length).toBeGreaterThan(3);
  });
});

describe('explain: the handshake is told per negotiated version', () => {
  it('TLS 1.3: the key exchange is done before the certificate, which is why it is encrypted', () => {
    const bus = new EventBus();
    const store = new FlowStore();
    bus.on((e) => store.apply(e));
    hello(bus, 'c1', 'bank.test');
    bus.emit({
      type: 'tls.client-accepted',
      connId: 'c1',
      host: 'bank.test',
      sni: 'bank.test',
      outcome: 'intercepted',
      protocol: 'TLS 1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      alpn: 'http/1.1',
      handshakeMs: 2,
    });
    bus.emit({
      type: 'http.request',
      connId: 'c1',
      flowId: 'f1',
      scheme: 'https',
      method: 'GET',
      url: 'https://bank.test/',
      host: 'bank.test',
      path: '/',
      httpVersion: '1.1',
      headers: [],
      body: { text: '', size: 0, truncated: false },
      visibility: 'proxy-only',
    });
    const x = explain(store.get('f1')!);
    expect(x.key).toBe('https.decrypted');
    expect(x.handshakeStep).toMatch(/^TLS 1\.3/);
    expect(x.handshakeStep).toContain('already completed the ephemeral (EC)DHE key exchange');
    expect(x.handshakeStep).not.toContain('then key exchange and Finished');
  });
});
