// What one certificate says, as a person reads it (CertSummary, src/events/types.ts). Parsed
// with node:crypto's X509Certificate (OpenSSL), not forge: the summary must show what real
// clients see, including certificates forge would not build (the lab's broken gallery).
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import type { CertSummary } from '../events/types.ts';

/** Summarise a certificate given as PEM text or as PEM/DER bytes. */
export function describeCertificate(pemOrDer: string | Buffer): CertSummary {
  const x = new X509Certificate(pemOrDer);
  return summarize(x);
}

/**
 * Summarise an already-parsed certificate (e.g. `tlsSocket.getPeerX509Certificate()`).
 * `knownSpkiSha256`: the SPKI hash when the caller knows the key already (the CA's forged leaves
 * all share one key: exporting and hashing it again was ~0.18 ms of every mint, issue 12).
 */
export function summarize(x: X509Certificate, knownSpkiSha256?: string): CertSummary {
  const subjectParts = dnParts(x.subject);
  const cn = subjectParts.find((p) => p.startsWith('CN='));
  return {
    subject: subjectParts.join(', '),
    subjectCN: cn === undefined ? null : cn.slice(3),
    issuer: dnParts(x.issuer).join(', '),
    sans: parseSans(x.subjectAltName),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    serial: x.serialNumber.toLowerCase(),
    sha256: x.fingerprint256,
    spkiSha256: knownSpkiSha256 ?? spkiSha256Of(x),
    key: describeKey(x.publicKey),
    selfSigned: x.subject === x.issuer && safeVerify(x),
  };
}

/** SHA-256 of DER bytes as X509Certificate#fingerprint256 writes it: `AB:CD:…`, upper case. */
export function fingerprint256(der: Buffer): string {
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/..(?!$)/g, '$&:');
}

function spkiSha256Of(x: X509Certificate): string {
  const spki = x.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Node prints a DN one attribute per line, `CN=value`; multi-valued RDNs are joined by `+`. */
function dnParts(dn: string): string[] {
  return dn.split('\n').filter((line) => line.length > 0);
}

/** Node's `DNS:a, IP Address:127.0.0.1` → `["DNS:a", "IP:127.0.0.1"]` (IPv6 compressed). */
function parseSans(text: string | undefined): string[] {
  if (!text) return [];
  // Values containing ", " are quoted by Node (JSON style); split on the separators outside quotes.
  const out: string[] = [];
  for (const m of text.matchAll(/([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,\s*|$)/g)) {
    const kind = m[1]!.trim();
    let value = m[2]!;
    if (value.startsWith('"')) value = JSON.parse(value) as string;
    if (kind === 'IP Address') out.push(`IP:${compressIp(value)}`);
    else out.push(`${kind}:${value}`);
  }
  return out;
}

/** OpenSSL prints IPv6 SANs uncompressed (`0:0:0:0:0:0:0:1`); the URL parser compresses them. */
function compressIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip; // not an address the URL parser knows: show it as OpenSSL printed it
  }
}

/** A key's algorithm and size as a summary names it: `RSA 2048`, `EC prime256v1`. */
export function describeKey(k: KeyObject): string {
  const d = k.asymmetricKeyDetails ?? {};
  switch (k.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return `RSA ${d.modulusLength ?? '?'}`;
    case 'ec':
      return `EC ${d.namedCurve ?? '?'}`;
    default:
      return (k.asymmetricKeyType ?? 'unknown').toUpperCase();
  }
}

function safeVerify(x: X509Certificate): boolean {
  try {
    return x.verify(x.publicKey);
  } catch {
    return false; // a signature algorithm OpenSSL cannot check: not provably self-signed
  }
}
