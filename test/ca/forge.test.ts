// The general certificate builder the lab also uses: a root, an intermediate-less leaf,
// broken certificates (expired), and what X.509 fields come out.
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildCertificate,
  derToPem,
  describeCertificate,
  generateRsaKeyPair,
  pemToDer,
  readNameConstraints,
  signatureAlgorithmOid,
} from '../../src/ca/index.ts';
import { hasTool, runTool, tempDir } from './helpers.ts';

const DAY = 86_400_000;
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const rootKey = generateRsaKeyPair(2048);
const leafKey = generateRsaKeyPair(2048);
const now = Date.now();
const root = buildCertificate({
  subject: { CN: 'Lab Public Root — test', O: 'lab' },
  publicKeyPem: rootKey.publicKeyPem,
  issuer: { selfSignWith: rootKey.privateKeyPem },
  notBefore: new Date(now - DAY),
  notAfter: new Date(now + 10 * DAY),
  isCa: true,
  pathLen: 0,
});

async function openssl(args: string[]) {
  const r = await runTool('openssl', args);
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('buildCertificate', () => {
  it('builds a self-signed root with the strict CA extensions', () => {
    const x = new X509Certificate(root);
    expect(x.ca).toBe(true);
    expect(x.verify(x.publicKey)).toBe(true);
    const s = describeCertificate(root);
    expect(s.selfSigned).toBe(true);
    expect(s.subject).toBe('CN=Lab Public Root — test, O=lab');
    expect(s.key).toBe('RSA 2048');
    expect(readNameConstraints(root)).toBeNull();
  });

  it('signs a leaf whose issuer name, AKI and signature match the root', () => {
    const leaf = buildCertificate({
      subject: { CN: 'shop.test' },
      publicKeyPem: leafKey.publicKeyPem,
      issuer: { certPem: root, privateKeyPem: rootKey.privateKeyPem },
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 5 * DAY),
      sans: ['DNS:shop.test', 'DNS:www.shop.test', 'IP:127.0.0.1'],
    });
    const x = new X509Certificate(leaf);
    const r = new X509Certificate(root);
    expect(x.checkIssued(r)).toBe(true);
    expect(x.verify(r.publicKey)).toBe(true);
    expect(x.ca).toBe(false);
    const s = describeCertificate(leaf);
    expect(s.issuer).toBe(describeCertificate(root).subject);
    expect(s.sans).toEqual(['DNS:shop.test', 'DNS:www.shop.test', 'IP:127.0.0.1']);
    expect(s.selfSigned).toBe(false);
    expect(s.serial).toMatch(/^[4-7][0-9a-f]{31}$/); // 16 random bytes, positive
  });

  it.skipIf(!hasTool('openssl'))(
    'writes AKI = the CA SKI, EKU serverAuth, critical basicConstraints and keyUsage',
    async () => {
      const leaf = buildCertificate({
        subject: { CN: 'shop.test' },
        publicKeyPem: leafKey.publicKeyPem,
        issuer: { certPem: root, privateKeyPem: rootKey.privateKeyPem },
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + 5 * DAY),
        sans: ['DNS:shop.test'],
      });
      const rootFile = path.join(tmp.dir, 'root.pem');
      const leafFile = path.join(tmp.dir, 'leaf.pem');
      writeFileSync(rootFile, root);
      writeFileSync(leafFile, leaf);
      const rootText = (await openssl(['x509', '-in', rootFile, '-noout', '-text'])).out;
      const leafText = (await openssl(['x509', '-in', leafFile, '-noout', '-text'])).out;
      const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(rootText)?.[1];
      expect(ski).toBeDefined();
      expect(leafText).toMatch(new RegExp(`Authority Key Identifier:\\s*\\n\\s*(keyid:)?${ski}`));
      expect(leafText).toMatch(/Extended Key Usage:\s*\n\s*TLS Web Server Authentication/);
      expect(rootText).toMatch(/Basic Constraints: critical\s*\n\s*CA:TRUE, pathlen:0/);
      expect(rootText).toMatch(/Key Usage: critical\s*\n\s*Certificate Sign, CRL Sign/);
      const v = await openssl(['verify', '-x509_strict', '-CAfile', rootFile, leafFile]);
      expect(v.out).toContain(': OK');
    },
  );

  it.skipIf(!hasTool('openssl'))('builds an expired certificate the lab can serve', async () => {
    const leaf = buildCertificate({
      subject: { CN: 'expired.test' },
      publicKeyPem: leafKey.publicKeyPem,
      issuer: { certPem: root, privateKeyPem: rootKey.privateKeyPem },
      notBefore: new Date(now - 10 * DAY),
      notAfter: new Date(now - 2 * DAY),
      sans: ['DNS:expired.test'],
    });
    const rootFile = path.join(tmp.dir, 'root2.pem');
    const leafFile = path.join(tmp.dir, 'expired.pem');
    writeFileSync(rootFile, root);
    writeFileSync(leafFile, leaf);
    const v = await openssl(['verify', '-CAfile', rootFile, leafFile]);
    expect(v.code).not.toBe(0);
    expect(v.out).toMatch(/certificate has expired/);
  });

  it('signs with SHA-1 when asked (for the obsolete certificates), and says which', async () => {
    const spec = {
      subject: { CN: 'sha1.test' },
      publicKeyPem: leafKey.publicKeyPem,
      issuer: { certPem: root, privateKeyPem: rootKey.privateKeyPem },
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + DAY),
      sans: ['DNS:sha1.test'],
    };
    const sha1 = buildCertificate({ ...spec, signatureHash: 'sha1' });
    const sha256 = buildCertificate(spec);
    expect(signatureAlgorithmOid(pemToDer(sha1))).toBe('1.2.840.113549.1.1.5');
    expect(signatureAlgorithmOid(pemToDer(sha256))).toBe('1.2.840.113549.1.1.11');
    expect(signatureAlgorithmOid(pemToDer(root))).toBe('1.2.840.113549.1.1.11');
    // A real signature: the root's key verifies it.
    expect(new X509Certificate(sha1).verify(new X509Certificate(root).publicKey)).toBe(true);
    if (hasTool('openssl')) {
      const file = path.join(tmp.dir, 'sha1.pem');
      writeFileSync(file, sha1);
      const text = await openssl(['x509', '-in', file, '-noout', '-text']);
      expect(text.out).toMatch(/Signature Algorithm: sha1WithRSAEncryption/);
    }
  });

  it('writes the name constraints it is given, and reads them back', () => {
    const ca = buildCertificate({
      subject: { CN: 'nc' },
      publicKeyPem: rootKey.publicKeyPem,
      issuer: { selfSignWith: rootKey.privateKeyPem },
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + DAY),
      isCa: true,
      pathLen: 0,
      permittedDns: ['test', 'localhost', 'example.com'],
      permittedIps: ['127.0.0.0/8', '::1/128', '10.1.2.3/32'],
    });
    expect(readNameConstraints(ca)).toEqual({
      dns: ['test', 'localhost', 'example.com'],
      ips: ['127.0.0.0/8', '::1/128', '10.1.2.3/32'],
      other: false,
    });
  });

  it('uses a given serial, encoded as a positive, minimal DER INTEGER', () => {
    const mk = (serialHex: string) =>
      buildCertificate({
        subject: { CN: 's' },
        publicKeyPem: rootKey.publicKeyPem,
        issuer: { selfSignWith: rootKey.privateKeyPem },
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + DAY),
        serialHex,
      });
    // TBSCertificate starts: [0] { INTEGER 2 } (v3), then the serial INTEGER.
    const serialTlv = (pem: string) => {
      const der = pemToDer(pem);
      const at = der.indexOf(Buffer.from('a003020102', 'hex')) + 5;
      return der.subarray(at, at + 2 + der[at + 1]!).toString('hex');
    };
    expect(serialTlv(mk('0a1b'))).toBe('02020a1b');
    expect(serialTlv(mk('ff01'))).toBe('020300ff01'); // top bit set: a 00 keeps it positive
    expect(serialTlv(mk('00000a'))).toBe('02010a'); // redundant zeros dropped
    expect(describeCertificate(mk('ff01')).serial).toBe('ff01');
  });

  it('refuses a bad SAN or an empty validity', () => {
    const base = {
      subject: { CN: 'x' },
      publicKeyPem: leafKey.publicKeyPem,
      issuer: { certPem: root, privateKeyPem: rootKey.privateKeyPem },
    };
    expect(() =>
      buildCertificate({
        ...base,
        notBefore: new Date(now),
        notAfter: new Date(now + DAY),
        sans: ['URI:x'],
      }),
    ).toThrow(/SAN must be/);
    expect(() =>
      buildCertificate({ ...base, notBefore: new Date(now), notAfter: new Date(now) }),
    ).toThrow(/notAfter/);
  });

  it('round-trips PEM and DER', () => {
    expect(derToPem(pemToDer(root))).toBe(root);
  });
});
