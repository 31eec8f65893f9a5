// The victim's client on its own, against a blind test tunnel proxy (no interception): proxy URL
// parsing, absolute-URI HTTP, CONNECT + TLS with the victim's own trust store, and failures
// reported in the client's own words rather than thrown as crashes.
import http from 'node:http';
import path from 'node:path';
import { listenLoopback } from '../support/net.ts';
import { tempDir } from '../support/temp-dir.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import { ClientFailure, openTls, parseProxyUrl, request } from '../../src/victim/proxy-client.ts';
import { clientWords } from '../../src/victim/victim.ts';
import { LabError } from '../../src/util/lab-error.ts';
import { startTunnelProxy, type TunnelProxy } from '../lab/support/tunnel-proxy.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-client-');
let lab: RunningLab;
let px: TunnelProxy;

beforeAll(async () => {
  lab = await startLab({ dir: path.join(tmp, 'lab') });
  px = await startTunnelProxy(lab.resolve);
});
afterAll(async () => {
  await px?.close();
  await lab?.close();
  cleanup();
});

describe('parseProxyUrl', () => {
  it('reads host, port and credentials', () => {
    expect(parseProxyUrl('http://127.0.0.1:8080')).toEqual({
      host: '127.0.0.1',
      port: 8080,
      auth: null,
      url: 'http://127.0.0.1:8080',
    });
    expect(parseProxyUrl('http://stu%40dent:p%3Ass@[::1]:9000')).toMatchObject({
      host: '::1',
      port: 9000,
      auth: 'stu@dent:p:ss',
    });
    expect(parseProxyUrl('127.0.0.1:3128')).toMatchObject({ host: '127.0.0.1', port: 3128 });
  });

  it('refuses what is not an http:// proxy, as a usage error', () => {
    for (const bad of ['https://127.0.0.1:8080', 'socks5://127.0.0.1:1080', 'http://']) {
      expect(() => parseProxyUrl(bad), bad).toThrow(LabError);
    }
  });
});

describe('request through a proxy', () => {
  it('sends plain HTTP with an absolute URI', async () => {
    const r = await request(parseProxyUrl(px.url), {
      method: 'GET',
      url: 'http://bank.test/',
      ca: [],
    });
    expect(r.status).toBe(200);
    expect(r.tls).toBeNull();
    expect(px.seen).toContain('GET http://bank.test/');
  });

  it('tunnels HTTPS with CONNECT and validates with its own trust store', async () => {
    const r = await request(parseProxyUrl(px.url), {
      method: 'GET',
      url: 'https://bank.test/',
      ca: [lab.rootPem],
    });
    expect(r.status).toBe(200);
    expect(r.tls).toMatchObject({ subject: 'bank.test', issuer: 'mitm-lab Lab Intermediate' });
    expect(px.seen).toContain('CONNECT bank.test:443');
  });

  it('refuses a server its trust store does not vouch for, in Node words', async () => {
    const err = await openTls(parseProxyUrl(px.url), 'bank.test', 443, []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientFailure);
    expect(err).toMatchObject({ stage: 'tls', code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  });

  it('reports a refused CONNECT with the proxy status', async () => {
    const err = await openTls(parseProxyUrl(px.url), 'nowhere.test', 443, []).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ stage: 'proxy-connect', code: '502' });
  });

  it('says when nothing listens where the proxy should be', async () => {
    const closed = http.createServer();
    const port = await listenLoopback(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await request(parseProxyUrl(`http://127.0.0.1:${port}`), {
      method: 'GET',
      url: 'http://bank.test/',
      ca: [],
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ stage: 'connect-refused', code: 'ECONNREFUSED' });
    expect((err as Error).message).toContain('mitm-lab start');
  });

  it('sends Proxy-Authorization from the URL userinfo', async () => {
    let seen: string | undefined;
    const fake = http.createServer((req, res) => {
      seen = req.headers['proxy-authorization'];
      res.end('ok');
    });
    const port = await listenLoopback(fake);
    try {
      await request(parseProxyUrl(`http://student:s3cret@127.0.0.1:${port}`), {
        method: 'GET',
        url: 'http://bank.test/',
        ca: [],
      });
      expect(seen).toBe(`Basic ${Buffer.from('student:s3cret').toString('base64')}`);
    } finally {
      fake.close();
    }
  });
});

describe('clientWords', () => {
  it("keeps OpenSSL's reason and alert number, drops the library prefix", () => {
    expect(
      clientWords(
        '80FC:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 70\n',
      ),
    ).toBe('tlsv1 alert protocol version (TLS alert 70)');
    expect(clientWords('certificate has expired')).toBe('certificate has expired');
  });
});
