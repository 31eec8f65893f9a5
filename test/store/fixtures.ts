// Synthetic-but-realistic event sequences, emitted through a real EventBus, shaped like what
// the engine emits for each lesson: a plain-HTTP login, an HTTPS request decrypted by a
// trusted MITM, a refused forged certificate, a tunnelled connection, an upstream failure.
// Used by the store, UI and feed tests (the engine's own tests cover the real thing).
import { randomBytes } from 'node:crypto';
import { EventBus } from '../../src/events/bus.ts';
import type {
  ConnWireEvent,
  CertSummary,
  ProxyEvent,
  TlsRecord,
  WireCapture,
  WireDelta,
} from '../../src/events/types.ts';

export const CA_NAME = 'mitm-lab throwaway CA 2026-11-23 3f9a1c';
export const CA_SHA256 =
  'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';

/** A `conn.wire` of plain bytes (no TLS records), as the bus takes it (no `id` or `at`). */
export function connWire(
  connId: string,
  up: WireDelta,
  down: WireDelta,
): Omit<ConnWireEvent, 'id' | 'at'> {
  return {
    type: 'conn.wire',
    connId,
    up,
    down,
    records: [],
    recordsFrom: 0,
    recordsTruncated: false,
    serverCertificates: null,
    tlsVersion: null,
    cipherSuite: null,
    keyExchangeGroup: null,
  };
}

export function cert(over: Partial<CertSummary> & { cn: string; issuer: string }): CertSummary {
  const { cn, ...rest } = over;
  return {
    subject: `CN=${cn}`,
    subjectCN: cn,
    sans: [`DNS:${cn}`],
    notBefore: '2026-11-22T00:00:00.000Z',
    notAfter: '2026-12-22T00:00:00.000Z',
    serial: '0a1b2c3d4e5f',
    sha256:
      '11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00',
    spkiSha256: 'q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=',
    key: 'RSA 2048',
    selfSigned: false,
    ...rest,
  };
}

function tlsWire(records: TlsRecord[], extraDown = 0): WireCapture {
  const up = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), randomBytes(512)]);
  const down = Buffer.concat([Buffer.from([0x16, 0x03, 0x03, 0x00, 0x7a]), randomBytes(900)]);
  return {
    up: { bytes: up, size: up.length, truncated: false },
    down: { bytes: down, size: down.length + extraDown, truncated: extraDown > 0 },
    records,
    recordsTruncated: false,
    serverCertificates: null,
    tlsVersion: 'TLS 1.3',
  };
}

const TLS13_RECORDS: TlsRecord[] = [
  {
    dir: 'up',
    t: 0,
    contentType: 'handshake',
    version: 'TLS 1.0',
    length: 512,
    handshake: ['ClientHello'],
  },
  {
    dir: 'down',
    t: 2,
    contentType: 'handshake',
    version: 'TLS 1.2',
    length: 122,
    handshake: ['ServerHello'],
  },
  { dir: 'down', t: 2, contentType: 'change_cipher_spec', version: 'TLS 1.2', length: 1 },
  { dir: 'down', t: 3, contentType: 'application_data', version: 'TLS 1.2', length: 1450 },
  { dir: 'up', t: 5, contentType: 'application_data', version: 'TLS 1.2', length: 74 },
];

export function hello(bus: EventBus, connId: string, host: string, clientHint = 'curl'): void {
  bus.emit({ type: 'conn.open', connId, clientAddress: '127.0.0.1', clientPort: 50000 });
  bus.emit({
    type: 'tls.client-hello',
    connId,
    host,
    port: 443,
    sni: host,
    alpn: ['h2', 'http/1.1'],
    versions: ['TLS 1.3', 'TLS 1.2'],
    cipherSuites: [
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
      'TLS_AES_128_GCM_SHA256',
    ],
    ja3: '771,4866-4867-4865,0-11-10,29-23,0',
    ja4: 't13d3112h2_e8f1e7e78f70_6bebaf5329ac',
    clientHint,
  });
}

/** A login form POSTed over plain HTTP: the password crosses the wire readable. */
export function plaintextLogin(bus: EventBus, connId = 'c1', flowId = 'f1'): void {
  const body = 'user=alice&password=hunter2';
  const req =
    `POST /login HTTP/1.1\r\nHost: shop.test\r\nCookie: session=s3cr3tcookie\r\n` +
    `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const resBody = '{"ok":true,"token":"eyJhbGciOiJIUzI1NiJ9.payload.sig"}';
  const res = `HTTP/1.1 200 OK\r\nSet-Cookie: session=newsecret; HttpOnly\r\nContent-Type: application/json\r\n\r\n${resBody}`;
  bus.emit({ type: 'conn.open', connId, clientAddress: '127.0.0.1', clientPort: 50001 });
  bus.emit({
    type: 'http.request',
    connId,
    flowId,
    scheme: 'http',
    method: 'POST',
    url: 'http://shop.test/login',
    host: 'shop.test',
    path: '/login',
    httpVersion: '1.1',
    headers: [
      ['Host', 'shop.test'],
      ['Cookie', 'session=s3cr3tcookie'],
      ['Content-Type', 'application/x-www-form-urlencoded'],
      ['Content-Length', String(body.length)],
    ],
    body: { text: body, size: body.length, truncated: false },
    visibility: 'wire',
  });
  bus.emit({
    type: 'http.response',
    connId,
    flowId,
    status: 200,
    statusMessage: 'OK',
    httpVersion: '1.1',
    headers: [
      ['Set-Cookie', 'session=newsecret; HttpOnly'],
      ['Content-Type', 'application/json'],
    ],
    body: { text: resBody, size: resBody.length, truncated: false },
    visibility: 'wire',
    timings: { dnsMs: 0.4, connectMs: 0.6, tlsMs: null, ttfbMs: 3.2, totalMs: 4.1 },
    upstreamCertificate: null,
    upstreamProtocol: null,
    upstreamCipher: null,
  });
  bus.emit({
    type: 'conn.close',
    connId,
    durationMs: 12,
    wire: {
      up: { bytes: Buffer.from(req), size: req.length, truncated: false },
      down: { bytes: Buffer.from(res), size: res.length, truncated: false },
      records: [],
      recordsTruncated: false,
      serverCertificates: null,
      tlsVersion: null,
    },
  });
}

/** HTTPS through a client that trusts the mitm-lab CA: decrypted. */
export function decryptedHttps(bus: EventBus, connId = 'c2', flowId = 'f2'): void {
  const host = 'bank.test';
  hello(bus, connId, host);
  bus.emit({
    type: 'tls.forged',
    connId,
    host,
    sni: host,
    certificate: cert({ cn: host, issuer: `CN=${CA_NAME}`, serial: 'f00d' }),
    cached: false,
    mintMs: 1.4,
  });
  bus.emit({
    type: 'tls.client-accepted',
    connId,
    host,
    sni: host,
    outcome: 'intercepted',
    protocol: 'TLS 1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    alpn: 'http/1.1',
    handshakeMs: 4.2,
  });
  const json = '{"account":"alice","balance":1234.5,"history":[{"to":"bob","amount":10}]}';
  bus.emit({
    type: 'http.request',
    connId,
    flowId,
    scheme: 'https',
    method: 'GET',
    url: `https://${host}/api/account`,
    host,
    path: '/api/account',
    httpVersion: '1.1',
    headers: [
      ['Host', host],
      ['Authorization', 'Bearer sk-live-topsecret'],
      ['Accept', 'application/json'],
    ],
    body: { text: '', size: 0, truncated: false },
    visibility: 'proxy-only',
  });
  bus.emit({
    type: 'http.response',
    connId,
    flowId,
    status: 200,
    statusMessage: 'OK',
    httpVersion: '1.1',
    headers: [['Content-Type', 'application/json']],
    body: { text: json, size: json.length, truncated: false },
    visibility: 'proxy-only',
    timings: { dnsMs: 0.5, connectMs: 0.8, tlsMs: 6.5, ttfbMs: 9.1, totalMs: 10.2 },
    upstreamCertificate: cert({
      cn: host,
      issuer: 'CN=mitm-lab lab public root',
      serial: 'beef',
      sha256:
        '99:88:77:66:55:44:33:22:11:00:FF:EE:DD:CC:BB:AA:99:88:77:66:55:44:33:22:11:00:FF:EE:DD:CC:BB:AA',
      spkiSha256: 'ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=',
    }),
    upstreamProtocol: 'TLS 1.3',
    upstreamCipher: 'TLS_AES_256_GCM_SHA384',
  });
  bus.emit({ type: 'conn.close', connId, durationMs: 30, wire: tlsWire(TLS13_RECORDS) });
}

/** curl without the CA: refuses the forged certificate with alert 48 (unknown_ca). */
export function refusedHttps(
  bus: EventBus,
  connId = 'c3',
  alert: { code: number; name: string } | null = { code: 48, name: 'unknown_ca' },
  outcome: 'alert' | 'reset-during-handshake' | 'closed-after-handshake' = 'alert',
): void {
  const host = 'shop.test';
  hello(bus, connId, host);
  bus.emit({
    type: 'tls.forged',
    connId,
    host,
    sni: host,
    certificate: cert({ cn: host, issuer: `CN=${CA_NAME}` }),
    cached: true,
    mintMs: 0.1,
  });
  bus.emit({
    type: 'tls.client-rejected',
    connId,
    host,
    sni: host,
    outcome,
    alert,
    raw: alert ? 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' : 'ECONNRESET',
    clientHint: 'curl',
    willTunnel: true,
  });
  const records: TlsRecord[] = [
    ...TLS13_RECORDS.slice(0, 4),
    {
      dir: 'up',
      t: 4,
      contentType: 'alert',
      version: 'TLS 1.2',
      length: 2,
      alert: { level: 'fatal', code: 48, name: 'unknown_ca' },
    },
  ];
  bus.emit({ type: 'conn.close', connId, durationMs: 8, wire: tlsWire(records) });
}

/** A connection tunnelled untouched (eavesdrop mode), TLS 1.2 so its certificate crossed in clear. */
export function tunnelled(bus: EventBus, connId = 'c4'): void {
  const host = 'news.test';
  hello(bus, connId, host, 'python');
  const chain = [cert({ cn: host, issuer: 'CN=mitm-lab lab public root' })];
  const wire = tlsWire([
    {
      dir: 'up',
      t: 0,
      contentType: 'handshake',
      version: 'TLS 1.0',
      length: 300,
      handshake: ['ClientHello'],
    },
    {
      dir: 'down',
      t: 2,
      contentType: 'handshake',
      version: 'TLS 1.2',
      length: 2100,
      handshake: ['ServerHello', 'Certificate', 'ServerKeyExchange', 'ServerHelloDone'],
    },
    { dir: 'up', t: 4, contentType: 'application_data', version: 'TLS 1.2', length: 120 },
  ]);
  wire.serverCertificates = chain;
  wire.tlsVersion = 'TLS 1.2';
  bus.emit({
    type: 'tunnel.summary',
    connId,
    host,
    port: 443,
    sni: host,
    reason: 'mode-eavesdrop',
    bytesUp: 812,
    bytesDown: 4410,
    durationMs: 40,
    tlsVersion: 'TLS 1.2',
    serverCertificates: chain,
    recordCount: 3,
  });
  bus.emit({ type: 'conn.close', connId, durationMs: 40, wire });
}

/** The proxy could not trust the real server: an expired certificate upstream. */
export function upstreamExpired(bus: EventBus, connId = 'c5', flowId = 'f5'): void {
  const host = 'expired.test';
  hello(bus, connId, host);
  bus.emit({
    type: 'http.request',
    connId,
    flowId,
    scheme: 'https',
    method: 'GET',
    url: `https://${host}/`,
    host,
    path: '/',
    httpVersion: '1.1',
    headers: [['Host', host]],
    body: { text: '', size: 0, truncated: false },
    visibility: 'proxy-only',
  });
  bus.emit({
    type: 'upstream.error',
    connId,
    flowId,
    host,
    port: 443,
    code: 'CERT_HAS_EXPIRED',
    message: 'certificate has expired',
    status: 502,
  });
}

export function listening(bus: EventBus): void {
  bus.emit({
    type: 'proxy.listening',
    connId: null,
    host: '127.0.0.1',
    port: 8080,
    mode: 'auto',
    caName: CA_NAME,
    caSha256: CA_SHA256,
    upstreamValidation: true,
    keylog: false,
    pcap: false,
  });
}

/** A WebSocket text message of `chars` characters: bulk for the feed's slow-viewer tests. */
export function bigWsMessage(bus: EventBus, chars: number): void {
  const text = 'x'.repeat(chars);
  bus.emit({
    type: 'ws.message',
    connId: 'c1',
    flowId: 'w1',
    direction: 'server-to-client',
    kind: 'text',
    preview: text,
    size: text.length,
    truncated: false,
    visibility: 'wire',
  });
}

/** The whole lesson: one of each, recorded. */
export function lesson(): { bus: EventBus; events: ProxyEvent[] } {
  const bus = new EventBus();
  const events: ProxyEvent[] = [];
  bus.on((e) => events.push(e));
  listening(bus);
  plaintextLogin(bus);
  decryptedHttps(bus);
  refusedHttps(bus);
  tunnelled(bus);
  upstreamExpired(bus);
  return { bus, events };
}
