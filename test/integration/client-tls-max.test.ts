// `--client-tls-max 1.2`: the proxy offers clients at most TLS 1.2 on the forged leg, so the
// forged certificate crosses the wire in clear (the wire capture's serverCertificates holds it);
// at 1.3 only its size does. Changed live through Controls for new connections. Real TLS
// clients (Node, curl) that trust the CA, with and without SNI.
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnCloseEvent } from '../../src/events/types.ts';
import { hasTool, runTool } from '../support/run.ts';
import {
  makeTestPki,
  openTunnel,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from './helpers.ts';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

let origin: Origin;
let tp: TestProxy;

beforeAll(async () => {
  const pki = makeTestPki();
  origin = await startOrigin(pki.leaf(['shop.test', '127.0.0.1']));
  tp = await startTestProxy({
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: 'shop.test', address: '127.0.0.1' }],
    clientTlsMax: '1.2',
    // Always forge: these clients close right after the handshake, which auto mode would take
    // for a refusal and tunnel the host from then on.
    mode: 'intercept',
  });
});
afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

/** A TLS handshake through a CONNECT, trusting the CA; the negotiated version and the close. */
async function handshake(
  host: string,
  servername?: string,
): Promise<{ version: string | null; close: ConnCloseEvent }> {
  const before = tp.of('conn.open').length;
  const { socket } = await openTunnel(tp.proxy.port, `${host}:${origin.httpsPort}`);
  const version = await new Promise<string | null>((resolve, reject) => {
    const t = tls.connect({
      socket,
      host,
      ca: [tp.ca.certPem],
      ...(servername ? { servername } : {}),
    });
    t.once('secureConnect', () => {
      const v = t.getProtocol();
      t.end();
      resolve(v);
    });
    t.once('error', reject);
  });
  const connId = tp.of('conn.open')[before]!.connId;
  const close = await tp.waitFor('conn.close', (e) => e.connId === connId);
  return { version, close };
}

describe('--client-tls-max', () => {
  it('1.2: the handshake is TLS 1.2 and the forged certificate is on the wire in clear', async () => {
    const { version, close } = await handshake('shop.test', 'shop.test');
    expect(version).toBe('TLSv1.2');
    expect(close.wire.tlsVersion).toBe('TLS 1.2');
    const forged = close.wire.serverCertificates?.[0];
    expect(forged?.issuer).toContain('mitm-lab');
    expect(forged?.sans).toContain('DNS:shop.test');
  });

  it('1.2 holds for a client without SNI (an IP literal) too', async () => {
    const { version, close } = await handshake('127.0.0.1');
    expect(version).toBe('TLSv1.2');
    expect(close.wire.serverCertificates?.[0]?.issuer).toContain('mitm-lab');
  });

  it('switched to 1.3 live: new connections are TLS 1.3 and the certificate is not on the wire', async () => {
    tp.proxy.controls.setClientTlsMax('1.3');
    try {
      const { version, close } = await handshake('shop.test', 'shop.test');
      expect(version).toBe('TLSv1.3');
      expect(close.wire.tlsVersion).toBe('TLS 1.3');
      expect(close.wire.serverCertificates).toBeNull();
    } finally {
      tp.proxy.controls.setClientTlsMax('1.2');
    }
  });

  it.skipIf(!hasTool('curl'))(
    'curl insisting on TLS 1.3 gets no shared version while capped',
    async () => {
      const ca = path.join(tp.caDir, 'ca-for-curl.pem');
      writeFileSync(ca, tp.ca.certPem);
      const ok = await runTool('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-x',
        tp.proxy.url,
        '--cacert',
        ca,
        `https://shop.test:${origin.httpsPort}/`,
      ]);
      expect(ok.stdout).toBe('200');
      const refused = await runTool('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '--tlsv1.3',
        '-x',
        tp.proxy.url,
        '--cacert',
        ca,
        `https://shop.test:${origin.httpsPort}/`,
      ]);
      expect(refused.code).toBe(35); // curl: SSL connect error
      expect(refused.stderr).toMatch(/protocol version|alert/i);
    },
  );
});
