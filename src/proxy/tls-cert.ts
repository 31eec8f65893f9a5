// Summarises a certificate read off the wire (the TLS 1.2 Certificate message) as a CertSummary.
// node:crypto's X509Certificate (OpenSSL) parses it, so the summary shows what real clients see.
// Same rules as the CA's describeCertificate (src/ca/describe.ts), kept local so the passive
// parser does not depend on the CA being loaded.
import { createHash, X509Certificate } from 'node:crypto';
import type { CertSummary } from '../events/types.ts';

/** Summarise a DER (or PEM) certificate; throws when it is not a certificate. */
export function summarizeCertificate(der: Buffer | string): CertSummary {
  const x = new X509Certificate(der);
  const subject = dnParts(x.subject);
  const cn = subject.find((p) => p.startsWith('CN='));
  const spki = x.publicKey.export({ type: 'spki', format: 'der' });
  return {
    subject: subject.join(', '),
    subjectCN: cn === undefined ? null : cn.slice(3),
    issuer: dnParts(x.issuer).join(', '),
    sans: parseSans(x.subjectAltName),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    serial: x.serialNumber.toLowerCase(),
    sha256: x.fingerprint256,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
    key: keyDescription(x),
    selfSigned: x.subject === x.issuer && verifiesItself(x),
  };
}

/** Node prints a DN one attribute per line (`CN=value`). */
function dnParts(dn: string): string[] {
  return dn.split('\n').filter((line) => line.length > 0);
}

/** Node's `DNS:a, IP Address:127.0.0.1` → `["DNS:a", "IP:127.0.0.1"]`. */
function parseSans(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  // Values containing ", " are quoted by Node (JSON style): split on separators outside quotes.
  for (const m of text.matchAll(/([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,\s*|$)/g)) {
    const kind = (m[1] ?? '').trim();
    let value = m[2] ?? '';
    if (value.startsWith('"')) value = JSON.parse(value) as string;
    out.push(kind === 'IP Address' ? `IP:${compressIp(value)}` : `${kind}:${value}`);
  }
  return out;
}

/** OpenSSL prints IPv6 SANs uncompressed; the URL parser compresses them. */
function compressIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip; // not an address the URL parser knows: show it as OpenSSL printed it
  }
}

function keyDescription(x: X509Certificate): string {
  const k = x.publicKey;
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

function verifiesItself(x: X509Certificate): boolean {
  try {
    return x.verify(x.publicKey);
  } catch {
    return false; // an unsupported or broken signature does not verify
  }
}
