// The upstream security policy (issue 9): a proxy the client trusts must not launder a weak
// server behind its own strong forged certificate. Real servers are held to OpenSSL security
// level 2 (as Debian's curl and Python hold them): the client gets a 502 naming the reason,
// and `upstream.error` carries a stable code — for the lab gallery and for small servers of
// our own (a SHA-1 leaf, a weak intermediate, a 1024-bit DH group, an old ServerHello), for
// requests and WebSocket upstreams alike. Trusting clients are real: curl with `--cacert` the
// proxy's CA, and Node https given the CA. `--insecure-upstream` lets the weak key through.
import { getDiffieHellman } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCertificate, generateRsaKeyPair } from '../../src/ca/index.ts';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import { policyRefusal, upstreamPolicyOptions } from '../../src/proxy/upstream-policy.ts';
import { WebSocket } from '../../src/util/ws.ts';
import { curlLoopback } from '../support/clients.ts';
import { closeServer, listenLoopback, trackSockets } from '../support/net.ts';
import { hasTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import {
  curl,
  makeTestPki,
  nodeHttpsViaProxy,
  openTunnel,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from './helpers.ts';

const DAY = 86_400_000;
const haveCurl = hasTool('curl');

const { dir, cleanup } = tempDir('mitm-lab-policy-');
let lab: RunningLab;
let strict: TestProxy;
let insecure: TestProxy;
const origins: Record<string, Origin> = {};
let oldHello: { port: number; close(): Promise<void> };

/** DER `DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER }` (PKCS #3) as PEM. */
function dhParamsPem(prime: Buffer, generator: number): string {
  const len = (n: number): Buffer =>
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : Buffer.from([0x82, n >> 8, n & 0xff]);
  const int = (b: Buffer): Buffer => {
    const v = b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
    return Buffer.concat([Buffer.from([0x02]), len(v.length), v]);
  };
  const body = Buffer.concat([int(prime), int(Buffer.from([generator]))]);
  const b64 = Buffer.concat([Buffer.from([0x30]), len(body.length), body]).toString('base64');
  return `-----BEGIN DH PARAMETERS-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END DH PARAMETERS-----\n`;
}

/**
 * A server from before TLS 1.2 that ignores the ClientHello's supported_versions: it answers
 * any ClientHello with a TLS 1.0 ServerHello (TLS_RSA_WITH_AES_128_CBC_SHA).
 */
async function startOldHelloServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined); // the client hangs up on us: that is the point
    socket.once('data', () => {
      const hello = Buffer.concat([
        Buffer.from([0x03, 0x01]), // server_version TLS 1.0
        Buffer.alloc(32, 7), // random
        Buffer.from([0x00, 0x00, 0x2f, 0x00]), // no session id, the suite, no compression
      ]);
      const handshake = Buffer.concat([Buffer.from([0x02, 0x00, 0x00, hello.length]), hello]);
      socket.write(
        Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, handshake.length]), handshake]),
      );
    });
  });
  const sockets = trackSockets(server);
  const port = await listenLoopback(server);
  return { port, close: () => closeServer(server, sockets) };
}

beforeAll(async () => {
  lab = await startLab({ dir: path.join(dir, 'lab') });
  const pki = makeTestPki();
  const now = Date.now();
  // A root that signs itself with SHA-1: as a trust anchor, its own signature does not count.
  const sha1RootKey = generateRsaKeyPair(2048);
  const sha1Root = {
    certPem: buildCertificate({
      subject: { CN: 'policy test SHA-1 root', O: 'mitm-lab tests' },
      publicKeyPem: sha1RootKey.publicKeyPem,
      issuer: { selfSignWith: sha1RootKey.privateKeyPem },
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 20 * DAY),
      isCa: true,
      pathLen: 0,
      signatureHash: 'sha1',
    }),
    privateKeyPem: sha1RootKey.privateKeyPem,
  };
  const weakIntermediate = pki.intermediate(
    'policy test weak intermediate',
    generateRsaKeyPair(1024),
  );
  const weakCaLeaf = pki.leaf(['weak-ca.policy.test'], { issuer: weakIntermediate });
  // Node serves a SHA-1 certificate or a 1024-bit DH group only below its default level 1.
  const legacy = 'DEFAULT:@SECLEVEL=0';
  const [weak, sha1, weakCa, dh, anchor] = await Promise.all([
    startOrigin(pki.leaf(['weak.policy.test'], { key: generateRsaKeyPair(1024) })),
    startOrigin(pki.leaf(['sha1.policy.test'], { signatureHash: 'sha1' }), { ciphers: legacy }),
    startOrigin({
      certPem: weakCaLeaf.certPem + weakIntermediate.certPem,
      keyPem: weakCaLeaf.keyPem,
    }),
    startOrigin(pki.leaf(['dh.policy.test']), {
      maxVersion: 'TLSv1.2',
      ciphers: 'DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0',
      // RFC 2409's 1024-bit MODP group (Oakley group 2), generator 2.
      dhparam: dhParamsPem(getDiffieHellman('modp2').getPrime(), 2),
    }),
    startOrigin(pki.leaf(['anchor.policy.test'], { issuer: sha1Root })),
  ]);
  Object.assign(origins, { weak, sha1, weakCa, dh, anchor });
  oldHello = await startOldHelloServer();
  const resolve = [...lab.resolve, { pattern: '*.policy.test', address: '127.0.0.1' }];
  strict = await startTestProxy({
    resolve,
    upstreamCa: [lab.rootPem, pki.rootPem, sha1Root.certPem],
  });
  insecure = await startTestProxy({ resolve, insecureUpstream: true });
}, 30_000);

afterAll(async () => {
  await strict?.close();
  await insecure?.close();
  await Promise.all(Object.values(origins).map((o) => o.close()));
  await oldHello?.close();
  await lab?.close();
  cleanup();
});

/** curl through `tp`, trusting its CA: the whole output (-i) and exit code. */
function curlTrusting(tp: TestProxy, url: string) {
  return curl(['-i', '-x', tp.proxy.url, '--cacert', tp.ca.certPath, url]);
}

describe.skipIf(!haveCurl)(
  'the upstream policy, with curl trusting the proxy (curl needed)',
  () => {
    it('weak-key.bank.test: 502 naming the 1024-bit key, as curl refuses it directly', async () => {
      const site = lab.sites.find((s) => s.host === 'weak-key.bank.test');
      expect(site?.httpsPort, 'the lab serves weak-key.bank.test').toBeTypeOf('number');
      const direct = await curlLoopback(site!.host, site!.httpsPort!, ['--cacert', lab.rootPath]);
      expect(direct.code).toBe(60);
      expect(direct.stderr).toContain('EE certificate key too weak');

      const r = await curlTrusting(strict, 'https://weak-key.bank.test/');
      expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
      expect(r.stdout).toContain('UPSTREAM_KEY_TOO_WEAK');
      expect(r.stdout).toContain('RSA key of 1024 bits; at least 2048 required');
      const err = await strict.waitFor('upstream.error', (e) => e.host === 'weak-key.bank.test');
      expect(err).toMatchObject({ code: 'UPSTREAM_KEY_TOO_WEAK', status: 502 });
      expect(err.message).toBe(
        "the server's certificate (weak-key.bank.test) has an RSA key of 1024 bits; at least 2048 required (OpenSSL: EE certificate key too weak)",
      );
      // The client did trust the forgery: without the policy it would have had a 200.
      expect(strict.of('tls.client-accepted').some((e) => e.connId === err.connId)).toBe(true);
    });

    it('a SHA-1-signed leaf: 502 naming the signature and who made it', async () => {
      const r = await curlTrusting(
        strict,
        `https://sha1.policy.test:${origins['sha1']!.httpsPort}/`,
      );
      expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
      expect(r.stdout).toContain('UPSTREAM_SIGNATURE_TOO_WEAK');
      const err = await strict.waitFor('upstream.error', (e) => e.host === 'sha1.policy.test');
      expect(err).toMatchObject({ code: 'UPSTREAM_SIGNATURE_TOO_WEAK', status: 502 });
      expect(err.message).toBe(
        `the server's certificate (sha1.policy.test) is signed by "mitm-lab test origin root" with SHA-1 with RSA; SHA-256 or stronger required (OpenSSL: CA signature digest algorithm too weak)`,
      );
    });

    it('old-tls.bank.test: 502 saying the server is too old for TLS 1.2', async () => {
      const r = await curlTrusting(strict, 'https://old-tls.bank.test/');
      expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
      expect(r.stdout).toContain('UPSTREAM_PROTOCOL_TOO_OLD');
      const err = await strict.waitFor('upstream.error', (e) => e.host === 'old-tls.bank.test');
      expect(err).toMatchObject({ code: 'UPSTREAM_PROTOCOL_TOO_OLD', status: 502 });
      expect(err.message).toContain('accepts neither TLS 1.3 nor TLS 1.2');
      expect(err.message).toContain('at least TLS 1.2 required');
      expect(err.message).toContain('(OpenSSL: tlsv1 alert protocol version)');
    });

    it('a server answering with a TLS 1.0 ServerHello: UPSTREAM_PROTOCOL_TOO_OLD', async () => {
      const r = await curlTrusting(strict, `https://old-hello.policy.test:${oldHello.port}/`);
      expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
      const err = await strict.waitFor('upstream.error', (e) => e.host === 'old-hello.policy.test');
      expect(err.code).toBe('UPSTREAM_PROTOCOL_TOO_OLD');
      expect(err.message).toMatch(
        /answered with a TLS version older than 1\.2.*unsupported protocol/,
      );
    });

    it('a 1024-bit intermediate: UPSTREAM_KEY_TOO_WEAK naming the CA', async () => {
      const r = await curlTrusting(
        strict,
        `https://weak-ca.policy.test:${origins['weakCa']!.httpsPort}/`,
      );
      expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
      const err = await strict.waitFor('upstream.error', (e) => e.host === 'weak-ca.policy.test');
      expect(err.code).toBe('UPSTREAM_KEY_TOO_WEAK');
      expect(err.message).toBe(
        `the CA certificate "policy test weak intermediate" in the server's chain has an RSA key of 1024 bits; at least 2048 required (OpenSSL: CA certificate key too weak)`,
      );
    });

    it('a 1024-bit Diffie-Hellman group: UPSTREAM_KEY_TOO_WEAK', async () => {
      const r = await curlTrusting(strict, `https://dh.policy.test:${origins['dh']!.httpsPort}/`);
      expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
      const err = await strict.waitFor('upstream.error', (e) => e.host === 'dh.policy.test');
      expect(err.code).toBe('UPSTREAM_KEY_TOO_WEAK');
      expect(err.message).toMatch(/Diffie-Hellman .* smaller than 2048 bits.*dh key too small/);
    });

    it("a trust anchor's own SHA-1 self-signature does not count", async () => {
      const r = await curlTrusting(
        strict,
        `https://anchor.policy.test:${origins['anchor']!.httpsPort}/ok`,
      );
      expect(r.stdout).toMatch(/^HTTP\/1\.1 200/m);
      expect(r.stdout).toContain('hello GET /ok');
    });

    it('bank.test still answers 200', async () => {
      const r = await curlTrusting(strict, 'https://bank.test/');
      expect(r.stdout).toMatch(/^HTTP\/1\.1 200/m);
      expect(strict.of('upstream.error').some((e) => e.host === 'bank.test')).toBe(false);
    });

    it('--insecure-upstream lets the weak key through: that is what the flag is for', async () => {
      const r = await curlTrusting(insecure, 'https://weak-key.bank.test/');
      expect(r.stdout).toMatch(/^HTTP\/1\.1 200/m);
      expect(insecure.of('upstream.error')).toEqual([]);
      expect(insecure.of('proxy.listening')[0]?.upstreamValidation).toBe(false);
    });
  },
);

describe('the upstream policy, with Node https trusting the proxy', () => {
  const trust = (): string[] => [strict.ca.certPem];

  it('weak-key.bank.test: 502 with the reason', async () => {
    const r = await nodeHttpsViaProxy(strict.proxy.port, 'weak-key.bank.test', 443, {
      ca: trust(),
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(502);
    expect(r.body).toContain('RSA key of 1024 bits; at least 2048 required');
  });

  it('old-tls.bank.test: 502 with the protocol reason', async () => {
    const r = await nodeHttpsViaProxy(strict.proxy.port, 'old-tls.bank.test', 443, { ca: trust() });
    expect(r.status).toBe(502);
    expect(r.body).toContain('UPSTREAM_PROTOCOL_TOO_OLD');
    expect(r.body).toContain('at least TLS 1.2 required');
  });

  it('bank.test: 200', async () => {
    const r = await nodeHttpsViaProxy(strict.proxy.port, 'bank.test', 443, { ca: trust() });
    expect(r.status).toBe(200);
  });

  it('a wss:// upstream with a weak key is refused the same way: a 502 to the upgrade, never a 101', async () => {
    const port = origins['weak']!.httpsPort;
    const { socket } = await openTunnel(strict.proxy.port, `weak.policy.test:${port}`);
    const ws = new WebSocket(`wss://weak.policy.test:${port}/chat`, {
      createConnection: () =>
        tls.connect({ socket, servername: 'weak.policy.test', ca: [strict.ca.certPem] }),
    } as never);
    // The proxy opens the upstream before it answers the client's upgrade: the client never
    // sees a WebSocket open, only the proxy's 502 naming the code.
    let opened = false;
    ws.on('open', () => (opened = true));
    ws.on('error', () => {}); // terminate() below aborts the handshake: expected, not a failure
    const answer = await new Promise<{ status: number; body: string }>((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
    });
    ws.terminate();
    expect(opened).toBe(false);
    expect(answer.status).toBe(502);
    expect(answer.body).toContain('UPSTREAM_KEY_TOO_WEAK');
    const err = await strict.waitFor('upstream.error', (e) => e.host === 'weak.policy.test');
    expect(err).toMatchObject({ code: 'UPSTREAM_KEY_TOO_WEAK', status: 502 });
    expect(err.message).toContain('RSA key of 1024 bits; at least 2048 required');
  });
});

describe('policyRefusal', () => {
  /** A bare tls.connect under the policy: the error it fails with. */
  const failWith = (port: number, servername: string): Promise<NodeJS.ErrnoException> =>
    new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername,
        ...upstreamPolicyOptions(),
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        reject(new Error(`${servername}: the handshake succeeded`));
      });
      socket.once('error', resolve);
    });

  it("reads the ERR_SSL_* spelling a bare tls.connect gives, as well as the agent's EPROTO", async () => {
    const old = await failWith(oldHello.port, 'old-hello.policy.test');
    expect(old.code).toBe('ERR_SSL_UNSUPPORTED_PROTOCOL');
    expect(policyRefusal(old, [])?.code).toBe('UPSTREAM_PROTOCOL_TOO_OLD');
    const dh = await failWith(origins['dh']!.httpsPort, 'dh.policy.test');
    expect(dh.code).toBe('ERR_SSL_DH_KEY_TOO_SMALL');
    expect(policyRefusal(dh, [])).toEqual({
      code: 'UPSTREAM_KEY_TOO_WEAK',
      message:
        'the server chose a Diffie-Hellman key exchange on a group smaller than 2048 bits; at least 2048 required (OpenSSL: dh key too small)',
    });
  });

  it('leaves every other failure alone', () => {
    const expired = Object.assign(new Error('certificate has expired'), {
      code: 'CERT_HAS_EXPIRED',
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    const nameConstraint = Object.assign(new Error('permitted subtree violation'), {
      code: 'UNSPECIFIED',
    });
    for (const err of [expired, refused, nameConstraint]) expect(policyRefusal(err, [])).toBeNull();
  });
});
