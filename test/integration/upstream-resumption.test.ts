// Upstream TLS session resumption (issue 12, item 3): the proxy's connections to a server resume
// the TLS session of the previous one (TLS 1.2 and 1.3), as the server sees it, and resumption
// never weakens validation: a session is offered only to the server name it came from, so a
// name the certificate does not cover is still refused.
import https from 'node:https';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UPSTREAM_TLS_SESSIONS_MAX } from '../../src/proxy/upstream.ts';
import { closeServer, listenLoopback } from '../support/net.ts';
import { curl, makeTestPki, startTestProxy, type TestProxy } from './helpers.ts';

interface Handshake {
  servername: string | false | null;
  reused: boolean;
  protocol: string | null;
}

/** An origin for `good.test` that closes every connection after one response. */
interface ClosingOrigin {
  port: number;
  handshakes: Handshake[];
  close(): Promise<void>;
}

async function startClosingOrigin(
  cert: { certPem: string; keyPem: string },
  maxVersion: tls.SecureVersion,
): Promise<ClosingOrigin> {
  const handshakes: Handshake[] = [];
  const server = https.createServer(
    { cert: cert.certPem, key: cert.keyPem, maxVersion },
    (_, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end('hello');
    },
  );
  server.on('secureConnection', (s: tls.TLSSocket) =>
    handshakes.push({
      servername: s.servername,
      reused: s.isSessionReused(),
      protocol: s.getProtocol(),
    }),
  );
  const port = await listenLoopback(server);
  return {
    port,
    handshakes,
    async close() {
      server.closeAllConnections();
      await closeServer(server);
    },
  };
}

let tp: TestProxy;
let tls12: ClosingOrigin;
let tls13: ClosingOrigin;

beforeAll(async () => {
  const pki = makeTestPki();
  const cert = pki.leaf(['good.test']); // does not cover other.test
  tls12 = await startClosingOrigin(cert, 'TLSv1.2');
  tls13 = await startClosingOrigin(cert, 'TLSv1.3');
  tp = await startTestProxy({
    mode: 'intercept',
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
  });
});

afterAll(async () => {
  await tp?.close();
  await tls12?.close();
  await tls13?.close();
});

/** One request through the proxy on a fresh client connection (curl exits after it). */
function get(host: string, port: number): ReturnType<typeof curl> {
  return curl(['-i', '-x', tp.proxy.url, '--cacert', tp.ca.certPath, `https://${host}:${port}/`]);
}

describe('upstream TLS session resumption', () => {
  it('is bounded (Node would keep 100 without it; written down so a change is deliberate)', () => {
    expect(UPSTREAM_TLS_SESSIONS_MAX).toBe(100);
  });

  for (const [version, origin] of [
    ['TLSv1.3', () => tls13],
    ['TLSv1.2', () => tls12],
  ] as const) {
    it(`${version}: the second connection to the same server resumes the first one's session`, async () => {
      const o = origin();
      const seen = tp.of('http.response').length;
      const first = await get('good.test', o.port);
      expect(first.stdout).toMatch(/^HTTP\/1\.1 200/m);
      const second = await get('good.test', o.port);
      expect(second.stdout).toMatch(/^HTTP\/1\.1 200/m);
      // The server closed after each response: two handshakes, the first full, the second resumed.
      expect(o.handshakes.map((h) => [h.protocol, h.reused])).toEqual([
        [version, false],
        [version, true],
      ]);
      // A resumed leg still shows the real server's certificate and its TLS phase.
      const [a, b] = tp.of('http.response').slice(seen);
      for (const r of [a, b]) {
        expect(r?.upstreamProtocol).toBe(version.replace('TLSv', 'TLS ')); // events' spelling
        expect(r?.timings.tlsMs).not.toBeNull();
      }
      expect(b?.upstreamCertificate?.sha256).toBe(a?.upstreamCertificate?.sha256);
      expect(a?.upstreamCertificate?.subject).toContain('good.test');
    });
  }

  it('a session is never offered to another name: a name the certificate lacks is refused', async () => {
    const before = tls13.handshakes.length;
    const good = await get('good.test', tls13.port); // a session for good.test is cached
    expect(good.stdout).toMatch(/^HTTP\/1\.1 200/m);
    const other = await get('other.test', tls13.port); // same server, same port, other name
    expect(other.stdout).toMatch(/^HTTP\/1\.1 502/m);
    expect(other.stdout).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
    const err = await tp.waitFor('upstream.error', (e) => e.host === 'other.test');
    expect(err.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    // The server never completed a handshake for other.test, resumed or not: the proxy checked
    // the name against the certificate and hung up.
    expect(tls13.handshakes.slice(before).map((h) => h.servername)).not.toContain('other.test');
    // And good.test keeps resuming after that.
    const again = await get('good.test', tls13.port);
    expect(again.stdout).toMatch(/^HTTP\/1\.1 200/m);
    expect(tls13.handshakes.at(-1)).toMatchObject({ servername: 'good.test', reused: true });
  });
});
