// HTTPS through the proxy with real clients: a client that trusts the mitm-lab CA is
// decrypted (visibility proxy-only); a client that does not refuses the forged certificate,
// each in its own way (curl/python: alert 48; Node: a reset or a silent close), and in auto
// mode the next connection to that host is tunnelled so the client reaches the real server;
// eavesdrop mode never forges and shows only what a passive observer sees.
import { writeFileSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyEvent } from '../../src/events/types.ts';
import {
  curl,
  makeTestPki,
  nodeHttpsViaProxy,
  openTunnel,
  python,
  startOrigin,
  startTestProxy,
  tempDir,
  type Origin,
  type TestProxy,
} from './helpers.ts';

const NAMES = [
  'trusted.test',
  'node-trusted.test',
  'curl.test',
  'py.test',
  'node13.test',
  'node12.test',
  'eaves12.test',
  'eaves13.test',
  'example.com',
  'nodns.test',
  'pair.test',
];
let origin: Origin;
let tp: TestProxy;
let rootFile: string;
let caFile: string;
const keylog: string[] = [];
let rootPem: string;

beforeAll(async () => {
  const pki = makeTestPki();
  rootPem = pki.rootPem;
  origin = await startOrigin(pki.leaf(NAMES));
  tp = await startTestProxy({
    upstreamCa: [pki.rootPem],
    resolve: [
      { pattern: '*.test', address: '127.0.0.1' },
      { pattern: 'example.com', address: '127.0.0.1' },
    ],
    keylog: (line) => keylog.push(line),
  });
  const dir = tempDir('roots');
  rootFile = path.join(dir, 'origin-root.pem');
  writeFileSync(rootFile, pki.rootPem);
  caFile = tp.ca.certPath;
});

afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

const url = (host: string, p = '/'): string => `https://${host}:${origin.httpsPort}${p}`;
const connOf = (e: ProxyEvent): string | null => e.connId;

describe('a client that trusts the mitm-lab CA', () => {
  it('curl: request and response decrypted, visibility proxy-only, real certificate recorded', async () => {
    const r = await curl([
      '-x',
      tp.proxy.url,
      '--cacert',
      caFile,
      '-d',
      'card=4111',
      url('trusted.test', '/pay'),
    ]);
    expect(r.stdout).toBe('hello POST /pay body=card=4111');
    const req = await tp.waitFor('http.request', (e) => e.host === 'trusted.test');
    expect(req).toMatchObject({
      scheme: 'https',
      method: 'POST',
      visibility: 'proxy-only',
      url: `https://trusted.test:${origin.httpsPort}/pay`,
    });
    expect(req.body).toMatchObject({ text: 'card=4111' });
    const res = await tp.waitFor('http.response', (e) => e.flowId === req.flowId);
    expect(res.visibility).toBe('proxy-only');
    expect(res.body).toMatchObject({ text: 'hello POST /pay body=card=4111' });
    expect(res.upstreamCertificate?.subjectCN).toBe('trusted.test');
    expect(res.upstreamCertificate?.issuer).toContain('mitm-lab test origin root');
    expect(res.upstreamProtocol).toBe('TLS 1.3');
    expect(res.upstreamCipher).toMatch(/^TLS_[A-Z0-9_]+$/); // IANA, as the wire parser names it
    expect(res.timings.tlsMs).not.toBeNull();
    const close = await tp.waitFor('conn.close', (e) => e.connId === req.connId);
    expect(close.wire.records[0]).toMatchObject({ dir: 'up', handshake: ['ClientHello'] });
    expect(
      close.wire.records.filter((r) => r.contentType === 'application_data').length,
    ).toBeGreaterThan(1);
    const forged = tp.of('tls.forged').find((e) => e.connId === req.connId);
    expect(forged?.certificate.issuer).toContain(tp.ca.name);
    const accepted = tp.of('tls.client-accepted').filter((e) => e.connId === req.connId);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({
      outcome: 'intercepted',
      host: 'trusted.test',
      sni: 'trusted.test',
    });
    // One spelling in events: what the socket negotiated is what the wire parser read.
    expect(accepted[0]!.protocol).toBe(close.wire.tlsVersion);
    expect(accepted[0]!.cipher).toBe(close.wire.cipherSuite);
    expect(tp.of('tls.client-rejected').filter((e) => e.connId === req.connId)).toHaveLength(0);
  });

  it('Node https through CONNECT: decrypted as well', async () => {
    const r = await nodeHttpsViaProxy(tp.proxy.port, 'node-trusted.test', origin.httpsPort, {
      ca: [tp.ca.certPem],
      path: '/n',
    });
    expect(r.error).toBeUndefined();
    expect(r.body).toBe('hello GET /n body=');
    await tp.waitFor(
      'http.response',
      (e) => e.body && 'text' in e.body && e.body.text === 'hello GET /n body=',
    );
  });

  it('the keylog callback received secrets for both legs', () => {
    const clientRandoms = new Set(
      keylog
        .filter((l) => l.startsWith('CLIENT_HANDSHAKE_TRAFFIC_SECRET'))
        .map((l) => l.split(' ')[1]),
    );
    expect(clientRandoms.size).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(tp.events)).not.toContain(keylog[0]?.split(' ')[2] ?? 'no-keylog');
  });
});

describe('where the proxy connects', () => {
  it('to the CONNECT target, while SNI and Host name the site (no DNS for the name)', async () => {
    const bare = await startTestProxy({ upstreamCa: [rootPem] }); // no resolve rules at all
    try {
      const { socket } = await openTunnel(bare.proxy.port, `127.0.0.1:${origin.httpsPort}`);
      const s = tls.connect({ socket, servername: 'nodns.test', ca: [bare.ca.certPem] });
      let reply = '';
      s.on('data', (c: Buffer) => (reply += c.toString()));
      s.write('GET /direct HTTP/1.1\r\nHost: nodns.test\r\nConnection: close\r\n\r\n');
      await new Promise((r) => s.once('close', r));
      expect(reply).toContain('hello GET /direct');
      const req = await bare.waitFor('http.request', (e) => e.path === '/direct');
      expect(req.url).toBe(`https://nodns.test:${origin.httpsPort}/direct`);
      const forged = bare.of('tls.forged')[0];
      expect(forged?.host).toBe('nodns.test');
      const res = await bare.waitFor('http.response', (e) => e.flowId === req.flowId);
      expect(res.upstreamCertificate?.sans).toContain('DNS:nodns.test');
    } finally {
      await bare.close();
    }
  });
});

describe('a client that does not trust the mitm-lab CA (auto mode)', () => {
  it('curl: alert 48 unknown_ca, then the host is tunnelled and curl reaches the origin', async () => {
    const refused = await curl(['-x', tp.proxy.url, '--cacert', rootFile, url('curl.test')]);
    expect(refused.code).toBe(60);
    const rej = await tp.waitFor('tls.client-rejected', (e) => e.host === 'curl.test');
    expect(rej).toMatchObject({
      outcome: 'alert',
      alert: { code: 48, name: 'unknown_ca' },
      willTunnel: true,
      sni: 'curl.test',
    });
    expect(tp.of('tls.client-accepted').filter((e) => e.connId === rej.connId)).toHaveLength(0);
    const again = await curl([
      '-x',
      tp.proxy.url,
      '--cacert',
      rootFile,
      url('curl.test', '/again'),
    ]);
    expect(again.stdout).toBe('hello GET /again body=');
    const summary = await tp.waitFor('tunnel.summary', (e) => e.host === 'curl.test');
    expect(summary.reason).toBe('auto-refused-before');
    expect(summary.bytesDown).toBeGreaterThan(0);
    expect(tp.of('http.request').filter((e) => e.connId === summary.connId)).toHaveLength(0);
  });

  it('a connection opened before the refusal is still forged; only later ones are tunnelled', async () => {
    // A browser opens two connections for one page at the same moment (Chromium does): the
    // second one's ClientHello may arrive after the first one's refusal. It is still forged,
    // so that one page load shows one thing (the warning), whatever the timing.
    const target = `pair.test:${origin.httpsPort}`;
    const a = await openTunnel(tp.proxy.port, target);
    const b = await openTunnel(tp.proxy.port, target);
    const handshake = (socket: net.Socket): Promise<string> =>
      new Promise((resolve) => {
        const t = tls.connect({ socket, servername: 'pair.test', ca: [rootPem] });
        t.once('secureConnect', () => {
          t.destroy();
          resolve('accepted');
        });
        t.once('error', (err: NodeJS.ErrnoException) => {
          t.destroy();
          resolve(err.code ?? err.message);
        });
      });
    const rejectedHere = () => tp.of('tls.client-rejected').filter((e) => e.host === 'pair.test');
    expect(await handshake(a.socket)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const first = await tp.waitFor('tls.client-rejected', (e) => e.host === 'pair.test');
    expect(first.willTunnel).toBe(true);
    // The refusal is remembered; b's CONNECT came in before it: b meets the forged certificate.
    expect(await handshake(b.socket)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    await tp.waitFor(
      'tls.client-rejected',
      (e) => e.host === 'pair.test' && e.connId !== first.connId,
    );
    expect(rejectedHere()).toHaveLength(2);
    expect(tp.of('tunnel.summary').filter((e) => e.host === 'pair.test')).toHaveLength(0);
    // A connection opened after the refusal is tunnelled: the client reaches the real server.
    const again = await curl([
      '-x',
      tp.proxy.url,
      '--cacert',
      rootFile,
      url('pair.test', '/later'),
    ]);
    expect(again.stdout).toBe('hello GET /later body=');
    const summary = await tp.waitFor('tunnel.summary', (e) => e.host === 'pair.test');
    expect(summary.reason).toBe('auto-refused-before');
    expect(rejectedHere()).toHaveLength(2);
  });

  it('python: alert 48 unknown_ca', async () => {
    const r = await python(tp.proxy.url, url('py.test'), rootFile);
    expect(r.stdout).toMatch(/^ERR .*CERTIFICATE_VERIFY_FAILED/);
    const rej = await tp.waitFor('tls.client-rejected', (e) => e.host === 'py.test');
    expect(rej).toMatchObject({ outcome: 'alert', alert: { code: 48 } });
    const ok = await python(tp.proxy.url, url('py.test', '/p'), rootFile);
    expect(ok.stdout.trim()).toBe('200 hello GET /p body=');
  });

  it('Node TLS 1.3: a reset (Node sends no alert) or a close after the handshake', async () => {
    const r = await nodeHttpsViaProxy(tp.proxy.port, 'node13.test', origin.httpsPort, {
      ca: [rootPem],
    });
    expect(r.error?.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const rej = await tp.waitFor('tls.client-rejected', (e) => e.host === 'node13.test');
    expect(['reset-during-handshake', 'closed-after-handshake']).toContain(rej.outcome);
    expect(rej.alert).toBeNull();
  });

  it('Node TLS 1.2: the handshake completes, then a close without a request', async () => {
    const r = await nodeHttpsViaProxy(tp.proxy.port, 'node12.test', origin.httpsPort, {
      ca: [rootPem],
      maxVersion: 'TLSv1.2',
    });
    expect(r.error).toBeDefined();
    const rej = await tp.waitFor('tls.client-rejected', (e) => e.host === 'node12.test');
    expect(rej.outcome).toBe('closed-after-handshake');
    expect(rej.raw).toContain('probably refused');
    expect(rej.willTunnel).toBe(true);
  });

  it('names outside the CA name constraints are tunnelled, never forged', async () => {
    const r = await curl([
      '-x',
      tp.proxy.url,
      '--cacert',
      rootFile,
      `https://example.com:${origin.httpsPort}/real`,
    ]);
    expect(r.stdout).toBe('hello GET /real body=');
    const summary = await tp.waitFor('tunnel.summary', (e) => e.host === 'example.com');
    expect(summary.reason).toBe('outside-name-constraints');
    expect(tp.of('tls.forged').filter((e) => e.host === 'example.com')).toHaveLength(0);
  });

  it('intercept mode keeps forging for a host that refused (no memory)', async () => {
    const refusedHere = () => tp.of('tls.client-rejected').filter((e) => e.host === 'node13.test');
    const before = refusedHere().length;
    tp.proxy.controls.setMode('intercept');
    try {
      for (let i = 0; i < 2; i++) {
        const r = await curl([
          '-x',
          tp.proxy.url,
          '--cacert',
          rootFile,
          url('node13.test', `/i${i}`),
        ]);
        expect(r.code).toBe(60);
        // curl exits before the proxy has seen its alert: wait for this attempt's event.
        const nth = before + i;
        await tp.waitFor('tls.client-rejected', (e) => refusedHere().indexOf(e) === nth);
      }
    } finally {
      tp.proxy.controls.setMode('auto');
    }
    const rejections = refusedHere();
    // One from the Node test above (auto), then two in intercept mode that do not tunnel.
    expect(rejections.slice(-2).map((e) => [e.outcome, e.willTunnel])).toEqual([
      ['alert', false],
      ['alert', false],
    ]);
  });

  it('forgetRejected() forgets the refused hosts', () => {
    expect(tp.proxy.controls.forgetRejected()).toBeGreaterThanOrEqual(3);
    expect(tp.proxy.controls.forgetRejected()).toBe(0);
  });
});

describe('eavesdrop mode', () => {
  const run = async (host: string, tlsMax: string, extra: string[] = []) => {
    tp.proxy.controls.setMode('eavesdrop');
    try {
      const r = await curl([
        '-x',
        tp.proxy.url,
        '--cacert',
        rootFile,
        '--tls-max',
        tlsMax,
        ...extra,
        url(host, '/secret-path'),
      ]);
      expect(r.stdout).toBe('hello GET /secret-path body=');
    } finally {
      tp.proxy.controls.setMode('auto');
    }
    const summary = await tp.waitFor('tunnel.summary', (e) => e.host === host);
    const close = await tp.waitFor('conn.close', (e) => e.connId === summary.connId);
    const mine = tp.events.filter((e) => connOf(e) === summary.connId);
    return { summary, close, mine };
  };

  it('TLS 1.2: SNI and record sizes visible, the certificate chain in clear, no content', async () => {
    // The client offers one cipher suite and one group (not the defaults), so the negotiated
    // values the observer reports can only be right if it read them off the wire.
    const { summary, close, mine } = await run('eaves12.test', '1.2', [
      '--ciphers',
      'ECDHE-RSA-AES128-GCM-SHA256',
      '--curves',
      'secp521r1',
    ]);
    expect(summary.reason).toBe('mode-eavesdrop');
    expect(summary.tlsVersion).toBe('TLS 1.2');
    expect(summary.cipherSuite).toBe('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    expect(summary.keyExchangeGroup).toBe('secp521r1');
    expect(close.wire.cipherSuite).toBe(summary.cipherSuite);
    expect(close.wire.keyExchangeGroup).toBe('secp521r1');
    // The capture starts with the CONNECT in clear; the records with the ClientHello.
    expect(close.wire.up.bytes.toString('latin1')).toMatch(/^CONNECT eaves12\.test:/);
    expect(close.wire.records[0]).toMatchObject({
      dir: 'up',
      contentType: 'handshake',
      handshake: ['ClientHello'],
    });
    expect(
      close.wire.records.some((r) => r.dir === 'down' && r.handshake?.includes('ServerHello')),
    ).toBe(true);
    expect(summary.serverCertificates?.[0]?.sans).toContain('DNS:eaves12.test');
    expect(
      summary.serverCertificates?.[1]?.subjectCN ?? summary.serverCertificates?.[0]?.issuer,
    ).toContain('mitm-lab test origin root');
    expect(mine.find((e) => e.type === 'tls.client-hello')).toMatchObject({ sni: 'eaves12.test' });
    expect(
      close.wire.records.some((r) => r.contentType === 'application_data' && r.length > 0),
    ).toBe(true);
    expect(mine.some((e) => e.type === 'http.request' || e.type === 'tls.forged')).toBe(false);
    const everything =
      JSON.stringify(mine) +
      close.wire.up.bytes.toString('latin1') +
      close.wire.down.bytes.toString('latin1');
    expect(everything).not.toContain('secret-path');
    expect(everything).not.toContain('hello GET');
  });

  it('TLS 1.3: the certificate is encrypted, only sizes show', async () => {
    const { summary, close } = await run('eaves13.test', '1.3', [
      '--tls13-ciphers',
      'TLS_CHACHA20_POLY1305_SHA256',
      '--curves',
      'secp384r1',
    ]);
    expect(summary.tlsVersion).toBe('TLS 1.3');
    // Cipher suite and group cross in clear in the ServerHello even in TLS 1.3.
    expect(summary.cipherSuite).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(summary.keyExchangeGroup).toBe('secp384r1');
    expect(close.wire.cipherSuite).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(close.wire.keyExchangeGroup).toBe('secp384r1');
    expect(summary.serverCertificates).toBeNull();
    expect(close.wire.serverCertificates).toBeNull();
    expect(summary.recordCount).toBeGreaterThan(3);
  });
});
