// The broken-certificate gallery as DATA: one entry per lab host, with what is wrong with it,
// how its server is set up, and what each client says about it. The lab servers, the index
// page at http://lab.test/, the scripted victim's expectations, the tests and docs/lab.md all
// read this one table, so a lesson is described once.
//
// The `clients` outcomes were MEASURED on the lab machine (Node 20.20 with its bundled OpenSSL
// 3.0, curl 7.88 and Python 3.11 on Debian 12's OpenSSL 3.0 at security level 2, wget 1.21 with
// GnuTLS, Chromium 156, Firefox ESR 153) and are re-checked on every run: node, curl and python
// by test/lab/gallery-clients.test.ts, all of them by test/e2e/client-matrix.test.ts. The
// `browsers` texts are the longer story told on the index page.

/** Which lesson a gallery host teaches. */
export type GalleryId =
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-host'
  | 'self-signed'
  | 'untrusted-root'
  | 'weak-key'
  | 'old-tls'
  | 'no-shared-cipher'
  | 'hsts';

/** How the gallery host's certificate is made (see src/lab/gallery-servers.ts). */
export type GalleryCertKind =
  /** A normal leaf from the lab public root (via the intermediate). */
  | 'valid'
  /** Validity ended 30 days ago. */
  | 'expired'
  /** Validity starts in 30 days: what a client with a wrong clock sees for a good certificate. */
  | 'not-yet-valid'
  /** Valid, but for another name (`www.elsewhere.test`). */
  | 'wrong-host'
  /** Signed by its own key: no CA vouches for it. */
  | 'self-signed'
  /** A full chain from a root nobody trusts ("mitm-lab Untrusted Root"). */
  | 'untrusted-root'
  /** A lab-root leaf on an RSA-1024 key. */
  | 'weak-key';

/** What one client did when it met the host (measured, see the header comment). */
export type ClientOutcome =
  | { outcome: 'accepted'; note?: string }
  | {
      outcome: 'refused';
      /** Node: `err.code`. curl: the exit code as a string. Python: the exception class. */
      code: string;
      /**
       * A part of the client's own words that identifies this failure (a browser: its error
       * page's heading or title).
       */
      text: string;
      /**
       * Node only, when it differs from `code`: what `https.get` reports. An alert from the
       * server fails its request write, so it says `EPROTO` (the alert in the message), where
       * `tls.connect` says `ERR_SSL_…`.
       */
      httpsCode?: string;
    };

/** One host of the gallery. */
export interface GalleryEntry {
  id: GalleryId;
  /** The host name, always under `.test` (RFC 2606). */
  host: string;
  /** Short title for lists and the index page. */
  title: string;
  /** What is wrong with this host, in one sentence. */
  problem: string;
  /** Which step of the TLS handshake fails (or, for HSTS, what the header changes). */
  handshakeStep: string;
  /** What it teaches. */
  lesson: string;
  cert: GalleryCertKind;
  /** TLS settings of this host's server that differ from Node's defaults. */
  tls?: {
    minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    ciphers?: string;
  };
  /** Extra response headers the host sends. */
  headers?: Record<string, string>;
  /** What browsers show (documented, not measured here). */
  browsers: { chromium: string; firefox: string };
  /**
   * What each client does, connecting directly and trusting only the lab root. Measured:
   * `node` (`tls.connect`), `curl` and `python` by test/lab/gallery-clients.test.ts; every
   * client (Node as `https.get`, wget, `openssl s_client`, headless Chromium and Firefox ESR
   * too) by test/e2e/client-matrix.test.ts, which renders docs/client-matrix.md. A browser's
   * `code` is the one its error page names.
   */
  clients: {
    node: ClientOutcome;
    curl: ClientOutcome;
    python: ClientOutcome;
    wget: ClientOutcome;
    openssl: ClientOutcome;
    chromium: ClientOutcome;
    firefox: ClientOutcome;
  };
  /** A note about the platform (what OpenSSL allowed), shown on the index page. */
  platformNote?: string;
}

/** The lab's own sites, for the index page and the resolve rules. */
export const BANK_HOST = 'bank.test';
export const INDEX_HOST = 'lab.test';

/** Every gallery host, in the order the index page and the victim visit them. */
export const GALLERY: readonly GalleryEntry[] = [
  {
    id: 'expired',
    host: 'expired.bank.test',
    title: 'Expired certificate',
    problem:
      'The certificate is signed by the lab root, for the right name, but its validity ended 30 days ago.',
    handshakeStep: 'Certificate validation: the validity period (notAfter) is in the past.',
    lesson:
      'An expired certificate may belong to the real site that forgot to renew — or to an attacker replaying an old, leaked key. The client cannot tell, so it refuses.',
    cert: 'expired',
    browsers: { chromium: 'NET::ERR_CERT_DATE_INVALID', firefox: 'SEC_ERROR_EXPIRED_CERTIFICATE' },
    clients: {
      node: { outcome: 'refused', code: 'CERT_HAS_EXPIRED', text: 'certificate has expired' },
      curl: {
        outcome: 'refused',
        code: '60',
        text: 'SSL certificate problem: certificate has expired',
      },
      python: {
        outcome: 'refused',
        code: 'SSLCertVerificationError',
        text: 'certificate verify failed: certificate has expired',
      },
      wget: { outcome: 'refused', code: '5', text: 'has expired' },
      openssl: { outcome: 'refused', code: '1', text: 'certificate has expired' },
      chromium: {
        outcome: 'refused',
        code: 'NET::ERR_CERT_DATE_INVALID',
        text: 'Your connection is not private',
      },
      firefox: {
        outcome: 'refused',
        code: 'SEC_ERROR_EXPIRED_CERTIFICATE',
        text: 'Be careful. Something doesn’t look right.',
      },
    },
  },
  {
    id: 'not-yet-valid',
    host: 'not-yet-valid.bank.test',
    title: 'Not yet valid (the wrong-clock case)',
    problem:
      'The certificate only becomes valid in 30 days — what a client whose clock is wrong sees for a perfectly good certificate.',
    handshakeStep: 'Certificate validation: the validity period (notBefore) is in the future.',
    lesson:
      'Certificate validation depends on the client clock: a laptop with a dead CMOS battery or a phone set to the wrong date gets certificate errors everywhere.',
    cert: 'not-yet-valid',
    browsers: {
      chromium:
        'NET::ERR_CERT_DATE_INVALID ("Your clock is ahead/behind" when Chromium suspects the clock)',
      firefox: 'MOZILLA_PKIX_ERROR_NOT_YET_VALID_CERTIFICATE',
    },
    clients: {
      node: {
        outcome: 'refused',
        code: 'CERT_NOT_YET_VALID',
        text: 'certificate is not yet valid',
      },
      curl: {
        outcome: 'refused',
        code: '60',
        text: 'SSL certificate problem: certificate is not yet valid',
      },
      python: {
        outcome: 'refused',
        code: 'SSLCertVerificationError',
        text: 'certificate verify failed: certificate is not yet valid',
      },
      wget: { outcome: 'refused', code: '5', text: 'is not yet activated' },
      openssl: { outcome: 'refused', code: '1', text: 'certificate is not yet valid' },
      chromium: {
        outcome: 'refused',
        code: 'NET::ERR_CERT_DATE_INVALID',
        text: 'Your connection is not private',
      },
      firefox: {
        outcome: 'refused',
        code: 'MOZILLA_PKIX_ERROR_NOT_YET_VALID_CERTIFICATE',
        text: 'Be careful. Something doesn’t look right.',
      },
    },
  },
  {
    id: 'wrong-host',
    host: 'wrong-host.bank.test',
    title: 'Wrong host name',
    problem: 'A valid certificate from the lab root — for www.elsewhere.test, not for this name.',
    handshakeStep:
      'Certificate validation: the host name is not among the subject alternative names.',
    lesson:
      'A certificate is only a promise about the names it lists. A valid certificate for another site proves nothing about this one.',
    cert: 'wrong-host',
    browsers: {
      chromium: 'NET::ERR_CERT_COMMON_NAME_INVALID',
      firefox: 'SSL_ERROR_BAD_CERT_DOMAIN',
    },
    clients: {
      node: {
        outcome: 'refused',
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        text: "Hostname/IP does not match certificate's altnames",
      },
      curl: {
        outcome: 'refused',
        code: '60',
        text: 'no alternative certificate subject name matches target host name',
      },
      python: {
        outcome: 'refused',
        code: 'SSLCertVerificationError',
        text: 'Hostname mismatch, certificate is not valid for',
      },
      wget: {
        outcome: 'refused',
        code: '5',
        text: "The certificate's owner does not match hostname",
      },
      openssl: { outcome: 'refused', code: '1', text: 'hostname mismatch' },
      chromium: {
        outcome: 'refused',
        code: 'NET::ERR_CERT_COMMON_NAME_INVALID',
        text: 'Your connection is not private',
      },
      firefox: {
        outcome: 'refused',
        code: 'SSL_ERROR_BAD_CERT_DOMAIN',
        text: 'Be careful. Something doesn’t look right.',
      },
    },
  },
  {
    id: 'self-signed',
    host: 'self-signed.bank.test',
    title: 'Self-signed certificate',
    problem:
      'The certificate signs itself: right name, valid dates, but no authority vouches for it.',
    handshakeStep:
      'Certificate validation: the chain ends at a certificate the client does not trust.',
    lesson:
      "Anyone can make a self-signed certificate for any name in a second — exactly what an attacker would present. Clicking through is trusting a stranger's word.",
    cert: 'self-signed',
    browsers: {
      chromium: 'NET::ERR_CERT_AUTHORITY_INVALID',
      firefox: 'MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT',
    },
    clients: {
      node: {
        outcome: 'refused',
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
        text: 'self-signed certificate',
      },
      curl: {
        outcome: 'refused',
        code: '60',
        text: 'SSL certificate problem: self-signed certificate',
      },
      python: {
        outcome: 'refused',
        code: 'SSLCertVerificationError',
        text: 'certificate verify failed: self-signed certificate',
      },
      wget: { outcome: 'refused', code: '5', text: "doesn't have a known issuer" },
      openssl: { outcome: 'refused', code: '1', text: 'self-signed certificate' },
      chromium: {
        outcome: 'refused',
        code: 'NET::ERR_CERT_AUTHORITY_INVALID',
        text: 'Your connection is not private',
      },
      firefox: {
        outcome: 'refused',
        code: 'MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT',
        text: 'Be careful. Something doesn’t look right.',
      },
    },
  },
  {
    id: 'untrusted-root',
    host: 'untrusted-root.bank.test',
    title: 'Untrusted root',
    problem:
      'A proper chain (leaf + intermediate) leading to "mitm-lab Untrusted Root", which the client does not trust.',
    handshakeStep: 'Certificate validation: the chain cannot be built up to a trusted root.',
    lesson:
      'This is what a man in the middle looks like to a device that does not trust his CA — and what mitm-lab itself looks like to a normal client.',
    cert: 'untrusted-root',
    browsers: { chromium: 'NET::ERR_CERT_AUTHORITY_INVALID', firefox: 'SEC_ERROR_UNKNOWN_ISSUER' },
    clients: {
      node: {
        outcome: 'refused',
        code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
        text: 'unable to get local issuer certificate',
      },
      curl: {
        outcome: 'refused',
        code: '60',
        text: 'SSL certificate problem: unable to get local issuer certificate',
      },
      python: {
        outcome: 'refused',
        code: 'SSLCertVerificationError',
        text: 'certificate verify failed: unable to get local issuer certificate',
      },
      wget: { outcome: 'refused', code: '5', text: "doesn't have a known issuer" },
      openssl: { outcome: 'refused', code: '1', text: 'unable to get local issuer certificate' },
      chromium: {
        outcome: 'refused',
        code: 'NET::ERR_CERT_AUTHORITY_INVALID',
        text: 'Your connection is not private',
      },
      firefox: {
        outcome: 'refused',
        code: 'SEC_ERROR_UNKNOWN_ISSUER',
        text: 'Be careful. Something doesn’t look right.',
      },
    },
  },
  {
    id: 'weak-key',
    host: 'weak-key.bank.test',
    title: 'Weak key (RSA-1024)',
    problem: 'A lab-root certificate for the right name, on an RSA key of only 1024 bits.',
    handshakeStep:
      "Certificate validation: the key is below the client's minimum size (OpenSSL security level 2 wants 2048 bits).",
    lesson:
      'Whether a weak key is refused depends on the client\'s policy, not on the protocol: here curl, Python and openssl s_client refuse it; Node, wget, Chromium and Firefox accept it. "It connected" does not mean "it is safe".',
    cert: 'weak-key',
    browsers: {
      chromium:
        'loads the page (Chromium 156 accepts an RSA-1024 leaf from a locally trusted root; measured by the client matrix)',
      firefox: 'loads the page (Firefox ESR 153 accepts it too; measured by the client matrix)',
    },
    clients: {
      node: {
        outcome: 'accepted',
        note: "Node's bundled OpenSSL runs at security level 1, which still allows RSA-1024",
      },
      curl: {
        outcome: 'refused',
        code: '60',
        text: 'SSL certificate problem: EE certificate key too weak',
      },
      python: {
        outcome: 'refused',
        code: 'SSLCertVerificationError',
        text: 'EE certificate key too weak',
      },
      wget: { outcome: 'accepted', note: 'GnuTLS accepts a 1024-bit RSA key' },
      openssl: { outcome: 'refused', code: '1', text: 'EE certificate key too weak' },
      chromium: {
        outcome: 'accepted',
        note: 'from a locally added root, Chromium accepts RSA-1024',
      },
      firefox: { outcome: 'accepted', note: 'from a locally added root, Firefox accepts RSA-1024' },
    },
    platformNote:
      'curl and Python use the system OpenSSL (Debian: security level 2 → refuse); Node uses its own (level 1 → accept).',
  },
  {
    id: 'old-tls',
    host: 'old-tls.bank.test',
    title: 'Obsolete protocol (TLS 1.0/1.1 only)',
    problem: 'The server speaks only TLS 1.0 and 1.1, deprecated since 2021 (RFC 8996).',
    handshakeStep: 'ClientHello → ServerHello: no protocol version both sides accept.',
    lesson:
      'A handshake can fail before any certificate is sent: client and server must first agree on a version. curl, Python, Node, Chromium and Firefox refuse TLS 1.0/1.1; wget (GnuTLS on Debian 12) still falls back to TLS 1.1 and connects.',
    cert: 'valid',
    // OpenSSL 3 refuses TLS 1.0/1.1 at its default security level (their signatures use
    // SHA-1/MD5); SECLEVEL=0 lets this one server offer them. Node's bundled OpenSSL allows it.
    tls: { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
    browsers: {
      chromium: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
      firefox: 'SSL_ERROR_PROTOCOL_VERSION_ALERT ("Secure Connection Failed")',
    },
    clients: {
      node: {
        outcome: 'refused',
        code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
        text: 'alert protocol version',
        httpsCode: 'EPROTO',
      },
      curl: { outcome: 'refused', code: '35', text: 'legacy sigalg disallowed or unsupported' },
      python: { outcome: 'refused', code: 'SSLError', text: 'TLSV1_ALERT_PROTOCOL_VERSION' },
      wget: { outcome: 'accepted', note: 'GnuTLS falls back to TLS 1.1 and connects' },
      openssl: { outcome: 'refused', code: '1', text: 'legacy sigalg disallowed or unsupported' },
      chromium: {
        outcome: 'refused',
        code: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
        text: 'provide a secure connection',
      },
      firefox: {
        outcome: 'refused',
        code: 'SSL_ERROR_PROTOCOL_VERSION_ALERT',
        text: 'Secure Connection Failed',
      },
    },
    platformNote:
      'Served with OpenSSL SECLEVEL=0. Node and Python offer TLS 1.2+ only and get alert 70 (protocol_version); curl offers TLS 1.0 but then refuses its SHA-1 signatures.',
  },
  {
    id: 'no-shared-cipher',
    host: 'no-shared-cipher.bank.test',
    title: 'No shared cipher suite',
    problem:
      'The server accepts only TLS 1.3 with TLS_AES_128_CCM_8_SHA256, a suite for tiny devices that no mainstream client enables.',
    handshakeStep:
      'ClientHello → ServerHello: the server finds no cipher suite it shares with the client and answers with alert 40 (handshake_failure).',
    lesson:
      'Client and server must agree on a cipher suite before anything else; the failure is an alert, not a certificate warning.',
    cert: 'valid',
    tls: { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_CCM_8_SHA256' },
    browsers: {
      chromium: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
      firefox: 'SSL_ERROR_NO_CYPHER_OVERLAP',
    },
    clients: {
      node: {
        outcome: 'refused',
        code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
        text: 'alert handshake failure',
        httpsCode: 'EPROTO',
      },
      curl: { outcome: 'refused', code: '35', text: 'alert handshake failure' },
      python: { outcome: 'refused', code: 'SSLError', text: 'SSLV3_ALERT_HANDSHAKE_FAILURE' },
      wget: { outcome: 'refused', code: '4', text: 'received alert [40]: Handshake failed' },
      openssl: { outcome: 'refused', code: '1', text: 'sslv3 alert handshake failure' },
      chromium: {
        outcome: 'refused',
        code: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
        text: 'provide a secure connection',
      },
      firefox: {
        outcome: 'refused',
        code: 'SSL_ERROR_NO_CYPHER_OVERLAP',
        text: 'Be careful. Something doesn’t look right.',
      },
    },
  },
  {
    id: 'hsts',
    host: 'hsts.bank.test',
    title: 'HSTS host (valid, strict)',
    problem:
      'Nothing is wrong: a valid certificate, and the response says Strict-Transport-Security: max-age=31536000.',
    handshakeStep:
      'After the handshake: the header tells browsers to use HTTPS only and never let the user click through a certificate error for this host.',
    lesson:
      'HSTS turns a certificate warning into a wall: once a browser has seen this header, a man in the middle cannot be clicked through. Only a trusted-but-malicious CA (or pinning failing open) gets past it.',
    cert: 'valid',
    headers: { 'Strict-Transport-Security': 'max-age=31536000' },
    browsers: {
      chromium: 'no warning; after a visit, a certificate error here has no "Proceed" link',
      firefox:
        'no warning; after a visit, a certificate error here has no "Accept the Risk" button',
    },
    clients: {
      node: { outcome: 'accepted' },
      curl: { outcome: 'accepted', note: 'curl --hsts FILE would remember it' },
      python: { outcome: 'accepted' },
      wget: { outcome: 'accepted' },
      openssl: { outcome: 'accepted' },
      chromium: { outcome: 'accepted' },
      firefox: { outcome: 'accepted' },
    },
  },
];

/** The gallery entry for `host`, if it is a gallery host. */
export function galleryEntry(host: string): GalleryEntry | undefined {
  return GALLERY.find((g) => g.host === host);
}

/**
 * What Chromium shows for the error a Node client reports (Node's `err.code` → the interstitial
 * code), so the victim can say what a browser user would have seen at the same moment.
 */
export const BROWSER_EQUIVALENT: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'NET::ERR_CERT_AUTHORITY_INVALID',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'NET::ERR_CERT_AUTHORITY_INVALID',
  UNABLE_TO_GET_ISSUER_CERT: 'NET::ERR_CERT_AUTHORITY_INVALID',
  SELF_SIGNED_CERT_IN_CHAIN: 'NET::ERR_CERT_AUTHORITY_INVALID',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'NET::ERR_CERT_AUTHORITY_INVALID',
  CERT_UNTRUSTED: 'NET::ERR_CERT_AUTHORITY_INVALID',
  CERT_HAS_EXPIRED: 'NET::ERR_CERT_DATE_INVALID',
  CERT_NOT_YET_VALID: 'NET::ERR_CERT_DATE_INVALID',
  ERR_TLS_CERT_ALTNAME_INVALID: 'NET::ERR_CERT_COMMON_NAME_INVALID',
  PERMITTED_SUBTREE_VIOLATION: 'NET::ERR_CERT_INVALID',
  // Node reports a name-constraint violation as UNSPECIFIED ("permitted subtree violation").
  UNSPECIFIED: 'NET::ERR_CERT_INVALID',
  CERT_SIGNATURE_FAILURE: 'NET::ERR_CERT_INVALID',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
};
