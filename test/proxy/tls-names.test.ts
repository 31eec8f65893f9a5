// One spelling in events for what a socket negotiated: `TLS 1.2` / `TLS 1.3` and IANA cipher
// names, as the wire parser writes them — checked on real TLS 1.2 and 1.3 handshakes.
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { negotiated, tlsVersionName } from '../../src/proxy/tls-names.ts';
import { makeTestPki } from '../integration/helpers.ts';

describe('tlsVersionName', () => {
  it.each([
    ['TLSv1.3', 'TLS 1.3'],
    ['TLSv1.2', 'TLS 1.2'],
    ['TLSv1.1', 'TLS 1.1'],
    ['TLSv1', 'TLS 1.0'],
    ['SSLv3', 'SSLv3'],
    [null, null],
  ])('%s → %s', (node, events) => expect(tlsVersionName(node)).toBe(events));
});

describe('negotiated', () => {
  const pki = makeTestPki();
  const leaf = pki.leaf(['names.test']);

  it.each([
    ['TLSv1.2', 'TLS 1.2', /^TLS_ECDHE_RSA_WITH_AES_(128|256)_GCM_SHA(256|384)$/],
    ['TLSv1.3', 'TLS 1.3', /^TLS_AES_(128|256)_GCM_SHA(256|384)$/],
  ] as const)('%s: %s and an IANA cipher name', async (max, version, cipher) => {
    const server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem, maxVersion: max });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const client = tls.connect({
        port,
        host: '127.0.0.1',
        servername: 'names.test',
        ca: [pki.rootPem],
      });
      await new Promise<void>((resolve, reject) => {
        client.once('secureConnect', resolve);
        client.once('error', reject);
      });
      const n = negotiated(client);
      client.destroy();
      expect(n.protocol).toBe(version);
      expect(n.cipher).toMatch(cipher);
    } finally {
      server.close();
    }
  });
});
