// The proxy -> server leg's security policy (issue 9): a trusted man in the middle must not
// launder a weak server behind a strong forged certificate. Real servers are held to OpenSSL
// security level 2, what Debian's curl and Python use and so the strictest common client:
// RSA/DSA/DH keys of at least 2048 bits, EC keys of at least 224, no SHA-1 or MD5 signature in
// the chain (a trust anchor's signature on itself does not count: nothing relies on it), and
// TLS 1.2 or newer (RFC 8996). OpenSSL enforces all of it through the secure context below;
// this file maps what Node then reports to three stable codes, in one table, and says what was
// found. `--insecure-upstream` keeps Node's defaults instead (see ./upstream.ts).
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { signatureAlgorithmOid } from '../ca/index.ts';
import { assertNever } from '../events/types.ts';

/** OpenSSL's security level on the upstream leg: 2 = 112-bit security (Node's own default is 1). */
export const UPSTREAM_SECURITY_LEVEL = 2;

/** The oldest TLS version the proxy speaks to servers (RFC 8996 deprecates 1.0 and 1.1). */
export const UPSTREAM_MIN_TLS_VERSION = 'TLSv1.2';

/** The key sizes level 2 requires, in bits (for the messages: OpenSSL does the checking). */
export const UPSTREAM_MIN_KEY_BITS = { RSA: 2048, DSA: 2048, DH: 2048, EC: 224 } as const;

/** The stable codes an `upstream.error` carries when the policy refuses a server. */
export const UPSTREAM_POLICY_CODES = [
  'UPSTREAM_KEY_TOO_WEAK',
  'UPSTREAM_SIGNATURE_TOO_WEAK',
  'UPSTREAM_PROTOCOL_TOO_OLD',
] as const;
export type UpstreamPolicyCode = (typeof UPSTREAM_POLICY_CODES)[number];

/** A server the policy refused: the stable code and a sentence saying what was found. */
export interface PolicyRefusal {
  code: UpstreamPolicyCode;
  message: string;
}

/**
 * The secure-context options that make OpenSSL enforce the policy: Node's own cipher list,
 * unchanged (OpenSSL's `DEFAULT:@SECLEVEL=2` refuses the same servers but would also offer
 * OpenSSL's wider list), with the security level raised; and the minimum version pinned, so
 * `node --tls-min-v1.0` cannot lower it.
 */
export function upstreamPolicyOptions(): { ciphers: string; minVersion: tls.SecureVersion } {
  return {
    ciphers: `${tls.DEFAULT_CIPHERS}:@SECLEVEL=${UPSTREAM_SECURITY_LEVEL}`,
    minVersion: UPSTREAM_MIN_TLS_VERSION,
  };
}

/** What the policy found wrong, by how Node reported it. */
type Finding =
  'leaf-key' | 'ca-key' | 'signature' | 'dh-key' | 'protocol-refused' | 'protocol-answered';

/**
 * What Node 20.20 (bundled OpenSSL 3.0.19) reports for each kind of server the policy refuses,
 * measured against real servers through an https.Agent, the proxy's own path
 * (test/integration/upstream-policy.test.ts re-checks every row on each run):
 *
 * | server                                   | err.code      | err.message                                  |
 * |------------------------------------------|---------------|----------------------------------------------|
 * | RSA-1024 leaf                            | `UNSPECIFIED` | `EE certificate key too weak`                |
 * | RSA-1024 intermediate or root            | `UNSPECIFIED` | `CA certificate key too weak`                |
 * | SHA-1 or MD5 signed leaf or intermediate | `UNSPECIFIED` | `CA signature digest algorithm too weak`     |
 * | DHE on a 1024-bit group (TLS 1.2)        | `EPROTO`      | `… SSL routines:…:dh key too small:…`        |
 * | TLS 1.0 or 1.1 only (an OpenSSL server)  | `EPROTO`      | `… tlsv1 alert protocol version … alert 70`  |
 * | answers a TLS 1.0 ServerHello            | `EPROTO`      | `… SSL routines:…:unsupported protocol:…`    |
 *
 * Node has no code of its own for OpenSSL's key and digest verify errors (`UNSPECIFIED`, as
 * for a name-constraint violation): OpenSSL's fixed message is what tells them apart. The
 * handshake errors are `EPROTO` when a request was already written, and
 * `ERR_SSL_DH_KEY_TOO_SMALL`, `ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION` or
 * `ERR_SSL_UNSUPPORTED_PROTOCOL` (with `err.reason`) from a bare tls.connect: both spellings
 * carry the same OpenSSL reason, which is what is matched. SHA-1 is refused at Node's default level 1 already (same report); RSA-1024 and
 * DH-1024 are not. An EC key under 224 bits never gets this far: no TLS signature scheme
 * covers such curves, so the handshake ends in alert 40 handshake_failure.
 */
const NODE_REPORTS: ReadonlyArray<
  { finding: Finding } & ({ verifyMessage: RegExp } | { sslReason: string })
> = [
  { verifyMessage: /^EE certificate key too weak/, finding: 'leaf-key' },
  { verifyMessage: /^CA certificate key too weak/, finding: 'ca-key' },
  { verifyMessage: /^CA signature digest algorithm too weak/, finding: 'signature' },
  { sslReason: 'dh key too small', finding: 'dh-key' },
  { sslReason: 'tlsv1 alert protocol version', finding: 'protocol-refused' },
  { sslReason: 'unsupported protocol', finding: 'protocol-answered' },
];

const CODE_OF: Readonly<Record<Finding, UpstreamPolicyCode>> = {
  'leaf-key': 'UPSTREAM_KEY_TOO_WEAK',
  'ca-key': 'UPSTREAM_KEY_TOO_WEAK',
  'dh-key': 'UPSTREAM_KEY_TOO_WEAK',
  signature: 'UPSTREAM_SIGNATURE_TOO_WEAK',
  'protocol-refused': 'UPSTREAM_PROTOCOL_TOO_OLD',
  'protocol-answered': 'UPSTREAM_PROTOCOL_TOO_OLD',
};

/** Signature algorithms whose hash is broken (MD2, MD4, MD5) or no longer accepted (SHA-1). */
const WEAK_SIGNATURES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.2': 'MD2 with RSA',
  '1.2.840.113549.1.1.3': 'MD4 with RSA',
  '1.2.840.113549.1.1.4': 'MD5 with RSA',
  '1.2.840.113549.1.1.5': 'SHA-1 with RSA',
  '1.3.14.3.2.29': 'SHA-1 with RSA',
  '1.2.840.10040.4.3': 'DSA with SHA-1',
  '1.2.840.10045.4.1': 'ECDSA with SHA-1',
};

/**
 * The policy's verdict on an upstream failure, or null when the failure is something else.
 * `chain` is the server's chain (DER, leaf first, as far as the handshake delivered it) when
 * the failure came after the certificate: it names the weak key or signature.
 */
export function policyRefusal(err: NodeJS.ErrnoException, chain: Buffer[]): PolicyRefusal | null {
  const ssl = sslReason(err);
  const report = NODE_REPORTS.find((r) =>
    'verifyMessage' in r
      ? err.code === 'UNSPECIFIED' && r.verifyMessage.test(err.message)
      : ssl === r.sslReason,
  );
  if (!report) return null;
  const openssl = ssl ?? err.message.split('\n')[0]!.trim();
  return {
    code: CODE_OF[report.finding],
    message: `${whatWasFound(report.finding, parse(chain))} (OpenSSL: ${openssl})`,
  };
}

function whatWasFound(finding: Finding, chain: X509Certificate[]): string {
  const { RSA, DH, EC } = UPSTREAM_MIN_KEY_BITS;
  switch (finding) {
    case 'leaf-key': {
      const leaf = chain[0];
      const weak = leaf && keyWeakness(leaf);
      return weak
        ? `the server's certificate (${nameOf(leaf)}) has ${weak}`
        : `the server's certificate has a key below the minimum (RSA/DSA ${RSA} bits, EC ${EC})`;
    }
    case 'ca-key': {
      for (const ca of chain.slice(1)) {
        const weak = keyWeakness(ca);
        if (weak) return `the CA certificate "${nameOf(ca)}" in the server's chain has ${weak}`;
      }
      return `a CA certificate in the server's chain has a key below the minimum (RSA/DSA ${RSA} bits, EC ${EC})`;
    }
    case 'signature': {
      // The last certificate, when it signs itself, is the trust anchor: its own signature
      // does not count (OpenSSL skips it too).
      const anchor = chain.at(-1);
      const checked = anchor && isSelfSigned(anchor) ? chain.slice(0, -1) : chain;
      for (const [i, cert] of checked.entries()) {
        const weak = weakSignature(cert);
        if (!weak) continue;
        const whose = i === 0 ? `the server's certificate (${nameOf(cert)})` : `"${nameOf(cert)}"`;
        const by = chain[i + 1];
        return `${whose} is signed${by ? ` by "${nameOf(by)}"` : ''} with ${weak}; SHA-256 or stronger required`;
      }
      return "a certificate in the server's chain is signed with SHA-1 or MD5; SHA-256 or stronger required";
    }
    case 'dh-key':
      return `the server chose a Diffie-Hellman key exchange on a group smaller than ${DH} bits; at least ${DH} required`;
    case 'protocol-refused':
      return 'the server accepts neither TLS 1.3 nor TLS 1.2 (it answered alert 70 protocol_version): it speaks only an older version; at least TLS 1.2 required';
    case 'protocol-answered':
      return 'the server answered with a TLS version older than 1.2; at least TLS 1.2 required';
    default:
      return assertNever(finding, 'policy finding');
  }
}

/** `RSA key of 1024 bits; at least 2048 required`, or null for a key strong enough. */
function keyWeakness(cert: X509Certificate): string | null {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  let label: keyof typeof UPSTREAM_MIN_KEY_BITS;
  let bits: number | undefined;
  let curve = '';
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      label = 'RSA';
      bits = details.modulusLength;
      break;
    case 'dsa':
      label = 'DSA';
      bits = details.modulusLength;
      break;
    case 'ec':
      label = 'EC';
      curve = details.namedCurve ?? '';
      // OpenSSL's curve names carry their size: prime192v1, secp224r1, secp384r1, brainpoolP256r1.
      bits = Number(/(\d{3})/.exec(curve)?.[1]) || undefined;
      break;
    default:
      return null; // Ed25519, Ed448: fixed sizes above level 2
  }
  const min = UPSTREAM_MIN_KEY_BITS[label];
  if (bits === undefined || bits >= min) return null;
  const article = label === 'DSA' ? 'a' : 'an';
  return `${article} ${label} key of ${bits} bits${curve ? ` (${curve})` : ''}; at least ${min} required`;
}

function weakSignature(cert: X509Certificate): string | null {
  try {
    return WEAK_SIGNATURES[signatureAlgorithmOid(cert.raw)] ?? null;
  } catch {
    return null; // not parseable: OpenSSL's own reason still goes into the message
  }
}

/** The chain as X509Certificates, up to the first one that does not parse. */
function parse(chain: Buffer[]): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const der of chain) {
    try {
      out.push(new X509Certificate(der));
    } catch {
      break; // OpenSSL parsed it in the handshake; if Node cannot, name what came before
    }
  }
  return out;
}

function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(cert) && cert.verify(cert.publicKey);
  } catch {
    return false; // a signature OpenSSL cannot check: not provably self-signed
  }
}

/** The CN, or the whole subject when there is none. */
function nameOf(cert: X509Certificate): string {
  const lines = cert.subject.split('\n').filter(Boolean);
  const cn = lines.find((l) => l.startsWith('CN='));
  return cn ? cn.slice(3) : lines.join(', ');
}

/**
 * OpenSSL's reason for a handshake error (`dh key too small`): `err.reason` on an `ERR_SSL_*`
 * error, the part after `SSL routines:FUNCTION:` in an `EPROTO` message; null otherwise.
 */
function sslReason(err: NodeJS.ErrnoException): string | null {
  const reason = (err as { reason?: unknown }).reason;
  if (err.code?.startsWith('ERR_SSL_') && typeof reason === 'string') return reason;
  if (err.code === 'EPROTO') return /SSL routines:[^:]*:([^:]+):/.exec(err.message)?.[1] ?? null;
  return null;
}
