// The one adapter for node-forge (CommonJS): X.509 certificates are *built* with forge and
// *signed* with native `crypto.sign`, because forge's RSA signing is pure JavaScript (~50 ms
// per certificate) while its certificate builder is the part we need (ENGINE-NOTES.md,
// "Minting leaf certificates fast"). Keys come from node:crypto too, ECDSA ones included:
// forge knows no ECDSA key, so a certificate for one is built around a stand-in RSA key whose
// SubjectPublicKeyInfo is then replaced by the real one (the issuer still signs with RSA).
//
// Two forge quirks handled here, so nobody else meets them:
// - `authorityKeyIdentifier: { keyIdentifier: true }` hashes the *subject's* key, not the
//   issuer's: we pass the issuer's subject key identifier bytes explicitly.
// - forge re-encodes a parsed UTF8String attribute as UTF-8 a second time: we never copy an
//   issuer name through forge; the issuer's subject Name is spliced into the TBS as DER.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { createRequire } from 'node:module';
import { isIPv4, isIPv6 } from 'node:net';
import type * as Forge from 'node-forge';
import { shiftOldest } from '../util/bounded.ts';

// require, not `import`: see util/ws.ts (an ES module importing CommonJS costs resident memory).
const forge = createRequire(import.meta.url)('node-forge') as typeof Forge;

const { asn1, pki } = forge;

// Parts of forge that @types/node-forge does not declare (all present in node-forge ≥ 1.0).
const forgeExtra = forge as unknown as {
  pki: { getTBSCertificate(cert: Forge.pki.Certificate): Forge.asn1.Asn1 };
  util: { bytesFromIPv6(ip: string): string; bytesToIPv6(bytes: string): string };
  asn1: { fromDer(der: string, options: { decodeBitStrings: boolean }): Forge.asn1.Asn1 };
};

/**
 * A key pair as PEM: the private key as PKCS#1 `RSA PRIVATE KEY` (RSA: what http-mitm-proxy
 * writes and reads) or PKCS#8 `PRIVATE KEY` (ECDSA), the public key as SPKI.
 */
export interface KeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** An RSA key pair from node:crypto (native, synchronous). */
export function generateRsaKeyPair(bits: number): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/**
 * An ECDSA key pair on P-256 (prime256v1) from node:crypto: what the forged leaves share by
 * default — a handshake signs with it in a fraction of RSA-2048's time, and every TLS 1.2/1.3
 * client accepts it (ecdsa_secp256r1_sha256 is mandatory in TLS 1.3, RFC 8446 9.1).
 */
export function generateEcKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** The algorithm of a key (public or private PEM): `rsa`, `ec`, or another node:crypto name. */
export function keyType(pem: string): string {
  return memoize(`type:${pem}`, () =>
    /PRIVATE KEY-----/.test(pem)
      ? (createPrivateKey(pem).asymmetricKeyType ?? 'unknown')
      : (createPublicKey(pem).asymmetricKeyType ?? 'unknown'),
  );
}

/** Everything needed to build one certificate. */
export interface CertSpec {
  /**
   * Subject name, encoded as UTF8String, CN first. CN may be left out (an IP leaf: OpenSSL
   * checks a host-name-like CN such as `127.0.0.1` against *DNS* name constraints when the
   * certificate has no DNS SAN, and refuses it). With neither CN nor O the SAN is critical.
   */
  subject: { CN?: string; O?: string };
  /**
   * The subject's public key, SPKI or PKCS#1 PEM: RSA, or ECDSA for a certificate issued by an
   * RSA issuer (the signature is always RSA: forge has no ECDSA, node:crypto signs).
   */
  publicKeyPem: string;
  /** Who signs: an issuer certificate + its key, or the subject's own key (a root). */
  issuer: { certPem: string; privateKeyPem: string } | { selfSignWith: string };
  notBefore: Date;
  notAfter: Date;
  /** Serial number, hex; default 16 random bytes (made positive, DER-minimal). */
  serialHex?: string;
  /** A CA: critical basicConstraints cA:true (+ pathLen) and critical keyUsage keyCertSign,cRLSign. */
  isCa?: boolean;
  /** basicConstraints pathLenConstraint, CA only. */
  pathLen?: number;
  /** Subject alternative names, `DNS:name` or `IP:address`. A non-CA also gets EKU serverAuth. */
  sans?: string[];
  /**
   * Name constraints, CA only: permitted DNS subtrees as RFC 5280 host names (`test` permits
   * `test` and every name under it; no leading dot — Chromium reads `.test` as matching nothing).
   */
  permittedDns?: string[];
  /** Name constraints, CA only: permitted IP subtrees as CIDR, e.g. `127.0.0.0/8`, `::1/128`. */
  permittedIps?: string[];
  /**
   * The hash the issuer signs with: `sha256` (default, what every real CA uses) or `sha1`,
   * only to build the obsolete certificates that the lab and the tests show being refused.
   */
  signatureHash?: 'sha256' | 'sha1';
}

/** forge's declared type for valueTagClass is too narrow for asn1.Type values. */
const utf8 = asn1.Type.UTF8 as unknown as Forge.asn1.Class;

/** RSA PKCS#1 v1.5 signature algorithm OIDs by hash: SHA-256 normally, SHA-1 on request. */
const SIG_OIDS = {
  sha256: pki.oids['sha256WithRSAEncryption'] as string,
  sha1: pki.oids['sha1WithRSAEncryption'] as string,
} as const;

/**
 * Build a certificate from `spec`: forge assembles the TBSCertificate, node:crypto signs it
 * (RSA PKCS#1 v1.5 with SHA-256, or the `signatureHash` asked for). Returns PEM.
 */
export function buildCertificate(spec: CertSpec): string {
  const t = toBeSigned(spec);
  return assemble(t, sign(t.hash, t.der, t.key));
}

/**
 * The same certificate, with the signature computed in libuv's thread pool (node:crypto's
 * callback form): the event loop only builds the TBSCertificate and assembles the result, so
 * a mint holds other connections back that much less (issue 12, item 3).
 */
export function buildCertificateAsync(spec: CertSpec): Promise<string> {
  let t: ToBeSigned;
  try {
    t = toBeSigned(spec);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  return new Promise((resolve, reject) => {
    sign(t.hash, t.der, t.key, (err, signature) => {
      // In a thread-pool callback a throw would be uncaught: every outcome goes to the promise.
      if (err) return reject(err);
      try {
        resolve(assemble(t, signature));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/** A TBSCertificate ready to sign: its ASN.1, its DER, and how to sign it. */
interface ToBeSigned {
  tbs: Forge.asn1.Asn1;
  der: Buffer;
  hash: 'sha256' | 'sha1';
  sigOid: string;
  key: KeyObject;
}

function toBeSigned(spec: CertSpec): ToBeSigned {
  if (spec.notAfter.getTime() <= spec.notBefore.getTime())
    throw new Error('buildCertificate: notAfter must be later than notBefore');
  const ec = keyType(spec.publicKeyPem) === 'ec';
  if (ec && 'selfSignWith' in spec.issuer)
    throw new Error('buildCertificate: an ECDSA key can only be issued by an RSA issuer');
  if (!ec && keyType(spec.publicKeyPem) !== 'rsa')
    throw new Error('buildCertificate: the subject key must be RSA or ECDSA');
  const cert = pki.createCertificate();
  // ECDSA: forge encodes a stand-in RSA key; the real SubjectPublicKeyInfo is spliced in below.
  cert.publicKey = parsePublicKey(ec ? standInRsaKey() : spec.publicKeyPem);
  cert.serialNumber = normalizeSerial(spec.serialHex ?? randomSerialHex());
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  const subjectAttrs: Forge.pki.CertificateField[] = [];
  if (spec.subject.CN !== undefined)
    subjectAttrs.push({ shortName: 'CN', value: spec.subject.CN, valueTagClass: utf8 });
  if (spec.subject.O !== undefined)
    subjectAttrs.push({ shortName: 'O', value: spec.subject.O, valueTagClass: utf8 });
  cert.setSubject(subjectAttrs);

  const issuer = 'selfSignWith' in spec.issuer ? null : parseIssuer(spec.issuer.certPem);
  const signingKeyPem =
    'selfSignWith' in spec.issuer ? spec.issuer.selfSignWith : spec.issuer.privateKeyPem;
  // A root names itself as issuer; an issued certificate gets its issuer's Name spliced in below.
  cert.setIssuer(issuer ? [] : subjectAttrs);

  const extensions: object[] = [];
  if (spec.isCa) {
    extensions.push({
      name: 'basicConstraints',
      critical: true,
      cA: true,
      ...(spec.pathLen !== undefined ? { pathLenConstraint: spec.pathLen } : {}),
    });
    extensions.push({ name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true });
  } else {
    extensions.push({ name: 'basicConstraints', critical: true, cA: false });
    // keyEncipherment is RSA key transport; an ECDSA key only signs (RFC 5480 3).
    extensions.push({
      name: 'keyUsage',
      critical: true,
      digitalSignature: true,
      ...(ec ? {} : { keyEncipherment: true }),
    });
    extensions.push({ name: 'extKeyUsage', serverAuth: true });
  }
  if (spec.sans && spec.sans.length > 0) {
    extensions.push({
      name: 'subjectAltName',
      critical: subjectAttrs.length === 0, // RFC 5280 4.2.1.6: empty subject → critical SAN
      altNames: spec.sans.map(altName),
    });
  }
  if (ec) {
    // RFC 5280 4.2.1.2 method (1), from the real key (forge would hash the stand-in).
    const ski = createHash('sha1').update(ecPoint(spec.publicKeyPem)).digest('binary');
    extensions.push({
      id: '2.5.29.14',
      value: asn1
        .toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, ski))
        .getBytes(),
    });
  } else {
    extensions.push({ name: 'subjectKeyIdentifier' });
  }
  const ski = issuer ? issuer.ski : cert.generateSubjectKeyIdentifier().getBytes();
  extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: ski });
  if (spec.isCa && (spec.permittedDns?.length || spec.permittedIps?.length)) {
    // RFC 5280 4.2.1.10: conforming CAs MUST mark name constraints critical.
    extensions.push({
      id: '2.5.29.30',
      critical: true,
      value: nameConstraintsDer(spec.permittedDns ?? [], spec.permittedIps ?? []),
    });
  }
  cert.setExtensions(extensions);

  const hash = spec.signatureHash ?? 'sha256';
  const sigOid = SIG_OIDS[hash];
  cert.signatureOid = sigOid;
  cert.siginfo.algorithmOid = sigOid;
  const tbs = forgeExtra.pki.getTBSCertificate(cert);
  // TBSCertificate: [0]version, serial, signature, issuer, validity, subject, spki, [3]extensions.
  if (issuer) (tbs.value as Forge.asn1.Asn1[])[3] = issuer.subjectName;
  if (ec) (tbs.value as Forge.asn1.Asn1[])[6] = spkiAsn1(spec.publicKeyPem);
  const der = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  return { tbs, der, hash, sigOid, key: signingKey(signingKeyPem) };
}

/** The signed certificate, PEM: TBSCertificate, signature algorithm, signature. */
function assemble({ tbs, sigOid }: ToBeSigned, signature: Buffer): string {
  const certAsn1 = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(sigOid).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
    asn1.create(
      asn1.Class.UNIVERSAL,
      asn1.Type.BITSTRING,
      false,
      String.fromCharCode(0) + signature.toString('binary'),
    ),
  ]);
  return derToPem(Buffer.from(asn1.toDer(certAsn1).getBytes(), 'binary'));
}

/** The name constraints a certificate carries, or null when it has none. */
export interface NameConstraints {
  /** Permitted DNS subtrees, e.g. `test`, `localhost`. */
  dns: string[];
  /** Permitted IP subtrees as CIDR, e.g. `127.0.0.0/8`. */
  ips: string[];
  /** True when the extension holds anything else (excluded subtrees, other name types). */
  other: boolean;
}

/** Read the permitted subtrees of a certificate's name constraints extension (null: none). */
export function readNameConstraints(certPem: string): NameConstraints | null {
  const der = pemToDer(certPem);
  const tbs = forgeExtra.asn1.fromDer(der.toString('binary'), { decodeBitStrings: false })
    .value[0] as Forge.asn1.Asn1;
  const fields = tbs.value as Forge.asn1.Asn1[];
  const extsWrapper = fields.find(
    (f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && f.type === 3,
  );
  if (!extsWrapper) return null;
  const exts = (extsWrapper.value as Forge.asn1.Asn1[])[0]?.value as Forge.asn1.Asn1[];
  for (const ext of exts) {
    const parts = ext.value as Forge.asn1.Asn1[];
    if (asn1.derToOid(parts[0]!.value as string) !== '2.5.29.30') continue;
    const octets = parts[parts.length - 1]!.value as string;
    const nc = asn1.fromDer(octets);
    const out: NameConstraints = { dns: [], ips: [], other: false };
    for (const trees of nc.value as Forge.asn1.Asn1[]) {
      if (trees.type !== 0) {
        out.other = true;
        continue;
      }
      for (const subtree of trees.value as Forge.asn1.Asn1[]) {
        const base = (subtree.value as Forge.asn1.Asn1[])[0]!;
        const bytes = Buffer.from(base.value as string, 'binary');
        if (base.type === 2) out.dns.push(bytes.toString('latin1'));
        else if (base.type === 7) out.ips.push(cidrFromBytes(bytes));
        else out.other = true;
      }
    }
    return out;
  }
  return null;
}

/**
 * The OID of the algorithm the issuer signed a certificate (DER) with, e.g.
 * `1.2.840.113549.1.1.5` (sha1WithRSAEncryption): Node 20's X509Certificate does not say.
 */
export function signatureAlgorithmOid(der: Buffer): string {
  const cert = forgeExtra.asn1.fromDer(der.toString('binary'), { decodeBitStrings: false });
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature }
  const algorithm = (cert.value as Forge.asn1.Asn1[])[1]?.value as Forge.asn1.Asn1[] | undefined;
  const oid = algorithm?.[0];
  if (!oid || oid.type !== asn1.Type.OID) throw new Error('not an X.509 certificate');
  return asn1.derToOid(oid.value as string);
}

/** PEM `CERTIFICATE` → DER bytes. */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error('not a PEM certificate');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** DER bytes → PEM `CERTIFICATE`, 64-column lines. */
export function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

// --- internals -------------------------------------------------------------------------------

/**
 * 16 random bytes as hex (RFC 5280 allows up to 20 octets; CA/B asks for 64 random bits), the
 * first byte forced into 0x40–0x7f so the INTEGER is always exactly 16 bytes and positive: the
 * hex is the serial exactly as the certificate carries it, with nothing to strip or pad.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** A positive, DER-minimal INTEGER body as hex: strip redundant zeros, add one if the top bit is set. */
function normalizeSerial(hex: string): string {
  let h = hex.toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]+$/.test(h)) throw new Error(`buildCertificate: serial is not hex: ${hex}`);
  if (h.length % 2) h = `0${h}`;
  while (h.length > 2 && h.startsWith('00') && parseInt(h[2]!, 16) < 8) h = h.slice(2);
  if (parseInt(h[0]!, 16) >= 8) h = `00${h}`;
  if (/^0+$/.test(h)) h = '01'; // RFC 5280: serials are positive
  return h;
}

function altName(san: string): object {
  const colon = san.indexOf(':');
  const kind = san.slice(0, colon);
  const value = san.slice(colon + 1);
  if (kind === 'DNS' && value) return { type: 2, value };
  if (kind === 'IP' && (isIPv4(value) || isIPv6(value))) return { type: 7, ip: value };
  throw new Error(`buildCertificate: SAN must be "DNS:name" or "IP:address", got "${san}"`);
}

function nameConstraintsDer(dns: string[], ips: string[]): string {
  const subtree = (tag: number, bytes: string) =>
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, bytes),
    ]);
  const subtrees = [
    ...dns.map((d) => subtree(2, d)), // dNSName [2] IA5String
    ...ips.map((c) => subtree(7, cidrToBytes(c).toString('binary'))), // iPAddress [7] addr+mask
  ];
  const nc = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, subtrees), // permittedSubtrees [0]
  ]);
  return asn1.toDer(nc).getBytes();
}

/** `10.0.0.0/8` → address bytes followed by mask bytes (RFC 5280 4.2.1.10). */
function cidrToBytes(cidr: string): Buffer {
  const [addr = '', lenText] = cidr.split('/');
  const addrBytes = ipToBytes(addr);
  const bits = addrBytes.length * 8;
  const len = lenText === undefined ? bits : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > bits) throw new Error(`bad CIDR: ${cidr}`);
  const mask = Buffer.alloc(addrBytes.length);
  for (let i = 0; i < len; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
  for (let i = 0; i < addrBytes.length; i++) addrBytes[i]! &= mask[i]!;
  return Buffer.concat([addrBytes, mask]);
}

function cidrFromBytes(bytes: Buffer): string {
  const half = bytes.length / 2;
  const addr = bytes.subarray(0, half);
  const mask = bytes.subarray(half);
  let len = 0;
  for (const b of mask) for (let i = 7; i >= 0; i--) len += (b >> i) & 1;
  return `${bytesToIp(addr)}/${len}`;
}

/** IPv4 or IPv6 text → 4 or 16 bytes. */
export function ipToBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  return Buffer.from(forgeExtra.util.bytesFromIPv6(ip), 'binary');
}

/** 4 or 16 bytes → IPv4 dotted or compressed IPv6 text. */
export function bytesToIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  return forgeExtra.util.bytesToIPv6(bytes.toString('binary'));
}

// Parsing PEM into forge/native objects costs more than building a certificate, and a CA signs
// thousands of leaves with one key: memoize by PEM text (a handful of entries at most).
const memo = new Map<string, unknown>();
const MEMO_MAX = 64;
function memoize<T>(key: string, make: () => T): T {
  if (memo.has(key)) return memo.get(key) as T;
  const value = make();
  if (memo.size >= MEMO_MAX) shiftOldest(memo);
  memo.set(key, value);
  return value;
}

function parsePublicKey(pem: string): Forge.pki.PublicKey {
  return memoize(`pub:${pem}`, () => pki.publicKeyFromPem(pem));
}

function signingKey(pem: string): KeyObject {
  return memoize(`key:${pem}`, () => createPrivateKey(pem));
}

/** A small RSA public key that only holds forge's place while it builds an ECDSA certificate. */
function standInRsaKey(): string {
  return memoize('stand-in', () => generateRsaKeyPair(1024).publicKeyPem);
}

/** A public key's SubjectPublicKeyInfo, as forge ASN.1 (its BIT STRING left as bytes). */
function spkiAsn1(publicKeyPem: string): Forge.asn1.Asn1 {
  return memoize(`spki:${publicKeyPem}`, () => {
    const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
    return forgeExtra.asn1.fromDer(der.toString('binary'), { decodeBitStrings: false });
  });
}

/** The subjectPublicKey BIT STRING's bytes (for an EC key: the point), unused-bits byte dropped. */
function ecPoint(publicKeyPem: string): Buffer {
  const bitString = (spkiAsn1(publicKeyPem).value as Forge.asn1.Asn1[])[1]!.value as string;
  return Buffer.from(bitString.slice(1), 'binary');
}

interface ParsedIssuer {
  /** The issuer certificate's subject Name, as ASN.1 (becomes the issued certificate's issuer). */
  subjectName: Forge.asn1.Asn1;
  /** The issuer's subject key identifier bytes (binary string), or SHA-1 of its key when absent. */
  ski: string;
}

function parseIssuer(certPem: string): ParsedIssuer {
  return memoize(`iss:${certPem}`, () => {
    const root = forgeExtra.asn1.fromDer(pemToDer(certPem).toString('binary'), {
      decodeBitStrings: false,
    });
    const tbs = root.value[0] as Forge.asn1.Asn1;
    const fields = tbs.value as Forge.asn1.Asn1[];
    const off = fields[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0; // explicit version
    const subjectName = fields[4 + off]!;
    const spki = fields[5 + off]!;
    let ski: string | null = null;
    const extsWrapper = fields.find(
      (f) => f.tagClass === asn1.Class.CONTEXT_SPECIFIC && f.type === 3,
    );
    for (const ext of ((extsWrapper?.value as Forge.asn1.Asn1[] | undefined)?.[0]?.value ??
      []) as Forge.asn1.Asn1[]) {
      const parts = ext.value as Forge.asn1.Asn1[];
      if (asn1.derToOid(parts[0]!.value as string) === '2.5.29.14')
        ski = asn1.fromDer(parts[parts.length - 1]!.value as string).value as string;
    }
    if (ski === null) {
      // RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING (minus unused-bits byte).
      const bitString = (spki.value as Forge.asn1.Asn1[])[1]!.value as string;
      ski = createHash('sha1')
        .update(Buffer.from(bitString.slice(1), 'binary'))
        .digest('binary');
    }
    return { subjectName, ski };
  });
}
