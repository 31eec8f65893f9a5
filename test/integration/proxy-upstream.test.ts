// Upstream failures: the proxy validates the real server's certificate (a MITM proxy must not
// make its users less safe), answers the client 502 with a sentence naming the code, and
// emits upstream.error — for intercepted HTTPS and plain HTTP alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  curl,
  makeTestPki,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from './helpers.ts';

let expired: Origin;
let selfSigned: Origin;
let tp: TestProxy;
let insecure: TestProxy;

beforeAll(async () => {
  const pki = makeTestPki();
  expired = await startOrigin(pki.leaf(['expired.test'], { expired: true }));
  selfSigned = await startOrigin(pki.selfSigned('selfsigned.test'));
  tp = await startTestProxy({
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
  });
  insecure = await startTestProxy({
    insecureUpstream: true,
    resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
  });
});

afterAll(async () => {
  await tp?.close();
  await insecure?.close();
  await expired?.close();
  await selfSigned?.close();
});

describe('upstream errors', () => {
  it('an expired certificate: 502 naming CERT_HAS_EXPIRED, and upstream.error', async () => {
    const r = await curl([
      '-i',
      '-x',
      tp.proxy.url,
      '--cacert',
      tp.ca.certPath,
      `https://expired.test:${expired.httpsPort}/`,
    ]);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
    expect(r.stdout).toContain('CERT_HAS_EXPIRED');
    // Another root would not cure an expired certificate: no --upstream-ca advice.
    expect(r.stdout).not.toContain('--upstream-ca');
    const err = await tp.waitFor('upstream.error', (e) => e.host === 'expired.test');
    expect(err).toMatchObject({ code: 'CERT_HAS_EXPIRED', status: 502, port: expired.httpsPort });
    expect(err.flowId).toMatch(/^f\d+$/);
    // The client still trusted the forged certificate: that part worked.
    expect(tp.of('tls.client-accepted').some((e) => e.connId === err.connId)).toBe(true);
  });

  it('a self-signed certificate: 502 naming DEPTH_ZERO_SELF_SIGNED_CERT', async () => {
    const r = await curl([
      '-i',
      '-x',
      tp.proxy.url,
      '--cacert',
      tp.ca.certPath,
      `https://selfsigned.test:${selfSigned.httpsPort}/`,
    ]);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
    expect(r.stdout).toContain('--upstream-ca FILE'); // an unknown issuer is cured by a root
    const err = await tp.waitFor('upstream.error', (e) => e.host === 'selfsigned.test');
    expect(err.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('a name that does not resolve: 502 naming ENOTFOUND', async () => {
    const r = await curl(['-i', '-x', tp.proxy.url, 'http://no-such-host.invalid/']);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
    expect(r.stdout).toContain('ENOTFOUND');
    const err = await tp.waitFor('upstream.error', (e) => e.host === 'no-such-host.invalid');
    expect(err).toMatchObject({ code: 'ENOTFOUND', status: 502 });
  });

  it('a closed port: 502 naming ECONNREFUSED, and the proxy keeps serving', async () => {
    const r = await curl(['-i', '-x', tp.proxy.url, 'http://closed.localhost:1/']);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 502/m);
    await tp.waitFor('upstream.error', (e) => e.code === 'ECONNREFUSED');
    const ok = await curl(['-x', tp.proxy.url, `http://up.localhost:${expired.httpPort}/fine`]);
    expect(ok.stdout).toBe('hello GET /fine body=');
  });

  it('a failed tunnel upstream is an upstream.error with no status', async () => {
    tp.proxy.controls.setMode('eavesdrop');
    try {
      await curl(['-x', tp.proxy.url, 'https://tunnel.localhost:1/']);
    } finally {
      tp.proxy.controls.setMode('auto');
    }
    const err = await tp.waitFor('upstream.error', (e) => e.host === 'tunnel.localhost');
    expect(err).toMatchObject({ code: 'ECONNREFUSED', status: null, flowId: null });
  });

  it('--insecure-upstream lets the expired server through, and says so at start', async () => {
    const r = await curl([
      '-x',
      insecure.proxy.url,
      '--cacert',
      insecure.ca.certPath,
      `https://expired.test:${expired.httpsPort}/x`,
    ]);
    expect(r.stdout).toBe('hello GET /x body=');
    expect(insecure.of('proxy.listening')[0]?.upstreamValidation).toBe(false);
    expect(tp.of('proxy.listening')[0]?.upstreamValidation).toBe(true);
  });
});
