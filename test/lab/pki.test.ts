import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LAB_INTERMEDIATE_CN,
  LAB_ROOT_CN,
  UNTRUSTED_ROOT_CN,
  openLabPki,
} from '../../src/lab/pki.ts';
import { listenLoopback } from '../support/net.ts';
import { hasTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-pki-');
afterAll(cleanup);

const hasOpenssl = (): boolean => hasTool('openssl', ['version']);

describe('openLabPki', () => {
  const dir = path.join(tmp, 'lab');
  const pki = openLabPki(dir);

  it('creates the folder 0700 and the keys 0600 on first use', () => {
    expect(pki.created).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['root.key', 'intermediate.key', 'leaf.key', 'weak-leaf.key']) {
      expect(statSync(path.join(dir, f)).mode & 0o777, f).toBe(0o600);
    }
  });

  it('reuses the same root afterwards', () => {
    const again = openLabPki(dir);
    expect(again.created).toBe(false);
    expect(again.rootPem).toBe(pki.rootPem);
  });

  it('recreates everything when a file is missing', () => {
    const other = path.join(tmp, 'lab-broken');
    const first = openLabPki(other);
    unlinkSync(path.join(other, 'intermediate.key'));
    const second = openLabPki(other);
    expect(second.created).toBe(true);
    expect(second.rootPem).not.toBe(first.rootPem);
  });

  it('recreates everything when a key does not match its certificate', () => {
    const other = path.join(tmp, 'lab-mismatch');
    openLabPki(other);
    writeFileSync(path.join(other, 'root.key'), readFileSync(path.join(other, 'intermediate.key')));
    expect(openLabPki(other).created).toBe(true);
  });

  it('names the root and intermediate like a public PKI, name-constrained to .test', () => {
    const root = new X509Certificate(pki.rootPem);
    expect(root.subject).toContain(`CN=${LAB_ROOT_CN}`);
    expect(root.ca).toBe(true);
    const leaf = pki.issueLeaf({ host: 'bank.test' });
    const [leafPem, interPem] = leaf.chainPem.split(/(?<=-----END CERTIFICATE-----\n)/);
    const inter = new X509Certificate(interPem!);
    expect(inter.subject).toContain(`CN=${LAB_INTERMEDIATE_CN}`);
    expect(inter.verify(root.publicKey)).toBe(true);
    expect(new X509Certificate(leafPem!).verify(inter.publicKey)).toBe(true);
    // The chain a server sends is leaf + intermediate: never the root.
    expect(leaf.chainPem).not.toContain(pki.rootPem.trim());
  });

  it.runIf(hasOpenssl())(
    'passes openssl verify -x509_strict with the intermediate untrusted',
    () => {
      const leaf = pki.issueLeaf({ host: 'bank.test' });
      const inter = leaf.chainPem.slice(leaf.leafPem.trimEnd().length + 1);
      writeFileSync(path.join(tmp, 'leaf.pem'), leaf.leafPem);
      writeFileSync(path.join(tmp, 'inter.pem'), inter);
      const out = execFileSync(
        'openssl',
        [
          'verify',
          '-x509_strict',
          '-CAfile',
          pki.rootPath,
          '-untrusted',
          path.join(tmp, 'inter.pem'),
          path.join(tmp, 'leaf.pem'),
        ],
        { encoding: 'utf8' },
      );
      expect(out).toContain(': OK');
    },
  );

  it('refuses to issue outside .test (the root is name-constrained)', async () => {
    const creds = pki.issueLeaf({ host: 'bank.example.com', sans: ['DNS:bank.example.com'] });
    const err = await handshake(creds, 'bank.example.com', [pki.rootPem]);
    // Node has no code of its own for this one: UNSPECIFIED, message "permitted subtree violation".
    expect(err).toBe('UNSPECIFIED permitted subtree violation');
  });

  it('issues from the untrusted chain and self-signs', () => {
    const u = pki.issueUntrustedLeaf({ host: 'x.test' });
    const issuer = new X509Certificate(u.chainPem.slice(u.leafPem.trimEnd().length + 1));
    expect(issuer.issuer).toContain(UNTRUSTED_ROOT_CN);
    const s = new X509Certificate(pki.selfSignedLeaf({ host: 'y.test' }).leafPem);
    expect(s.subject).toBe(s.issuer);
  });

  it('uses an RSA-1024 key for weakKey leaves', () => {
    const w = new X509Certificate(pki.issueLeaf({ host: 'w.test', weakKey: true }).leafPem);
    expect(w.publicKey.asymmetricKeyDetails?.modulusLength).toBe(1024);
  });
});

/** Handshake with a throwaway server; resolves to the client's error code or 'ok'. */
async function handshake(
  creds: { keyPem: string; chainPem: string },
  servername: string,
  ca: string[],
): Promise<string> {
  const server = tls.createServer({ key: creds.keyPem, cert: creds.chainPem }, (s) => s.end());
  server.on('tlsClientError', () => undefined);
  const port = await listenLoopback(server);
  try {
    return await new Promise<string>((resolve) => {
      const c = tls.connect({ port, host: '127.0.0.1', servername, ca }, () => {
        resolve('ok');
        c.end();
      });
      c.on('error', (e: NodeJS.ErrnoException) => resolve(`${e.code ?? '?'} ${e.message}`));
    });
  } finally {
    server.close();
  }
}
