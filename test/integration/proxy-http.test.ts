// Plain HTTP through the proxy: everything is visible (visibility `wire`), the response
// framing is the server's, timings are recorded, and --auth gates both plain requests and
// CONNECT with a 407.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  curl,
  makeTestPki,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from './helpers.ts';

let origin: Origin;
let tp: TestProxy;

beforeAll(async () => {
  const pki = makeTestPki();
  origin = await startOrigin(pki.leaf(['bank.test']));
  tp = await startTestProxy({
    resolve: [{ pattern: 'bank.test', address: '127.0.0.1', ports: { 80: 0 } }],
  });
});

afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

describe('plain HTTP', () => {
  it('shows a POST body as it crossed the wire, with visibility wire', async () => {
    const r = await curl([
      '-x',
      tp.proxy.url,
      '-d',
      'user=alice&password=hunter2',
      `http://shop.localhost:${origin.httpPort}/login`,
    ]);
    expect(r.stdout).toBe('hello POST /login body=user=alice&password=hunter2');
    const req = await tp.waitFor('http.request', (e) => e.path === '/login');
    expect(req).toMatchObject({
      scheme: 'http',
      method: 'POST',
      url: `http://shop.localhost:${origin.httpPort}/login`,
      host: 'shop.localhost',
      visibility: 'wire',
      body: { text: 'user=alice&password=hunter2', size: 27, truncated: false },
    });
    expect(req.headers).toContainEqual(['Content-Type', 'application/x-www-form-urlencoded']);
    const res = await tp.waitFor('http.response', (e) => e.flowId === req.flowId);
    expect(res.status).toBe(200);
    expect(res.visibility).toBe('wire');
    expect(res.body).toEqual({
      text: 'hello POST /login body=user=alice&password=hunter2',
      size: 50,
      truncated: false,
    });
    expect(res.headers).toContainEqual(['x-origin', 'yes']);
    expect(res.timings.totalMs).toBeGreaterThanOrEqual(0);
    expect(res.timings.ttfbMs).toBeGreaterThanOrEqual(0);
    expect(res.upstreamCertificate).toBeNull();
    // The raw bytes on the client side hold the password in clear.
    const close = await tp.waitFor('conn.close', (e) => e.connId === req.connId);
    expect(close.wire.up.bytes.toString()).toContain('password=hunter2');
  });

  it('keeps the response framing (Content-Length, not chunked) and caps big bodies', async () => {
    const r = await curl([
      '-x',
      tp.proxy.url,
      '-D',
      '-',
      '-o',
      '/dev/null',
      `http://shop.localhost:${origin.httpPort}/big`,
    ]);
    expect(r.stdout.toLowerCase()).toContain('content-length: 307200');
    expect(r.stdout.toLowerCase()).not.toContain('transfer-encoding');
    const res = await tp.waitFor('http.response', (e) => e.body.size === 307200);
    expect(res.body.truncated).toBe(true);
    expect('bytes' in res.body && res.body.bytes.length).toBe(256 * 1024);
  });

  it('answers a request aimed at the proxy itself instead of looping', async () => {
    const r = await curl(['-i', `${tp.proxy.url}/`]);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 400/);
    expect(r.stdout).toContain('not a web server');
  });

  it('serves several requests on one keep-alive connection', async () => {
    const url = `http://shop.localhost:${origin.httpPort}/k`;
    const r = await curl(['-x', tp.proxy.url, url, url, url]);
    expect(r.stdout).toBe('hello GET /k body='.repeat(3));
    expect(r.stderr).toBe('');
  });
});

describe('--auth', () => {
  let authed: TestProxy;
  beforeAll(async () => {
    authed = await startTestProxy({ auth: { user: 'student', pass: 's3cret' } });
  });
  afterAll(async () => authed?.close());

  it('answers 407 with Proxy-Authenticate without credentials, for plain HTTP', async () => {
    const r = await curl([
      '-i',
      '-x',
      authed.proxy.url,
      `http://shop.localhost:${origin.httpPort}/`,
    ]);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 407/);
    expect(r.stdout).toMatch(/Proxy-Authenticate: Basic/i);
  });

  it('answers 407 to CONNECT with a wrong password', async () => {
    const r = await curl([
      '-v',
      '-x',
      authed.proxy.url,
      '--proxy-user',
      'student:wrong',
      `https://bank.test:${origin.httpsPort}/`,
    ]);
    expect(r.stderr).toMatch(/< HTTP\/1\.1 407/);
    expect(authed.of('tls.client-hello')).toHaveLength(0);
  });

  it('lets the right credentials through', async () => {
    const r = await curl([
      '-x',
      authed.proxy.url,
      '--proxy-user',
      'student:s3cret',
      `http://shop.localhost:${origin.httpPort}/ok`,
    ]);
    expect(r.stdout).toBe('hello GET /ok body=');
  });
});
