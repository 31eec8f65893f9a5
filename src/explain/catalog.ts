// The teaching catalog: one entry per thing the engine can report, keyed by event kind and
// cause. Pure data, no logic: `{slot}` placeholders are filled by explain.ts (see SLOTS in
// explanation.ts), which also decides which causes of a family the proxy can rule out.
//
// What a client shows is MEASURED: every client line the client matrix reaches
// (test/e2e/client-matrix.test.ts, all clients x bank.test and the gallery x every mode) is held
// against what that client really printed, and docs/client-matrix.md is the measured table. A line
// no test run backs carries `unverified: true` and is shown as such. To add an entry, see
// docs/explain.md.
import type {
  Cause,
  ClientLines,
  ClientShows,
  Explanation,
  HstsNote,
  RuleId,
} from './explanation.ts';

/** TLS alerts a client may send when it refuses the forged certificate (RFC 8446 §6.2). */
export const ALERT_CODES = [40, 42, 43, 44, 45, 46, 48, 49, 51, 70, 71, 80, 112, 116, 120] as const;
export type AlertCode = (typeof ALERT_CODES)[number];

/** Node error codes an upstream connection can fail with, that have their own entry. */
export const UPSTREAM_CODES = [
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UPSTREAM_KEY_TOO_WEAK',
  'UPSTREAM_SIGNATURE_TOO_WEAK',
  'UPSTREAM_PROTOCOL_TOO_OLD',
  'UPSTREAM_FIRST_BYTE_TIMEOUT',
  'UPSTREAM_IDLE_TIMEOUT',
  'EMFILE',
  'TARGET_REFUSED',
  'ENOTFOUND',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPROTO',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
] as const;
export type UpstreamCode = (typeof UPSTREAM_CODES)[number];

export type ExplanationKey =
  | 'http.plaintext'
  | 'https.decrypted'
  | `reject.alert.${AlertCode}`
  | 'reject.alert.other'
  | 'reject.closed-after-handshake'
  | 'reject.reset-during-handshake'
  | 'reject.timeout'
  | 'reject.no-shared-version-or-cipher'
  | 'reject.not-tls'
  | 'reject.unknown'
  | 'tunnel.mode-eavesdrop'
  | 'tunnel.auto-refused-before'
  | 'tunnel.outside-name-constraints'
  | 'tunnel.not-tls'
  | 'tunnel.mint-failed'
  | `upstream.${UpstreamCode}`
  | 'upstream.other'
  | 'unknown';

// ---- causes: what an alert code or a hang-up can stand for ----

/** Every cause the catalog knows. An alert names a family of these, never one for certain. */
export const CAUSE_IDS = [
  'untrusted-issuer',
  'client-clock',
  'wrong-name',
  'expired',
  'not-yet-valid',
  'self-signed',
  'untrusted-root',
  'weak-key',
  'old-protocol',
  'no-shared-cipher',
  'client-policy',
  'spare-connection',
] as const;
export type CauseId = (typeof CAUSE_IDS)[number];

/** What a fact about the forgery says when it rules a cause out. */
export const RULES: Readonly<Record<RuleId, string>> = {
  'forged-names-host': 'mitm-lab forged this certificate for {host} itself, so the name matches.',
  'forged-valid-now':
    "the certificate is in date: mitm-lab's forgery is valid from {notBefore} to {notAfter} by the proxy's clock, so a date failure means the client's clock is outside that window.",
  'forged-key-strong': "the forged certificate's key is strong enough for every client.",
  'forged-signed-by-ca': 'the forged certificate is signed by the mitm-lab CA, not by itself.',
  'forged-within-constraints':
    "{host} is inside the CA's name constraints (otherwise mitm-lab would have tunnelled it).",
};

/** A successful page or response: what every client shows when nothing is wrong. */
const ALL_OK: ClientLines = {
  chromium: { outcome: 'ok', note: 'the page loads' },
  firefox: { outcome: 'ok', note: 'the page loads' },
  curl: { outcome: 'ok', note: 'exit 0, the response is printed' },
  wget: { outcome: 'ok', note: 'exit 0, the page is saved' },
  python: { outcome: 'ok', note: 'the request succeeds' },
  node: { outcome: 'ok', note: 'the request succeeds' },
  openssl: { outcome: 'ok', note: '"Verification: OK", the response is printed' },
};

/** Through mitm-lab, an upstream failure is answered by the proxy itself: a 502 page. */
const VIA_PROXY_502: ClientLines = {
  chromium: { outcome: 'ok', code: '502', note: "mitm-lab's 502 page naming the reason" },
  firefox: { outcome: 'ok', code: '502', note: "mitm-lab's 502 page naming the reason" },
  curl: { outcome: 'ok', code: '502', note: 'exit 0 (without -f) and the 502 page' },
  wget: { outcome: 'ok', code: '502', note: 'exit 8, "ERROR 502: Bad Gateway"' },
  python: { outcome: 'ok', code: '502', note: 'urllib raises HTTPError 502; requests returns it' },
  node: { outcome: 'ok', code: '502', note: 'statusCode 502' },
  openssl: { outcome: 'ok', code: '502', note: 'the 502 response after "Verification: OK"' },
};

/** Too slow: the proxy answers 504 itself (src/proxy/timeouts.ts). */
const VIA_PROXY_504: ClientLines = {
  chromium: {
    outcome: 'ok',
    code: '504',
    note: "mitm-lab's 504 page naming the reason",
    unverified: true,
  },
  firefox: {
    outcome: 'ok',
    code: '504',
    note: "mitm-lab's 504 page naming the reason",
    unverified: true,
  },
  curl: {
    outcome: 'ok',
    code: '504',
    note: 'exit 0 (without -f) and the 504 page',
    unverified: true,
  },
  wget: {
    outcome: 'ok',
    code: '504',
    note: 'exit 8, "ERROR 504: Gateway Timeout"',
    unverified: true,
  },
  python: {
    outcome: 'ok',
    code: '504',
    note: 'urllib raises HTTPError 504; requests returns it',
    unverified: true,
  },
  node: { outcome: 'ok', code: '504', note: 'statusCode 504', unverified: true },
  openssl: { outcome: 'ok', code: '504', note: 'the 504 response', unverified: true },
};

/**
 * The proxy refused the target itself: a 403 page with the sentence. curl's line is measured
 * (test/hardening/own-machine.test.ts); the others follow from the status alone.
 */
const VIA_PROXY_403: ClientLines = {
  chromium: {
    outcome: 'ok',
    code: '403',
    note: "mitm-lab's 403 page naming the reason",
    unverified: true,
  },
  firefox: {
    outcome: 'ok',
    code: '403',
    note: "mitm-lab's 403 page naming the reason",
    unverified: true,
  },
  curl: { outcome: 'ok', code: '403', note: 'exit 0 (without -f) and the 403 page' },
  wget: { outcome: 'ok', code: '403', note: 'exit 8, "ERROR 403: Forbidden"', unverified: true },
  python: {
    outcome: 'ok',
    code: '403',
    note: 'urllib raises HTTPError 403; requests returns it',
    unverified: true,
  },
  node: { outcome: 'ok', code: '403', note: 'statusCode 403', unverified: true },
  openssl: { outcome: 'ok', code: '403', note: 'the 403 response', unverified: true },
};

const DATE_INVALID_CHROMIUM: ClientShows = {
  outcome: 'error',
  code: 'NET::ERR_CERT_DATE_INVALID',
  says: 'Your connection is not private',
};

export const CAUSES = {
  'untrusted-issuer': {
    title: 'the issuer is not trusted',
    text: "The chain leads to a CA the client does not trust: the mitm-lab CA is not in the client's trust store.",
    clients: {
      chromium: {
        outcome: 'error',
        code: 'NET::ERR_CERT_AUTHORITY_INVALID',
        says: 'Your connection is not private',
      },
      firefox: {
        outcome: 'error',
        code: 'SEC_ERROR_UNKNOWN_ISSUER',
        says: 'Something doesn’t look right',
      },
      curl: { outcome: 'error', code: '60', says: 'unable to get local issuer certificate' },
      wget: { outcome: 'error', code: '5', says: "doesn't have a known issuer" },
      python: {
        outcome: 'error',
        code: 'SSLCertVerificationError',
        says: 'unable to get local issuer certificate',
      },
      node: {
        outcome: 'error',
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        says: 'unable to verify the first certificate',
      },
      openssl: { outcome: 'error', code: '1', says: 'unable to get local issuer certificate' },
    },
  },
  'client-clock': {
    title: "the client's clock is wrong",
    text: 'The client\'s own clock is outside the certificate\'s validity: behind its start ("not yet valid") or past its end ("expired"). A wrong clock breaks every HTTPS site at once.',
    clients: {
      chromium: {
        ...DATE_INVALID_CHROMIUM,
        note: 'Chromium shows "Your clock is behind/ahead" only when it knows its clock is wrong',
        unverified: true,
      },
      firefox: [
        {
          outcome: 'error',
          code: 'MOZILLA_PKIX_ERROR_NOT_YET_VALID_CERTIFICATE',
          note: 'clock behind',
          unverified: true,
        },
        {
          outcome: 'error',
          code: 'SEC_ERROR_EXPIRED_CERTIFICATE',
          note: 'clock ahead',
          unverified: true,
        },
      ],
      curl: [
        {
          outcome: 'error',
          code: '60',
          says: 'certificate is not yet valid',
          note: 'clock behind',
        },
        { outcome: 'error', code: '60', says: 'certificate has expired', note: 'clock ahead' },
      ],
      wget: [
        { outcome: 'error', code: '5', says: 'is not yet activated', note: 'clock behind' },
        { outcome: 'error', code: '5', says: 'has expired', note: 'clock ahead' },
      ],
      python: [
        {
          outcome: 'error',
          code: 'SSLCertVerificationError',
          says: 'certificate is not yet valid',
          note: 'clock behind',
        },
        {
          outcome: 'error',
          code: 'SSLCertVerificationError',
          says: 'certificate has expired',
          note: 'clock ahead',
        },
      ],
      node: [
        {
          outcome: 'error',
          code: 'CERT_NOT_YET_VALID',
          says: 'certificate is not yet valid',
          note: 'clock behind',
        },
        {
          outcome: 'error',
          code: 'CERT_HAS_EXPIRED',
          says: 'certificate has expired',
          note: 'clock ahead',
        },
      ],
      openssl: [
        { outcome: 'error', code: '1', says: 'certificate is not yet valid', note: 'clock behind' },
        { outcome: 'error', code: '1', says: 'certificate has expired', note: 'clock ahead' },
      ],
    },
  },
  'wrong-name': {
    title: 'the certificate names another host',
    text: 'The certificate is valid, but its subject alternative names do not include {host}.',
    ruledOutBy: 'forged-names-host',
    clients: {
      chromium: { outcome: 'error', code: 'NET::ERR_CERT_COMMON_NAME_INVALID' },
      firefox: { outcome: 'error', code: 'SSL_ERROR_BAD_CERT_DOMAIN' },
      curl: {
        outcome: 'error',
        code: '60',
        says: 'no alternative certificate subject name matches target host name',
      },
      wget: {
        outcome: 'error',
        code: '5',
        says: "The certificate's owner does not match hostname",
      },
      python: { outcome: 'error', code: 'SSLCertVerificationError', says: 'Hostname mismatch' },
      node: {
        outcome: 'error',
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
        says: "does not match certificate's altnames",
      },
      openssl: { outcome: 'error', code: '1', says: 'hostname mismatch' },
    },
  },
  expired: {
    title: 'the certificate has expired',
    text: "The certificate's validity ended: its notAfter date is in the past.",
    ruledOutBy: 'forged-valid-now',
    clients: {
      chromium: DATE_INVALID_CHROMIUM,
      firefox: { outcome: 'error', code: 'SEC_ERROR_EXPIRED_CERTIFICATE' },
      curl: { outcome: 'error', code: '60', says: 'certificate has expired' },
      wget: { outcome: 'error', code: '5', says: 'has expired' },
      python: {
        outcome: 'error',
        code: 'SSLCertVerificationError',
        says: 'certificate has expired',
      },
      node: { outcome: 'error', code: 'CERT_HAS_EXPIRED', says: 'certificate has expired' },
      openssl: { outcome: 'error', code: '1', says: 'certificate has expired' },
    },
  },
  'not-yet-valid': {
    title: 'the certificate is not yet valid',
    text: "The certificate's validity has not started: its notBefore date is in the future.",
    ruledOutBy: 'forged-valid-now',
    clients: {
      chromium: DATE_INVALID_CHROMIUM,
      firefox: { outcome: 'error', code: 'MOZILLA_PKIX_ERROR_NOT_YET_VALID_CERTIFICATE' },
      curl: { outcome: 'error', code: '60', says: 'certificate is not yet valid' },
      wget: { outcome: 'error', code: '5', says: 'not yet activated' },
      python: {
        outcome: 'error',
        code: 'SSLCertVerificationError',
        says: 'certificate is not yet valid',
      },
      node: { outcome: 'error', code: 'CERT_NOT_YET_VALID', says: 'certificate is not yet valid' },
      openssl: { outcome: 'error', code: '1', says: 'certificate is not yet valid' },
    },
  },
  'self-signed': {
    title: 'the certificate is self-signed',
    text: 'The certificate signs itself: no CA vouches for it.',
    ruledOutBy: 'forged-signed-by-ca',
    clients: {
      chromium: { outcome: 'error', code: 'NET::ERR_CERT_AUTHORITY_INVALID' },
      firefox: { outcome: 'error', code: 'MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT' },
      curl: { outcome: 'error', code: '60', says: 'self-signed certificate' },
      wget: { outcome: 'error', code: '5', says: "doesn't have a known issuer" },
      python: {
        outcome: 'error',
        code: 'SSLCertVerificationError',
        says: 'self-signed certificate',
      },
      node: {
        outcome: 'error',
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
        says: 'self-signed certificate',
      },
      openssl: { outcome: 'error', code: '1', says: 'self-signed certificate' },
    },
  },
  'untrusted-root': {
    title: 'the chain ends at an untrusted root',
    text: "The server sends a complete chain, but it ends at a root that is not in the client's trust store.",
    clients: {
      chromium: { outcome: 'error', code: 'NET::ERR_CERT_AUTHORITY_INVALID' },
      firefox: { outcome: 'error', code: 'SEC_ERROR_UNKNOWN_ISSUER' },
      curl: { outcome: 'error', code: '60', says: 'unable to get local issuer certificate' },
      wget: { outcome: 'error', code: '5', says: "doesn't have a known issuer" },
      python: {
        outcome: 'error',
        code: 'SSLCertVerificationError',
        says: 'unable to get local issuer certificate',
      },
      node: {
        outcome: 'error',
        code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
        says: 'unable to get local issuer certificate',
      },
      openssl: { outcome: 'error', code: '1', says: 'unable to get local issuer certificate' },
    },
  },
  'weak-key': {
    title: "the certificate's key is too weak",
    text: 'The certificate has an RSA key of fewer than 2048 bits: OpenSSL at security level 2 (curl, Python, `openssl s_client` on Debian) refuses it; Node, wget, Chromium and Firefox still accept it.',
    ruledOutBy: 'forged-key-strong',
    clients: {
      chromium: { outcome: 'ok', note: 'Chromium accepts a 1024-bit RSA key' },
      firefox: { outcome: 'ok', note: 'Firefox accepts a 1024-bit RSA key' },
      curl: { outcome: 'error', code: '60', says: 'EE certificate key too weak' },
      wget: { outcome: 'ok', note: 'wget (GnuTLS) accepts a 1024-bit key' },
      python: {
        outcome: 'error',
        code: 'SSLCertVerificationError',
        says: 'EE certificate key too weak',
      },
      node: { outcome: 'ok', note: "Node's OpenSSL runs at security level 1 and accepts it" },
      openssl: { outcome: 'error', code: '1', says: 'EE certificate key too weak' },
    },
  },
  'old-protocol': {
    title: 'only an old TLS version (1.0/1.1) on offer',
    text: 'The server speaks only TLS 1.0 or 1.1 with the signature algorithms of its time (SHA-1, MD5), which current clients refuse.',
    clients: {
      chromium: {
        outcome: 'error',
        code: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
        says: 'This site can’t provide a secure connection',
      },
      firefox: {
        outcome: 'error',
        code: 'SSL_ERROR_PROTOCOL_VERSION_ALERT',
        says: 'Secure Connection Failed',
      },
      curl: { outcome: 'error', code: '35', says: 'legacy sigalg disallowed or unsupported' },
      wget: {
        outcome: 'ok',
        note: 'wget (GnuTLS on Debian 12) falls back and connects over TLS 1.1',
      },
      python: {
        outcome: 'error',
        code: 'SSLError',
        says: 'TLSV1_ALERT_PROTOCOL_VERSION',
      },
      node: { outcome: 'error', code: 'EPROTO', says: 'alert protocol version' },
      openssl: { outcome: 'error', code: '1', says: 'legacy sigalg disallowed or unsupported' },
    },
  },
  'no-shared-cipher': {
    title: 'no cipher suite in common',
    text: 'The server accepts only cipher suites the client does not offer: the handshake fails before any certificate is sent.',
    clients: {
      chromium: {
        outcome: 'error',
        code: 'ERR_SSL_VERSION_OR_CIPHER_MISMATCH',
        says: 'This site can’t provide a secure connection',
      },
      firefox: { outcome: 'error', code: 'SSL_ERROR_NO_CYPHER_OVERLAP' },
      curl: { outcome: 'error', code: '35', says: 'sslv3 alert handshake failure' },
      wget: { outcome: 'error', code: '4', says: 'Handshake failed' },
      python: { outcome: 'error', code: 'SSLError', says: 'SSLV3_ALERT_HANDSHAKE_FAILURE' },
      node: { outcome: 'error', code: 'EPROTO', says: 'sslv3 alert handshake failure' },
      openssl: { outcome: 'error', code: '1', says: 'sslv3 alert handshake failure' },
    },
  },
  'client-policy': {
    title: "a policy of the client's own",
    text: 'The client may validate the certificate and still refuse it: certificate pinning (the key is not the one it expects), an enterprise policy, or a user who clicked "Back to safety".',
    clients: {},
  },
  'spare-connection': {
    title: 'a spare connection, never used',
    text: 'Browsers open extra connections ahead of time and close the ones they do not need, without a request: no refusal at all.',
    clients: {
      chromium: {
        outcome: 'ok',
        note: 'nothing: the page loads over another connection',
        unverified: true,
      },
      firefox: {
        outcome: 'ok',
        note: 'nothing: the page loads over another connection',
        unverified: true,
      },
    },
  },
} as const satisfies Record<CauseId, Cause>;

/** The certificate causes a hang-up can hide: the client checked and left without saying why. */
const CERT_CAUSES = [
  'untrusted-issuer',
  'client-clock',
  'wrong-name',
  'expired',
  'not-yet-valid',
  'self-signed',
] as const satisfies readonly CauseId[];

/**
 * The real server's certificate (a tunnel): which causes each signal from the client, or from
 * the server, can stand for. explain.ts looks the tunnel's ClientVerdict up here.
 */
export const REAL_SERVER_FAMILIES = {
  'client-alert.42': ['not-yet-valid', 'weak-key', 'wrong-name', 'self-signed', 'client-clock'],
  'client-alert.45': ['expired', 'client-clock'],
  'client-alert.46': [
    'expired',
    'not-yet-valid',
    'wrong-name',
    'self-signed',
    'untrusted-root',
    'weak-key',
    'client-clock',
  ],
  'client-alert.48': ['untrusted-root', 'self-signed'],
  'client-alert.80': ['old-protocol'],
  'client-alert.70': ['old-protocol'],
  'client-alert.71': ['old-protocol', 'no-shared-cipher'],
  'client-alert.40': ['no-shared-cipher', 'old-protocol'],
  'server-alert.40': ['no-shared-cipher'],
  'server-alert.70': ['old-protocol'],
  'server-alert.71': ['old-protocol', 'no-shared-cipher'],
  'hang-up': [
    'expired',
    'not-yet-valid',
    'wrong-name',
    'self-signed',
    'untrusted-root',
    'weak-key',
    'client-clock',
  ],
} as const satisfies Record<string, readonly CauseId[]>;

/** A tunnel's client verdict, in words (`{evidence}` is what the wire showed). */
export const VERDICTS = {
  accepted:
    "The client accepted {host}'s real certificate and sent its request ({evidence}): with no forgery in the way, this is the real site, and the proxy reads nothing but sizes.",
  'client-alert':
    "{client} refused the real server's certificate ({evidence}), exactly as it does without any proxy. A passive observer reads that alert too.",
  'server-alert':
    '{host} itself refused what the client offered ({evidence}): the client fails exactly as it does without any proxy.',
  'encrypted-alert':
    "The client refused the real server's certificate: {evidence}. Even encrypted, the sizes tell an eavesdropper that the client hung up on the certificate.",
  closed:
    'The client hung up without a request: {evidence}. Node and wget (GnuTLS) refuse a certificate this way, and so does curl on a wrong name: it checks the name after the handshake. A client may also just have had nothing to send.',
  reset:
    'The client reset the connection without a request: {evidence}. wget (GnuTLS) refuses a certificate this way after the handshake (a reset when unread bytes are left, a close otherwise).',
  unknown: 'The bytes do not show what the client made of {host}: {evidence}.',
} as const;

// ---- shared wording (data reused by several entries) ----

const STEP_VALIDATION =
  'TLS handshake, certificate validation: the client checks the chain against its trusted roots, the dates against its own clock, the name and the key. In TLS 1.3 the (EC)DHE key exchange is already done in ClientHello/ServerHello, so the certificate arrives encrypted; in TLS 1.2 it crosses in clear and the key exchange follows it.';

const STEP_UPSTREAM_VALIDATION =
  'TLS handshake on the proxy -> server leg, certificate validation: mitm-lab is the client there, and it checks the real server at least as strictly as the strictest common client (OpenSSL security level 2).';

/**
 * Added to a refusal when the proxy read `Strict-Transport-Security` from the host earlier, in a
 * response it decrypted. Chromium's words are measured (Chromium 156, a profile that loaded the
 * host over a trusted connection first: test/lessons/hsts-browser.test.ts); Firefox's are not.
 */
export const HSTS_SEEN: HstsNote = {
  title: '{host} uses HSTS: a browser that saw it cannot click through',
  text: 'The proxy read "Strict-Transport-Security: {hstsHeader}" in a response from {host} that it decrypted ({hstsSeenAt}), so it knows: {host} asks browsers to reach it over trusted HTTPS only, for max-age seconds. A browser that has loaded {host} over a trusted connection before keeps that policy, and its warning for this refusal has no way through. A browser that never saw the header (a new profile) shows the usual warning, with its link to proceed.',
  clients: {
    chromium: {
      outcome: 'error',
      says: 'You cannot visit {host} right now because the website uses HSTS.',
      note: 'under Advanced; no "Proceed to {host} (unsafe)" link, and "Reload" where the usual warning has "Back to safety"',
    },
    firefox: {
      outcome: 'error',
      note: 'no "Accept the Risk and Continue" button',
      unverified: true,
    },
  },
  lesson:
    'HSTS turns a warning into a wall, from the second visit on (browsers ship a preload list for the first). It stops the user clicking through, not a CA the device trusts: on a compromised device the forgery is accepted and HSTS changes nothing.',
};

const LESSON_REFUSED =
  'Certificate validation did its job: the forged certificate for {host} names the right host and is in date, but a client that does not trust the CA that signed it hangs up before sending a single byte of HTTP. The proxy never held the keys to anything the client wanted to protect, so it could neither read it nor change it: a man in the middle that rewrites pages (mitm-lab --tamper) can do it only to a client that trusts its CA; here the client gets the real bytes or none. Clicking through the warning would have given it all away.';

/** Through the proxy, an upstream failure is answered by mitm-lab itself. */
const VIA_PROXY = 'Through mitm-lab the client gets a 502 from the proxy naming {code}.';
const VIA_PROXY_TIMEOUT =
  'Through mitm-lab the client gets a 504 Gateway Timeout from the proxy naming {code}, instead of waiting for good.';

export const CATALOG = {
  'http.plaintext': {
    title: 'Plain HTTP: everyone on the path reads it',
    whatHappened:
      'The client sent its request to {host} over plain HTTP. The method, URL, headers, cookies and body crossed the network as readable text: the Wire view shows exactly the bytes a Wi-Fi neighbour, the café router or any ISP on the way could read and change.',
    handshakeStep:
      'No TLS at all: DNS -> TCP three-way handshake -> HTTP request in clear (port 80).',
    clients: {
      ...ALL_OK,
      chromium: {
        outcome: 'ok',
        note: 'the page loads; "Not secure" in the address bar',
        unverified: true,
      },
      firefox: {
        outcome: 'ok',
        note: 'the page loads; a struck-through padlock and a warning under password fields',
        unverified: true,
      },
    },
    lesson:
      'HTTP hides nothing: a password in a login form travels as readable text and a session cookie can be copied to take over the account. HTTPS is HTTP inside TLS; that is what stops this.',
    labEndpoint: 'http://bank.test/login',
  },

  'https.decrypted': {
    title: 'HTTPS decrypted: the client trusts the interceptor',
    whatHappened:
      "The client accepted the certificate mitm-lab forged for {host}, because the mitm-lab CA is in its trust store. The proxy ended the client's TLS, read the request and response in full, and opened its own TLS connection to the real server. The Wire view shows what an eavesdropper outside still sees: only ciphertext.",
    handshakeStep:
      'TLS handshake with the proxy, not with {host}: the client validated the forged chain (it ends at a root the client trusts) and the handshake completed.',
    handshakeStepByVersion: {
      'TLS 1.3':
        'TLS 1.3 with the proxy, not with {host}: ClientHello and ServerHello already completed the ephemeral (EC)DHE key exchange, so the forged certificate travelled encrypted; the client then validated it (the chain ends at a root it trusts) and both sides sent Finished. One round trip.',
      'TLS 1.2':
        'TLS 1.2 with the proxy, not with {host}: ServerHello, then the forged certificate in clear, which the client validated (the chain ends at a root it trusts); then the (EC)DHE key exchange, ChangeCipherSpec and Finished. Two round trips.',
    },
    clients: {
      ...ALL_OK,
      chromium: {
        outcome: 'ok',
        note: 'a normal padlock; only the certificate viewer shows the mitm-lab CA as issuer',
      },
      firefox: {
        outcome: 'ok',
        note: 'a normal padlock; only the certificate viewer shows the mitm-lab CA as issuer',
      },
    },
    lesson:
      'A padlock means "encrypted to whoever holds a certificate my trust store accepts", not "encrypted to the real site". A trusted-but-malicious CA (a corporate proxy, malware, a compromised device) reads everything. Compare the Certificates view: same name, different issuer, different key. HSTS does not help here (the certificate is trusted); certificate pinning does, because the forged key is not the pinned one.',
    labEndpoint: 'mitm-lab victim (the "compromised" profile)',
  },

  // ---- the client refused the forged certificate: by TLS alert ----

  'reject.alert.48': {
    title: 'Refused: unknown CA (alert 48)',
    whatHappened:
      '{client} refused the certificate mitm-lab forged for {host} and said why with TLS alert 48 unknown_ca: it could not chain the certificate to a root it trusts.',
    handshakeStep: STEP_VALIDATION,
    causes: ['untrusted-issuer', 'self-signed'],
    lesson: LESSON_REFUSED,
    labEndpoint: 'curl -x http://127.0.0.1:8080 https://bank.test/ (without --cacert)',
  },
  'reject.alert.46': {
    title: 'Refused: certificate unknown (alert 46)',
    whatHappened:
      '{client} refused the certificate mitm-lab forged for {host} with TLS alert 46 certificate_unknown. Chromium sends 46 for every certificate error (TLS 1.2 and 1.3), so the alert alone does not say which check failed: below, the causes it covers and what mitm-lab can rule out. Chromium also retries, so expect more than one of these.',
    handshakeStep: STEP_VALIDATION,
    causes: [
      'untrusted-issuer',
      'client-clock',
      'wrong-name',
      'expired',
      'not-yet-valid',
      'self-signed',
      'weak-key',
      'client-policy',
    ],
    lesson: LESSON_REFUSED,
    labEndpoint: 'a Chromium-based browser pointed at the proxy, without the mitm-lab CA',
  },
  'reject.alert.42': {
    title: 'Refused: bad certificate (alert 42)',
    whatHappened:
      '{client} refused the certificate mitm-lab forged for {host} with TLS alert 42 bad_certificate. OpenSSL-based clients (curl, Python) send 42 when the chain is trusted but something else is wrong: a certificate not yet valid by their clock, a weak key, a name that does not match; Firefox sends it for a self-signed certificate or a wrong host.',
    handshakeStep: STEP_VALIDATION,
    causes: ['client-clock', 'not-yet-valid', 'weak-key', 'wrong-name', 'self-signed'],
    lesson:
      "Validation checks more than the issuer: the dates against the client's clock, the host name in the subject alternative names, the key's strength. A trusted CA is not enough when any of them fails.",
    labEndpoint: 'https://wrong-host.bank.test/',
  },
  'reject.alert.43': {
    title: 'Refused: unsupported certificate (alert 43)',
    whatHappened:
      '{client} refused the certificate for {host} with TLS alert 43 unsupported_certificate: it does not accept this kind of certificate (key type, key usage or extended key usage).',
    handshakeStep: STEP_VALIDATION,
    clients: {
      chromium: { outcome: 'error', code: 'NET::ERR_CERT_INVALID', unverified: true },
      firefox: { outcome: 'error', code: 'SEC_ERROR_INADEQUATE_KEY_USAGE', unverified: true },
      curl: { outcome: 'error', says: 'unsupported certificate purpose', unverified: true },
      python: { outcome: 'error', says: 'unsupported certificate purpose', unverified: true },
      node: { outcome: 'error', code: 'INVALID_PURPOSE', unverified: true },
    },
    lesson:
      'A certificate says what it may be used for (keyUsage, extendedKeyUsage serverAuth); a client refuses one that was not made for a TLS server.',
  },
  'reject.alert.44': {
    title: 'Refused: certificate revoked (alert 44)',
    whatHappened:
      '{client} refused the certificate for {host} with TLS alert 44 certificate_revoked: it believes the certificate was revoked by its CA.',
    handshakeStep: STEP_VALIDATION,
    clients: {
      chromium: { outcome: 'error', code: 'NET::ERR_CERT_REVOKED', unverified: true },
      firefox: { outcome: 'error', code: 'SEC_ERROR_REVOKED_CERTIFICATE', unverified: true },
      curl: { outcome: 'error', code: '60', says: 'certificate revoked', unverified: true },
      python: { outcome: 'error', says: 'certificate revoked', unverified: true },
      node: { outcome: 'error', code: 'CERT_REVOKED', unverified: true },
    },
    lesson:
      'Revocation (CRL, OCSP) lets a CA withdraw a certificate before it expires, for example after its key leaked. Many clients check it only partly or not at all.',
  },
  'reject.alert.45': {
    title: 'Refused: certificate expired (alert 45)',
    whatHappened:
      "{client} refused the certificate for {host} with TLS alert 45 certificate_expired: the date is outside the certificate's validity by the client's clock.",
    handshakeStep: STEP_VALIDATION,
    causes: ['expired', 'client-clock'],
    lesson:
      'Certificates are valid for a window of time, and the client checks it against its own clock: a wrong clock breaks every HTTPS site at once. mitm-lab backdates its certificates a day so a slightly slow clock still works.',
    labEndpoint: 'https://expired.bank.test/',
  },
  'reject.alert.49': {
    title: 'Refused: access denied (alert 49)',
    whatHappened:
      "{client} ended the handshake with {host} with TLS alert 49 access_denied: a valid certificate, but the client's policy refuses to continue.",
    handshakeStep: 'TLS handshake, after certificate validation: a policy decision by the client.',
    causes: ['client-policy'],
    clients: {
      curl: { outcome: 'error', code: '35', says: 'access denied', unverified: true },
      node: { outcome: 'error', code: 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED', unverified: true },
      python: { outcome: 'error', code: 'SSLError', says: 'ACCESS_DENIED', unverified: true },
    },
    lesson:
      'Not every refusal is about trust: a client (or a pinning policy) may refuse a certificate it can validate.',
  },
  'reject.alert.51': {
    title: 'Refused: decrypt error (alert 51)',
    whatHappened:
      '{client} ended the handshake with {host} with TLS alert 51 decrypt_error: a handshake signature or the Finished message did not verify.',
    handshakeStep: 'TLS handshake, key exchange: CertificateVerify or Finished did not check out.',
    clients: {
      chromium: { outcome: 'error', code: 'ERR_SSL_PROTOCOL_ERROR', unverified: true },
      firefox: { outcome: 'error', code: 'SSL_ERROR_DECRYPT_ERROR_ALERT', unverified: true },
      curl: { outcome: 'error', code: '35', says: 'decrypt error', unverified: true },
      node: { outcome: 'error', code: 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR', unverified: true },
      python: { outcome: 'error', code: 'SSLError', says: 'DECRYPT_ERROR', unverified: true },
    },
    lesson:
      'The server must prove it holds the private key for its certificate by signing the handshake; a certificate copied without its key is useless to an attacker.',
  },
  'reject.alert.40': {
    title: 'Refused: handshake failure (alert 40)',
    whatHappened:
      '{client} ended the handshake with {host} with TLS alert 40 handshake_failure: the two sides could not agree on parameters (cipher suite, group or signature algorithm).',
    handshakeStep:
      'TLS handshake, negotiation: ClientHello offers, ServerHello chooses; here no choice worked.',
    causes: ['no-shared-cipher'],
    lesson:
      'Client and server must share at least one cipher suite and key-exchange group. Old or over-restricted configurations fail here, before any certificate matters.',
    labEndpoint: 'https://no-shared-cipher.bank.test/',
  },
  'reject.alert.70': {
    title: 'Refused: protocol version (alert 70)',
    whatHappened:
      '{client} ended the handshake with {host} with TLS alert 70 protocol_version: no TLS version both sides accept.',
    handshakeStep:
      'TLS handshake, version negotiation (ClientHello supported_versions -> ServerHello).',
    causes: ['old-protocol'],
    lesson:
      'TLS 1.0 and 1.1 are retired (RFC 8996) and most current clients refuse them, though not all: wget with GnuTLS still falls back to TLS 1.1. Version negotiation is protected, so an attacker cannot silently downgrade a connection between two modern peers.',
    labEndpoint: 'https://old-tls.bank.test/',
  },
  'reject.alert.71': {
    title: 'Refused: insufficient security (alert 71)',
    whatHappened:
      '{client} ended the handshake with {host} with TLS alert 71 insufficient_security: the parameters on offer were too weak for it.',
    handshakeStep:
      "TLS handshake, negotiation: the only common choices were below the client's minimum.",
    causes: ['old-protocol', 'no-shared-cipher'],
    lesson:
      'Clients keep a floor of acceptable security; weak ciphers and small keys are refused, not negotiated down to.',
  },
  'reject.alert.80': {
    title: 'Handshake ended: internal error (alert 80)',
    whatHappened:
      '{client} ended the handshake with {host} with TLS alert 80 internal_error: a failure inside the client. OpenSSL 3 also sends it when it refuses a legacy signature algorithm (SHA-1, MD5) offered by an old-TLS server.',
    handshakeStep: 'TLS handshake, client side: an internal failure.',
    causes: ['old-protocol'],
    lesson:
      'Not every failed handshake is a security decision; the raw message ({raw}) is the best clue.',
  },
  'reject.alert.112': {
    title: 'Refused: unrecognized name (alert 112)',
    whatHappened:
      'The handshake for {host} ended with TLS alert 112 unrecognized_name: the name sent in SNI was not one the other side serves.',
    handshakeStep: 'TLS handshake, ClientHello: the Server Name Indication extension.',
    clients: {
      chromium: { outcome: 'error', code: 'ERR_SSL_UNRECOGNIZED_NAME_ALERT', unverified: true },
      firefox: { outcome: 'error', code: 'SSL_ERROR_UNRECOGNIZED_NAME_ALERT', unverified: true },
      curl: { outcome: 'error', code: '35', says: 'unrecognized name', unverified: true },
      node: { outcome: 'error', code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME', unverified: true },
      python: { outcome: 'error', code: 'SSLError', says: 'UNRECOGNIZED_NAME', unverified: true },
    },
    lesson:
      'SNI travels in clear in the ClientHello: it is how one IP address serves many HTTPS sites, and also how an eavesdropper learns which site you visit.',
  },
  'reject.alert.116': {
    title: 'Refused: certificate required (alert 116)',
    whatHappened:
      'The handshake for {host} ended with TLS alert 116 certificate_required: one side wanted a client certificate that was not sent.',
    handshakeStep: 'TLS handshake, CertificateRequest -> client Certificate (mutual TLS).',
    clients: {
      chromium: { outcome: 'error', code: 'ERR_BAD_SSL_CLIENT_AUTH_CERT', unverified: true },
      firefox: {
        outcome: 'error',
        code: 'SSL_ERROR_RX_CERTIFICATE_REQUIRED_ALERT',
        unverified: true,
      },
      curl: { outcome: 'error', says: 'certificate required', unverified: true },
      node: {
        outcome: 'error',
        code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
        unverified: true,
      },
      python: {
        outcome: 'error',
        code: 'SSLError',
        says: 'CERTIFICATE_REQUIRED',
        unverified: true,
      },
    },
    lesson:
      "Mutual TLS authenticates the client too; an interceptor without the client's key cannot impersonate it.",
  },
  'reject.alert.120': {
    title: 'Refused: no application protocol (alert 120)',
    whatHappened:
      'The handshake for {host} ended with TLS alert 120 no_application_protocol: no protocol offered in ALPN (h2, http/1.1) was acceptable.',
    handshakeStep: 'TLS handshake, ClientHello ALPN extension -> ServerHello/EncryptedExtensions.',
    clients: {
      chromium: { outcome: 'error', code: 'ERR_SSL_PROTOCOL_ERROR', unverified: true },
      firefox: { outcome: 'error', code: 'SSL_ERROR_NO_APPLICATION_PROTOCOL', unverified: true },
      curl: { outcome: 'error', code: '35', says: 'no application protocol', unverified: true },
      node: {
        outcome: 'error',
        code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
        unverified: true,
      },
      python: {
        outcome: 'error',
        code: 'SSLError',
        says: 'NO_APPLICATION_PROTOCOL',
        unverified: true,
      },
    },
    lesson:
      'ALPN, like SNI, is sent in clear: an eavesdropper sees whether you speak HTTP/2 or HTTP/1.1.',
  },
  'reject.alert.other': {
    title: 'Refused with TLS alert {alertCode} ({alertName})',
    whatHappened:
      '{client} ended the handshake with {host} by sending TLS alert {alertCode} {alertName}. The raw error was: {raw}.',
    handshakeStep: 'TLS handshake: the client aborted it with a fatal alert.',
    clients: {
      chromium: {
        outcome: 'error',
        note: 'a certificate or protocol error page',
        unverified: true,
      },
      firefox: { outcome: 'error', note: 'a certificate or protocol error page', unverified: true },
      curl: { outcome: 'error', note: 'exit 35 or 60 with the alert name', unverified: true },
      python: { outcome: 'error', note: 'an ssl.SSLError naming the alert', unverified: true },
      node: { outcome: 'error', note: 'an ERR_SSL_* code naming the alert', unverified: true },
    },
    lesson:
      'A TLS alert is the client saying why it stops; OpenSSL-based clients send it in clear even in TLS 1.3, so an eavesdropper sees it too. This alert has no entry of its own yet (see docs/explain.md to add one).',
  },

  // ---- the client refused without an alert ----

  'reject.closed-after-handshake': {
    title: 'Probably refused: closed without a request',
    whatHappened:
      '{client} completed the TLS handshake with the certificate mitm-lab forged for {host}, then closed the connection without sending any request. wget refuses this way: it checks the certificate after the handshake, then hangs up (Node and Firefox over TLS 1.2 are reported to do the same, unverified here). Browsers also open spare connections they never use, so this is worded "probably".',
    handshakeStep:
      'After the TLS handshake: the client validated the certificate once the handshake finished, and left.',
    causes: [...CERT_CAUSES, 'spare-connection'],
    lesson:
      'Not every client says why it refuses; a silent close right after the handshake is the usual sign. ' +
      LESSON_REFUSED,
  },
  'reject.reset-during-handshake': {
    title: 'Refused: connection reset during the handshake',
    whatHappened:
      "{client} reset the connection to mitm-lab in the middle of the TLS handshake for {host}, without a TLS alert ({raw}). Node's TLS 1.3 client refuses a certificate this way: it just hangs up.",
    handshakeStep: STEP_VALIDATION,
    causes: CERT_CAUSES,
    lesson: LESSON_REFUSED,
    labEndpoint: 'node -e "https.get(\'https://bank.test/\')" through the proxy, without the CA',
  },
  'reject.timeout': {
    title: 'No answer: the handshake timed out',
    whatHappened:
      'The client connected for {host} but the TLS handshake did not finish in time: it sent nothing more, or stalled.',
    handshakeStep: 'TLS handshake, stalled (ClientHello sent or expected, nothing after).',
    clients: {
      chromium: { outcome: 'error', code: 'ERR_TIMED_OUT', unverified: true },
      firefox: { outcome: 'error', note: '"The connection has timed out"', unverified: true },
      curl: { outcome: 'error', code: '28', says: 'timed out', unverified: true },
      node: {
        outcome: 'error',
        code: 'ECONNRESET',
        note: 'when the proxy gives up first',
        unverified: true,
      },
      python: { outcome: 'error', code: 'TimeoutError', unverified: true },
    },
    lesson:
      'A timeout says nothing about trust: the client may be waiting for a user to click through a warning, or the network is slow. mitm-lab does not guess.',
  },
  'reject.no-shared-version-or-cipher': {
    title: 'Refused: no common TLS version or cipher',
    whatHappened:
      'The client and mitm-lab could not agree on a TLS version or cipher suite for {host} ({raw}).',
    handshakeStep:
      'TLS handshake, negotiation: ClientHello offers versions and cipher suites, ServerHello must pick one of each.',
    causes: ['old-protocol', 'no-shared-cipher'],
    lesson:
      'Both sides must share a protocol version and a cipher suite; this fails before any certificate is looked at. The Wire view lists what the ClientHello offered.',
  },
  'reject.not-tls': {
    title: 'Not TLS: the client spoke something else',
    whatHappened:
      'The client asked the proxy for a tunnel to {host}:{port} and then sent bytes that are not a TLS ClientHello.',
    handshakeStep: 'Before TLS: the first bytes after CONNECT were not a ClientHello.',
    clients: {
      curl: { outcome: 'ok', note: 'a plain HTTP request through CONNECT works', unverified: true },
    },
    lesson:
      'A CONNECT tunnel carries any protocol; only TLS can be intercepted with a forged certificate. Anything else is visible or opaque as it is.',
  },
  'reject.unknown': {
    title: 'The handshake failed for a reason mitm-lab could not classify',
    whatHappened:
      'The TLS attempt for {host} ended without a request and without a recognisable cause. The raw error was: {raw}.',
    handshakeStep: 'TLS handshake: it did not complete, cause not identified.',
    clients: {
      curl: { outcome: 'error', note: 'exit 35 or 60', unverified: true },
      node: { outcome: 'error', note: 'ECONNRESET or an ERR_SSL_* code', unverified: true },
      python: { outcome: 'error', note: 'ssl.SSLError or ConnectionResetError', unverified: true },
    },
    lesson:
      'mitm-lab shows the raw error rather than guess. If this happens reproducibly, it deserves an entry of its own.',
  },

  // ---- tunnelled: the proxy passed the bytes through untouched; the client's verdict is
  //      read off the bytes (VERDICTS, REAL_SERVER_FAMILIES) ----

  'tunnel.mode-eavesdrop': {
    title: 'Tunnelled: eavesdrop mode (what a passive observer sees)',
    whatHappened:
      'mitm-lab is in eavesdrop mode: it did not forge a certificate for {host} and passed the encrypted bytes through untouched, like any router on the path. The Wire view shows everything an eavesdropper gets.',
    handshakeStep:
      'Whole TLS handshake end to end between the client and {host}; the proxy only watched. TLS 1.2 sends the server certificate in clear; TLS 1.3 encrypts it.',
    lesson:
      'HTTPS does not hide everything: the destination IP and port, the SNI host name, ALPN, the TLS version, when you connect and how much you send and receive stay visible. The content does not.',
  },
  'tunnel.auto-refused-before': {
    title: 'Tunnelled: a client refused the forgery for this host before',
    whatHappened:
      "In auto mode, a client already refused mitm-lab's forged certificate for {host}, so this connection was tunnelled untouched to the real server instead of failing again. The `f` key forgets those hosts.",
    handshakeStep: 'Whole TLS handshake end to end with {host}; the proxy only watched.',
    lesson:
      'An interceptor that is refused can fall back to watching; a real attacker would, too. What stays visible: host name, sizes and timing, never the content, and nothing in the tunnel can be changed (--tamper rules do not reach it): a changed byte fails the integrity check of the record it is in (TLS encryption is authenticated).',
  },
  'tunnel.outside-name-constraints': {
    title: 'Tunnelled: the mitm-lab CA may not sign {host}',
    whatHappened:
      'The mitm-lab CA is name-constrained to lab names (.test, localhost and what was permitted), so it cannot forge a certificate for {host}; the connection was tunnelled untouched.',
    handshakeStep: "Before forging: the CA's name constraints exclude this host.",
    lesson:
      'Name constraints make a forgotten lab CA harmless for real sites: clients refuse a certificate outside the permitted names even from a trusted root. `--unconstrained` lifts it for demonstrations.',
  },
  'tunnel.not-tls': {
    title: 'Tunnelled: not TLS',
    whatHappened:
      'The client sent something other than TLS through its CONNECT tunnel to {host}:{port}; mitm-lab passed it through.',
    handshakeStep: 'Before TLS: the first bytes were not a ClientHello.',
    lesson:
      'Only TLS can be intercepted by forging a certificate; other protocols are as visible as they are on the wire.',
  },
  'tunnel.mint-failed': {
    title: 'Tunnelled: no certificate could be made for {host}',
    whatHappened:
      'mitm-lab could not mint a certificate for {host} (an invalid or unusual name), so it tunnelled the connection untouched.',
    handshakeStep: 'Before forging: certificate minting failed.',
    lesson:
      'When interception is impossible, the honest fallback is to watch, not to break the connection.',
  },

  // ---- the proxy's own connection to the real server failed: the client gets mitm-lab's 502,
  //      and `directly` says what it shows without the proxy ----

  'upstream.CERT_HAS_EXPIRED': {
    title: "The real server's certificate has expired",
    whatHappened:
      'mitm-lab connected to {host} and refused its certificate: it has expired. ' + VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    clients: VIA_PROXY_502,
    directly: CAUSES.expired.clients,
    lesson:
      'A MITM proxy must validate the real server, or it makes its users less safe than they were: they could no longer see the warning. mitm-lab keeps validating by default.',
    labEndpoint: 'https://expired.bank.test/',
  },
  'upstream.CERT_NOT_YET_VALID': {
    title: "The real server's certificate is not yet valid",
    whatHappened:
      "mitm-lab refused the certificate of {host}: its validity starts in the future (or this machine's clock is behind). " +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    clients: VIA_PROXY_502,
    directly: CAUSES['not-yet-valid'].clients,
    lesson:
      'Validity is checked against the local clock: a wrong clock looks exactly like a bad certificate.',
    labEndpoint: 'https://not-yet-valid.bank.test/',
  },
  'upstream.DEPTH_ZERO_SELF_SIGNED_CERT': {
    title: "The real server's certificate is self-signed",
    whatHappened:
      'mitm-lab refused {host}: its certificate signs itself, so no CA vouches for it. ' +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    clients: VIA_PROXY_502,
    directly: CAUSES['self-signed'].clients,
    lesson:
      'Anyone can make a self-signed certificate for any name, an attacker included; it proves nothing unless you pinned that exact certificate.',
    labEndpoint: 'https://self-signed.bank.test/',
  },
  'upstream.SELF_SIGNED_CERT_IN_CHAIN': {
    title: "The real server's chain ends at an untrusted root",
    whatHappened:
      "mitm-lab refused {host}: its chain ends at a self-signed root that is not in mitm-lab's trust store. " +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    clients: VIA_PROXY_502,
    directly: CAUSES['untrusted-root'].clients,
    lesson:
      'Trust comes from the root: a complete chain to a root you do not trust is worth nothing. `--upstream-ca` adds a root (the lab does, for its public root).',
    labEndpoint: 'https://untrusted-root.bank.test/',
  },
  'upstream.UNABLE_TO_VERIFY_LEAF_SIGNATURE': {
    title: "The real server's certificate has an unknown issuer",
    whatHappened:
      'mitm-lab refused {host}: it could not find the CA that signed its certificate (an unknown issuer, or a server that forgot to send its intermediate). ' +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    clients: VIA_PROXY_502,
    directly: CAUSES['untrusted-root'].clients,
    lesson:
      'A server must send its intermediate certificates; browsers sometimes paper over a missing one, command-line clients do not.',
  },
  'upstream.UNABLE_TO_GET_ISSUER_CERT_LOCALLY': {
    title: "The real server's chain ends at an unknown root",
    whatHappened:
      "mitm-lab refused {host}: its certificate chain leads to a root that is not in mitm-lab's trust store. " +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    clients: VIA_PROXY_502,
    directly: CAUSES['untrusted-root'].clients,
    lesson:
      'This is exactly what a client without the mitm-lab CA says about mitm-lab: "I do not know who vouches for this". Add a root only when you trust whoever holds its key.',
    labEndpoint: 'https://untrusted-root.bank.test/',
  },
  'upstream.ERR_TLS_CERT_ALTNAME_INVALID': {
    title: "The real server's certificate is for another name",
    whatHappened:
      'mitm-lab refused {host}: its certificate is valid, but its subject alternative names do not include {host}. ' +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION + ' (the host-name check, RFC 6125).',
    clients: VIA_PROXY_502,
    directly: CAUSES['wrong-name'].clients,
    lesson:
      'A genuine certificate for another site is no proof of identity for this one: otherwise anyone with a certificate for their own domain could impersonate yours.',
    labEndpoint: 'https://wrong-host.bank.test/',
  },
  'upstream.UPSTREAM_KEY_TOO_WEAK': {
    title: "The real server's key is too weak",
    whatHappened:
      'mitm-lab refused {host}: {raw}. curl, Python and `openssl s_client` refuse such a key themselves; a proxy that forged a strong certificate in its place would hide the weakness, so mitm-lab refuses too. ' +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    clients: VIA_PROXY_502,
    directly: CAUSES['weak-key'].clients,
    lesson:
      'A trusted interceptor must never launder a weak server: the student would see a strong padlock for a connection any well-funded attacker can break. mitm-lab holds the real server to OpenSSL security level 2 (RSA and DH keys of 2048 bits or more).',
    labEndpoint: 'https://weak-key.bank.test/',
  },
  'upstream.UPSTREAM_SIGNATURE_TOO_WEAK': {
    title: "The real server's certificate has a weak signature",
    whatHappened:
      'mitm-lab refused {host}: {raw}. SHA-1 and MD5 signatures can be forged (SHA-1 collisions since 2017), so current clients refuse them. ' +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    clients: VIA_PROXY_502,
    lesson:
      'A certificate is only as strong as the hash its CA signed: a collision lets an attacker get a signature on one certificate that is valid for another.',
  },
  'upstream.UPSTREAM_PROTOCOL_TOO_OLD': {
    title: 'The real server speaks only an old TLS version',
    whatHappened:
      'mitm-lab refused {host}: {raw}. TLS 1.0 and 1.1 are retired (RFC 8996); mitm-lab requires TLS 1.2 or later on the server leg. ' +
      VIA_PROXY,
    handshakeStep: 'TLS handshake on the proxy -> server leg, version negotiation.',
    clients: VIA_PROXY_502,
    directly: CAUSES['old-protocol'].clients,
    lesson:
      'Most current clients refuse TLS 1.0/1.1 rather than fall back, though not all (wget with GnuTLS still connects). A proxy must not upgrade such a connection to a modern-looking one.',
    labEndpoint: 'https://old-tls.bank.test/',
  },
  'upstream.UPSTREAM_FIRST_BYTE_TIMEOUT': {
    title: 'The real server took the request and never answered',
    whatHappened:
      '{host}:{port} accepted the connection and the request, then sent nothing back in time ({raw}). ' +
      VIA_PROXY_TIMEOUT,
    handshakeStep: 'HTTP, after the request: waiting for the first byte of the response.',
    clients: VIA_PROXY_504,
    lesson:
      'A server that accepts and never answers would hold every client forever; a proxy, like a browser, gives up after a while and says so. The Timeline view shows where the time went.',
  },
  'upstream.UPSTREAM_IDLE_TIMEOUT': {
    title: 'The real server went silent in the middle of a response',
    whatHappened:
      '{host}:{port} started its response, then stopped sending ({raw}). mitm-lab cut the response for the client too, so a half body is never passed off as a whole one.',
    handshakeStep: 'HTTP, during the response body.',
    clients: {
      curl: {
        outcome: 'error',
        code: '18',
        note: 'partial file: the transfer ended early',
        unverified: true,
      },
      wget: { outcome: 'error', note: 'retries, then reports a read error', unverified: true },
      python: { outcome: 'error', code: 'IncompleteRead', unverified: true },
      node: { outcome: 'error', code: 'ECONNRESET', note: 'aborted', unverified: true },
    },
    lesson:
      'A cut response must look cut: a proxy that ended it cleanly would hand the client a truncated page (or file) as if it were complete.',
  },
  'upstream.EMFILE': {
    title: 'The proxy is out of file descriptors',
    whatHappened:
      'mitm-lab could not open another connection for {host}: the process has no file descriptors left (too many open connections; `ulimit -n`). It refuses new work with a sentence for a moment instead of crashing. ' +
      VIA_PROXY,
    handshakeStep: 'Before TCP: the proxy could not open a socket.',
    clients: VIA_PROXY_502,
    lesson:
      'Every connection costs a descriptor on both legs; a proxy must bound what it holds and close what stalls, or a room full of clients takes it down.',
  },
  'upstream.TARGET_REFUSED': {
    title: "{host} is on the proxy's own machine: refused",
    whatHappened:
      "mitm-lab refused to connect to {host}:{port}: {raw} The name resolved to an address of the proxy's own machine (or to the proxy itself), and a proxy that other machines reach must not be their way into the services of the machine it runs on. The client got a 403 from the proxy with that sentence.",
    handshakeStep:
      'DNS, before TCP: the proxy checks the address a name resolved to before it connects.',
    clients: VIA_PROXY_403,
    lesson:
      'A proxy is a door into the network it sits on: databases and admin pages that listen on loopback trust whoever reaches them. Only names a --resolve rule or --allow-target names may lead there.',
  },
  'upstream.ENOTFOUND': {
    title: 'DNS: {host} does not resolve',
    whatHappened:
      'mitm-lab found no address for {host} ({raw}): the name does not exist, there is no network, or, in the offline lab (`mitm-lab start` without --online), it is not a lab name and no resolver was asked at all. ' +
      VIA_PROXY,
    handshakeStep:
      'DNS, the very first step: before TCP and TLS. Behind a proxy, the proxy resolves names, not the client.',
    clients: VIA_PROXY_502,
    directly: {
      chromium: { outcome: 'error', code: 'ERR_NAME_NOT_RESOLVED', unverified: true },
      curl: { outcome: 'error', code: '6', says: 'Could not resolve host', unverified: true },
      node: { outcome: 'error', code: 'ENOTFOUND', unverified: true },
      python: { outcome: 'error', code: 'gaierror', unverified: true },
    },
    lesson:
      'Lab names under .test are resolved by mitm-lab itself (--resolve), so no hosts file is edited and no internet is needed. DNS queries normally travel in clear: another thing HTTPS does not hide.',
  },
  'upstream.ECONNREFUSED': {
    title: 'TCP: {host}:{port} refused the connection',
    whatHappened:
      'mitm-lab reached {host} but nothing was listening on port {port}: the TCP handshake was answered with a reset. ' +
      VIA_PROXY,
    handshakeStep: 'TCP three-way handshake: SYN answered by RST, before any TLS.',
    clients: VIA_PROXY_502,
    directly: {
      chromium: { outcome: 'error', code: 'ERR_CONNECTION_REFUSED', unverified: true },
      curl: { outcome: 'error', code: '7', says: 'Connection refused', unverified: true },
      node: { outcome: 'error', code: 'ECONNREFUSED', unverified: true },
      python: { outcome: 'error', code: 'ConnectionRefusedError', unverified: true },
    },
    lesson:
      'No server, no TLS: the certificate never comes into it. Check that the lab or the server is running.',
  },
  'upstream.ECONNRESET': {
    title: 'The real server reset the connection',
    whatHappened:
      'The connection from mitm-lab to {host} was reset by the other side ({raw}). ' + VIA_PROXY,
    handshakeStep: 'TCP or TLS: the server (or something on the path) sent a reset.',
    clients: VIA_PROXY_502,
    directly: {
      chromium: { outcome: 'error', code: 'ERR_CONNECTION_RESET', unverified: true },
      curl: { outcome: 'error', says: 'Connection reset by peer', unverified: true },
      node: { outcome: 'error', code: 'ECONNRESET', unverified: true },
      python: { outcome: 'error', code: 'ConnectionResetError', unverified: true },
    },
    lesson:
      'A reset during the handshake is also how some servers and clients refuse TLS without saying why; the timing in the Timeline view helps tell which.',
  },
  'upstream.ETIMEDOUT': {
    title: 'The real server did not answer in time',
    whatHappened: "mitm-lab's connection to {host}:{port} timed out. " + VIA_PROXY_TIMEOUT,
    handshakeStep: 'TCP connect or TLS handshake: no answer.',
    clients: VIA_PROXY_504,
    directly: {
      chromium: { outcome: 'error', code: 'ERR_CONNECTION_TIMED_OUT', unverified: true },
      curl: { outcome: 'error', code: '28', unverified: true },
      node: { outcome: 'error', code: 'ETIMEDOUT', unverified: true },
      python: { outcome: 'error', code: 'TimeoutError', unverified: true },
    },
    lesson:
      'A timeout is the network, a firewall or a dead server; the certificate never came into it.',
  },
  'upstream.EHOSTUNREACH': {
    title: 'No route to {host}',
    whatHappened: 'mitm-lab had an address for {host} but no network route to it. ' + VIA_PROXY,
    handshakeStep: 'TCP connect: the network could not deliver the SYN.',
    clients: VIA_PROXY_502,
    directly: {
      chromium: { outcome: 'error', code: 'ERR_ADDRESS_UNREACHABLE', unverified: true },
      curl: { outcome: 'error', code: '7', says: 'No route to host', unverified: true },
      node: { outcome: 'error', code: 'EHOSTUNREACH', unverified: true },
    },
    lesson: 'Offline or on an isolated network: the built-in lab needs no internet, real sites do.',
  },
  'upstream.EPROTO': {
    title: 'TLS protocol error with the real server',
    whatHappened:
      "mitm-lab's TLS handshake with {host} failed: {raw}. Usually no shared TLS version or cipher suite, or the server does not speak TLS on this port. " +
      VIA_PROXY,
    handshakeStep:
      'TLS handshake on the proxy -> server leg, negotiation (ClientHello -> ServerHello).',
    clients: VIA_PROXY_502,
    lesson:
      'Version and cipher negotiation happen before any certificate is checked; an outdated server fails here.',
    labEndpoint: 'https://old-tls.bank.test/',
  },
  'upstream.ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION': {
    title: 'The real server speaks only an old TLS version',
    whatHappened:
      'mitm-lab and {host} share no TLS version: the handshake failed on the version ({raw}). ' +
      VIA_PROXY,
    handshakeStep: 'TLS handshake on the proxy -> server leg, version negotiation.',
    clients: VIA_PROXY_502,
    directly: CAUSES['old-protocol'].clients,
    lesson:
      'TLS 1.0 and 1.1 are retired (RFC 8996); most current clients refuse them rather than fall back, though wget with GnuTLS still connects.',
    labEndpoint: 'https://old-tls.bank.test/',
  },
  'upstream.ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE': {
    title: 'No cipher suite in common with the real server',
    whatHappened:
      'mitm-lab and {host} could not agree on a cipher suite: the server answered with alert 40 handshake_failure. ' +
      VIA_PROXY,
    handshakeStep: 'TLS handshake on the proxy -> server leg, cipher negotiation.',
    clients: VIA_PROXY_502,
    directly: CAUSES['no-shared-cipher'].clients,
    lesson:
      'Both sides must share a cipher suite; modern TLS uses ephemeral (EC)DHE key exchange and AEAD ciphers only.',
    labEndpoint: 'https://no-shared-cipher.bank.test/',
  },
  'upstream.ERR_SSL_WRONG_VERSION_NUMBER': {
    title: 'The real server does not speak TLS on this port',
    whatHappened:
      'mitm-lab started TLS with {host}:{port} and got back something that is not TLS, typically plain HTTP on a port expected to be HTTPS. ' +
      VIA_PROXY,
    handshakeStep: 'TLS handshake on the proxy -> server leg, the first record: not TLS.',
    clients: VIA_PROXY_502,
    directly: {
      chromium: { outcome: 'error', code: 'ERR_SSL_PROTOCOL_ERROR', unverified: true },
      firefox: { outcome: 'error', code: 'SSL_ERROR_RX_RECORD_TOO_LONG', unverified: true },
      curl: { outcome: 'error', code: '35', says: 'wrong version number', unverified: true },
      node: { outcome: 'error', code: 'ERR_SSL_WRONG_VERSION_NUMBER', unverified: true },
      python: {
        outcome: 'error',
        code: 'SSLError',
        says: 'WRONG_VERSION_NUMBER',
        unverified: true,
      },
    },
    lesson:
      'HTTPS is HTTP inside TLS, usually on 443; plain HTTP is on 80. Mixing the two gives this error.',
  },
  'upstream.other': {
    title: 'The proxy could not complete the request to {host}',
    whatHappened: "mitm-lab's request to {host}:{port} failed with {code}: {raw}. " + VIA_PROXY,
    handshakeStep: 'The proxy -> server leg (DNS, TCP, TLS or HTTP): see the code.',
    clients: VIA_PROXY_502,
    lesson:
      'mitm-lab shows the raw code rather than guess. If it happens reproducibly, it deserves an entry of its own (docs/explain.md).',
  },

  unknown: {
    title: 'No explanation for this yet',
    whatHappened:
      'mitm-lab recorded this for {host} but has no teaching entry for it. What is known: {code} - {raw}.',
    handshakeStep: 'Not identified.',
    lesson:
      'An honest "we do not know" beats a wrong lesson. The raw details are above; see docs/explain.md to add an entry.',
  },
} as const satisfies Record<ExplanationKey, Explanation<CauseId>>;
