// The teaching catalog: one entry per thing the engine can report, keyed by event kind and
// cause. Pure data, no logic: `{slot}` placeholders are filled by explain.ts (see SLOTS in
// explanation.ts). Facts about client behaviour come from ../shared/ENGINE-NOTES.md ("What
// clients do when they reject a certificate") and the lab gallery's measurements
// (src/lab/gallery.ts). To add an entry, see docs/explain.md.
import type { ClientViews, Explanation } from './explanation.ts';

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

// ---- shared wording (data reused by several entries) ----

const STEP_VALIDATION =
  'TLS handshake, certificate validation: after ClientHello -> ServerHello -> Certificate, the client checks the chain against its trusted roots, the dates and the name, before it sends Finished.';

const STEP_UPSTREAM_VALIDATION =
  'TLS handshake on the proxy -> server leg, certificate validation: mitm-lab is the client there, and it checks the real server the way a browser would.';

/** What clients show when they do not trust the CA that signed the certificate (mitm-lab's here). */
const UNTRUSTED_CA: ClientViews = {
  browser:
    'Chromium: "Your connection is not private", NET::ERR_CERT_AUTHORITY_INVALID. Firefox: "Warning: Potential Security Risk Ahead", SEC_ERROR_UNKNOWN_ISSUER.',
  curl: 'exit 60: "SSL certificate problem: unable to get local issuer certificate".',
  node: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE (SELF_SIGNED_CERT_IN_CHAIN when the CA is sent in the chain).',
  python:
    'ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate.',
};

const LESSON_REFUSED =
  'Certificate validation did its job: the forged certificate for {host} names the right host, but it is signed by a CA this client does not trust, so the client hung up before sending a single byte of HTTP. The proxy never held the keys to anything the client wanted to protect. Clicking through the warning would have given it all away.';

/** A tunnelled connection is the real one: command-line clients notice nothing. */
const UNTOUCHED_CLI: Omit<ClientViews, 'browser'> = {
  curl: 'nothing: exit 0.',
  node: 'nothing: the request succeeds.',
  python: 'nothing: the request succeeds.',
};

/** What clients show, met directly, for a chain they cannot lead to a root they trust. */
const UNKNOWN_ISSUER_DIRECTLY: Omit<ClientViews, 'node'> = {
  browser: 'directly: Chromium NET::ERR_CERT_AUTHORITY_INVALID, Firefox SEC_ERROR_UNKNOWN_ISSUER.',
  curl: 'directly: exit 60 "SSL certificate problem: unable to get local issuer certificate".',
  python:
    'directly: ssl.SSLCertVerificationError: certificate verify failed: unable to get local issuer certificate.',
};

/** Through the proxy, an upstream failure is answered by mitm-lab itself. */
const VIA_PROXY = 'Through mitm-lab the client gets a 502 from the proxy naming {code}.';

export const CATALOG = {
  'http.plaintext': {
    title: 'Plain HTTP: everyone on the path reads it',
    whatHappened:
      'The client sent its request to {host} over plain HTTP. The method, URL, headers, cookies and body crossed the network as readable text: the Wire view shows exactly the bytes a Wi-Fi neighbour, the café router or any ISP on the way could read and change.',
    handshakeStep:
      'No TLS at all: DNS -> TCP three-way handshake -> HTTP request in clear (port 80).',
    whatClientsShow: {
      browser:
        'Chromium: "Not secure" in the address bar; Firefox: a struck-through padlock, and a warning under password fields. No error: the page loads.',
      curl: 'nothing: exit 0, the response is printed.',
      node: 'nothing: the request succeeds.',
      python: 'nothing: the request succeeds.',
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
      'TLS handshake, certificate validation passed (the forged chain ends at a root the client trusts); then key exchange and Finished with the proxy, not with {host}.',
    whatClientsShow: {
      browser:
        "a normal padlock. Only the certificate viewer tells: the issuer is the mitm-lab CA, not the site's real CA.",
      curl: 'nothing: exit 0 (with --cacert pointing at the mitm-lab CA, or the CA in the system store).',
      node: 'nothing: the request succeeds (the CA given in `ca` or NODE_EXTRA_CA_CERTS).',
      python: 'nothing: the request succeeds (cafile= / REQUESTS_CA_BUNDLE / SSL_CERT_FILE).',
    },
    lesson:
      'A padlock means "encrypted to whoever holds a certificate my trust store accepts", not "encrypted to the real site". A trusted-but-malicious CA (a corporate proxy, malware, a compromised device) reads everything. Compare the Certificates view: same name, different issuer, different key. HSTS does not help here (the certificate is trusted); certificate pinning does, because the forged key is not the pinned one.',
    labEndpoint: 'mitm-lab victim (the "compromised" profile)',
  },

  // ---- the client refused the forged certificate: by TLS alert ----

  'reject.alert.48': {
    title: 'Refused: unknown CA (alert 48)',
    whatHappened:
      '{client} refused the certificate mitm-lab forged for {host} and said why with TLS alert 48 unknown_ca: it could not chain the certificate to any root it trusts.',
    handshakeStep: STEP_VALIDATION,
    whatClientsShow: UNTRUSTED_CA,
    lesson: LESSON_REFUSED,
    labEndpoint: 'curl -x http://127.0.0.1:8080 https://bank.test/ (without --cacert)',
  },
  'reject.alert.46': {
    title: 'Refused: certificate unknown (alert 46)',
    whatHappened:
      '{client} refused the certificate mitm-lab forged for {host} with TLS alert 46 certificate_unknown. Chromium sends 46 for every certificate error (TLS 1.2 and 1.3), so the alert alone does not say which check failed; here it is almost certainly the untrusted issuer. Chromium also retries, so expect more than one of these.',
    handshakeStep: STEP_VALIDATION,
    whatClientsShow: UNTRUSTED_CA,
    lesson: LESSON_REFUSED,
    labEndpoint: 'a Chromium-based browser pointed at the proxy, without the mitm-lab CA',
  },
  'reject.alert.42': {
    title: 'Refused: bad certificate (alert 42)',
    whatHappened:
      '{client} refused the certificate mitm-lab forged for {host} with TLS alert 42 bad_certificate. OpenSSL-based clients send 42 when the chain is trusted but something else is wrong (Python: the host name does not match; curl: a weak key); Firefox sends it for a self-signed certificate or a wrong host.',
    handshakeStep: STEP_VALIDATION,
    whatClientsShow: {
      browser:
        'Chromium: NET::ERR_CERT_COMMON_NAME_INVALID (wrong name) or NET::ERR_CERT_INVALID. Firefox: SSL_ERROR_BAD_CERT_DOMAIN or MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT.',
      curl: 'exit 60: "SSL: no alternative certificate subject name matches target host name \'{host}\'".',
      node: 'ERR_TLS_CERT_ALTNAME_INVALID: "Hostname/IP does not match certificate\'s altnames".',
      python:
        "ssl.SSLCertVerificationError: certificate verify failed: Hostname mismatch, certificate is not valid for '{host}'.",
    },
    lesson:
      'Validation checks more than the issuer: the certificate must name the host the client asked for ({host}) in its subject alternative names. A trusted CA signing the wrong name is still refused.',
    labEndpoint: 'https://wrong-host.bank.test/',
  },
  'reject.alert.43': {
    title: 'Refused: unsupported certificate (alert 43)',
    whatHappened:
      '{client} refused the certificate for {host} with TLS alert 43 unsupported_certificate: it does not accept this kind of certificate (key type, key usage or extended key usage).',
    handshakeStep: STEP_VALIDATION,
    whatClientsShow: {
      browser: 'Chromium: NET::ERR_CERT_INVALID. Firefox: SEC_ERROR_INADEQUATE_KEY_USAGE.',
      curl: 'exit 35 or 60, with the OpenSSL reason ("unsupported certificate purpose").',
      node: 'an ERR_SSL_* error or INVALID_PURPOSE.',
      python:
        'ssl.SSLCertVerificationError: certificate verify failed: unsupported certificate purpose.',
    },
    lesson:
      'A certificate says what it may be used for (keyUsage, extendedKeyUsage serverAuth); a client refuses one that was not made for a TLS server.',
  },
  'reject.alert.44': {
    title: 'Refused: certificate revoked (alert 44)',
    whatHappened:
      '{client} refused the certificate for {host} with TLS alert 44 certificate_revoked: it believes the certificate was revoked by its CA.',
    handshakeStep: STEP_VALIDATION,
    whatClientsShow: {
      browser: 'Chromium: NET::ERR_CERT_REVOKED. Firefox: SEC_ERROR_REVOKED_CERTIFICATE.',
      curl: 'exit 60 with "certificate revoked" (when revocation checking is on).',
      node: 'CERT_REVOKED (only when the application checks revocation).',
      python: 'ssl.SSLCertVerificationError: certificate verify failed: certificate revoked.',
    },
    lesson:
      'Revocation (CRL, OCSP) lets a CA withdraw a certificate before it expires, for example after its key leaked. Many clients check it only partly or not at all.',
  },
  'reject.alert.45': {
    title: 'Refused: certificate expired (alert 45)',
    whatHappened:
      "{client} refused the certificate for {host} with TLS alert 45 certificate_expired: the date is outside the certificate's validity period (expired, not yet valid, or the client's clock is wrong).",
    handshakeStep: STEP_VALIDATION,
    whatClientsShow: {
      browser:
        'Chromium: NET::ERR_CERT_DATE_INVALID (or "Your clock is behind/ahead"). Firefox: SEC_ERROR_EXPIRED_CERTIFICATE or MOZILLA_PKIX_ERROR_NOT_YET_VALID_CERTIFICATE.',
      curl: 'exit 60: "SSL certificate problem: certificate has expired" (or "certificate is not yet valid").',
      node: 'CERT_HAS_EXPIRED or CERT_NOT_YET_VALID.',
      python: 'ssl.SSLCertVerificationError: certificate verify failed: certificate has expired.',
    },
    lesson:
      'Certificates are valid for a window of time, and the client checks it against its own clock: a wrong clock breaks every HTTPS site at once. mitm-lab backdates its certificates a little so a slightly slow clock still works.',
    labEndpoint: 'https://expired.bank.test/',
  },
  'reject.alert.49': {
    title: 'Refused: access denied (alert 49)',
    whatHappened:
      "{client} ended the handshake with {host} with TLS alert 49 access_denied: a valid certificate, but the client's policy refuses to continue.",
    handshakeStep: 'TLS handshake, after certificate validation: a policy decision by the client.',
    whatClientsShow: {
      browser: 'rarely seen from browsers; a generic connection error.',
      curl: 'exit 35 with "access denied".',
      node: 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED.',
      python: 'ssl.SSLError: TLSV1_ALERT_ACCESS_DENIED.',
    },
    lesson:
      'Not every refusal is about trust: a client (or a pinning policy) may refuse a certificate it can validate.',
  },
  'reject.alert.51': {
    title: 'Refused: decrypt error (alert 51)',
    whatHappened:
      '{client} ended the handshake with {host} with TLS alert 51 decrypt_error: a handshake signature or the Finished message did not verify.',
    handshakeStep: 'TLS handshake, key exchange: CertificateVerify or Finished did not check out.',
    whatClientsShow: {
      browser: 'Chromium: ERR_SSL_PROTOCOL_ERROR. Firefox: SSL_ERROR_DECRYPT_ERROR_ALERT.',
      curl: 'exit 35 with "decrypt error".',
      node: 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR.',
      python: 'ssl.SSLError: TLSV1_ALERT_DECRYPT_ERROR.',
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
    whatClientsShow: {
      browser:
        'Chromium: ERR_SSL_VERSION_OR_CIPHER_MISMATCH. Firefox: SSL_ERROR_NO_CYPHER_OVERLAP.',
      curl: 'exit 35: "sslv3 alert handshake failure".',
      node: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE.',
      python: 'ssl.SSLError: [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE].',
    },
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
    whatClientsShow: {
      browser:
        'Chromium: ERR_SSL_VERSION_OR_CIPHER_MISMATCH. Firefox: SSL_ERROR_UNSUPPORTED_VERSION.',
      curl: 'exit 35: "tlsv1 alert protocol version".',
      node: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION.',
      python: 'ssl.SSLError: [SSL: TLSV1_ALERT_PROTOCOL_VERSION].',
    },
    lesson:
      'TLS 1.0 and 1.1 are disabled in current clients; a server that only speaks them cannot be reached. Version negotiation is protected, so an attacker cannot silently downgrade a connection.',
    labEndpoint: 'https://old-tls.bank.test/',
  },
  'reject.alert.71': {
    title: 'Refused: insufficient security (alert 71)',
    whatHappened:
      '{client} ended the handshake with {host} with TLS alert 71 insufficient_security: the parameters on offer were too weak for it.',
    handshakeStep:
      "TLS handshake, negotiation: the only common choices were below the client's minimum.",
    whatClientsShow: {
      browser:
        'Chromium: ERR_SSL_VERSION_OR_CIPHER_MISMATCH. Firefox: SSL_ERROR_INSUFFICIENT_SECURITY_ALERT.',
      curl: 'exit 35: "insufficient security".',
      node: 'ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY.',
      python: 'ssl.SSLError: TLSV1_ALERT_INSUFFICIENT_SECURITY.',
    },
    lesson:
      'Clients keep a floor of acceptable security; weak ciphers and small keys are refused, not negotiated down to.',
  },
  'reject.alert.80': {
    title: 'Handshake ended: internal error (alert 80)',
    whatHappened:
      "{client} ended the handshake with {host} with TLS alert 80 internal_error: a failure inside the client unrelated to the certificate's trust.",
    handshakeStep: 'TLS handshake, client side: an internal failure.',
    whatClientsShow: {
      browser: 'a generic ERR_SSL_PROTOCOL_ERROR.',
      curl: 'exit 35 with "internal error".',
      node: 'ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR.',
      python: 'ssl.SSLError: TLSV1_ALERT_INTERNAL_ERROR.',
    },
    lesson:
      'Not every failed handshake is a security decision; the raw message ({raw}) is the best clue.',
  },
  'reject.alert.112': {
    title: 'Refused: unrecognized name (alert 112)',
    whatHappened:
      'The handshake for {host} ended with TLS alert 112 unrecognized_name: the name sent in SNI was not one the other side serves.',
    handshakeStep: 'TLS handshake, ClientHello: the Server Name Indication extension.',
    whatClientsShow: {
      browser:
        'Chromium: ERR_SSL_UNRECOGNIZED_NAME_ALERT. Firefox: SSL_ERROR_UNRECOGNIZED_NAME_ALERT.',
      curl: 'exit 35: "tlsv1 unrecognized name".',
      node: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME.',
      python: 'ssl.SSLError: TLSV1_UNRECOGNIZED_NAME.',
    },
    lesson:
      'SNI travels in clear in the ClientHello: it is how one IP address serves many HTTPS sites, and also how an eavesdropper learns which site you visit.',
  },
  'reject.alert.116': {
    title: 'Refused: certificate required (alert 116)',
    whatHappened:
      'The handshake for {host} ended with TLS alert 116 certificate_required: one side wanted a client certificate that was not sent.',
    handshakeStep: 'TLS handshake, CertificateRequest -> client Certificate (mutual TLS).',
    whatClientsShow: {
      browser:
        'Chromium: ERR_BAD_SSL_CLIENT_AUTH_CERT. Firefox: SSL_ERROR_RX_CERTIFICATE_REQUIRED_ALERT.',
      curl: 'exit 56 or 35: "certificate required".',
      node: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED.',
      python: 'ssl.SSLError: TLSV13_ALERT_CERTIFICATE_REQUIRED.',
    },
    lesson:
      "Mutual TLS authenticates the client too; an interceptor without the client's key cannot impersonate it.",
  },
  'reject.alert.120': {
    title: 'Refused: no application protocol (alert 120)',
    whatHappened:
      'The handshake for {host} ended with TLS alert 120 no_application_protocol: no protocol offered in ALPN (h2, http/1.1) was acceptable.',
    handshakeStep: 'TLS handshake, ClientHello ALPN extension -> ServerHello/EncryptedExtensions.',
    whatClientsShow: {
      browser: 'Chromium: ERR_SSL_PROTOCOL_ERROR. Firefox: SSL_ERROR_NO_APPLICATION_PROTOCOL.',
      curl: 'exit 35: "no application protocol".',
      node: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL.',
      python: 'ssl.SSLError: TLSV1_ALERT_NO_APPLICATION_PROTOCOL.',
    },
    lesson:
      'ALPN, like SNI, is sent in clear: an eavesdropper sees whether you speak HTTP/2 or HTTP/1.1.',
  },
  'reject.alert.other': {
    title: 'Refused with TLS alert {alertCode} ({alertName})',
    whatHappened:
      '{client} ended the handshake with {host} by sending TLS alert {alertCode} {alertName}. The raw error was: {raw}.',
    handshakeStep: 'TLS handshake: the client aborted it with a fatal alert.',
    whatClientsShow: {
      browser: 'a certificate or protocol error page, depending on the alert.',
      curl: 'exit 35 or 60 with the alert name.',
      node: 'an ERR_SSL_* code naming the alert.',
      python: 'ssl.SSLError naming the alert.',
    },
    lesson:
      'A TLS alert is the client saying why it stops; OpenSSL-based clients send it in clear even in TLS 1.3, so an eavesdropper sees it too. This alert has no entry of its own yet (see docs/explain.md to add one).',
  },

  // ---- the client refused without an alert ----

  'reject.closed-after-handshake': {
    title: 'Probably refused: closed without a request',
    whatHappened:
      '{client} completed the TLS handshake with mitm-lab\'s forged certificate for {host}, then closed the connection without sending any request. Node over TLS 1.2, Firefox over TLS 1.2, wget, and curl with a wrong host name refuse this way: they check the certificate after the handshake and just hang up. Browsers also open spare connections they never use, so this is worded "probably".',
    handshakeStep:
      'After the TLS handshake: the client validated the certificate once the handshake finished, and left.',
    whatClientsShow: UNTRUSTED_CA,
    lesson:
      'Not every client says why it refuses; a silent close right after the handshake is the usual sign. ' +
      LESSON_REFUSED,
  },
  'reject.reset-during-handshake': {
    title: 'Refused: connection reset during the handshake',
    whatHappened:
      "{client} reset the connection to mitm-lab in the middle of the TLS handshake for {host}, without a TLS alert ({raw}). Node's TLS 1.3 client refuses an untrusted or wrong-name certificate this way: it just hangs up.",
    handshakeStep: STEP_VALIDATION,
    whatClientsShow: UNTRUSTED_CA,
    lesson: LESSON_REFUSED,
    labEndpoint: 'node -e "https.get(\'https://bank.test/\')" through the proxy, without the CA',
  },
  'reject.timeout': {
    title: 'No answer: the handshake timed out',
    whatHappened:
      'The client connected for {host} but the TLS handshake did not finish in time: it sent nothing more, or stalled.',
    handshakeStep: 'TLS handshake, stalled (ClientHello sent or expected, nothing after).',
    whatClientsShow: {
      browser: 'Chromium: ERR_TIMED_OUT. Firefox: "The connection has timed out".',
      curl: 'exit 28: "Operation timed out" (or exit 35 when the handshake is cut).',
      node: 'ETIMEDOUT, or ECONNRESET when the proxy gives up first.',
      python: 'TimeoutError / socket.timeout: "The read operation timed out".',
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
    whatClientsShow: {
      browser:
        'Chromium: ERR_SSL_VERSION_OR_CIPHER_MISMATCH. Firefox: SSL_ERROR_NO_CYPHER_OVERLAP or SSL_ERROR_UNSUPPORTED_VERSION.',
      curl: 'exit 35: "tlsv1 alert protocol version" or "sslv3 alert handshake failure".',
      node: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION or ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE.',
      python: 'ssl.SSLError: TLSV1_ALERT_PROTOCOL_VERSION / SSLV3_ALERT_HANDSHAKE_FAILURE.',
    },
    lesson:
      'Both sides must share a protocol version and a cipher suite; this fails before any certificate is looked at. The Wire view lists what the ClientHello offered.',
    labEndpoint: 'https://old-tls.bank.test/',
  },
  'reject.not-tls': {
    title: 'Not TLS: the client spoke something else',
    whatHappened:
      'The client asked the proxy for a tunnel to {host}:{port} and then sent bytes that are not a TLS ClientHello.',
    handshakeStep: 'Before TLS: the first bytes after CONNECT were not a ClientHello.',
    whatClientsShow: {
      browser: 'usually nothing: a browser sends TLS to port 443.',
      curl: 'depends on what was sent; a plain HTTP request through CONNECT works.',
      node: 'depends on the protocol.',
      python: 'depends on the protocol.',
    },
    lesson:
      'A CONNECT tunnel carries any protocol; only TLS can be intercepted with a forged certificate. Anything else is visible or opaque as it is.',
  },
  'reject.unknown': {
    title: 'The handshake failed for a reason mitm-lab could not classify',
    whatHappened:
      'The TLS attempt for {host} ended without a request and without a recognisable cause. The raw error was: {raw}.',
    handshakeStep: 'TLS handshake: it did not complete, cause not identified.',
    whatClientsShow: {
      browser: 'a connection or certificate error page.',
      curl: 'exit 35 or 60.',
      node: 'ECONNRESET or an ERR_SSL_* code.',
      python: 'ssl.SSLError or ConnectionResetError.',
    },
    lesson:
      'mitm-lab shows the raw error rather than guess. If this happens reproducibly, it deserves an entry of its own.',
  },

  // ---- tunnelled: the proxy passed the bytes through untouched ----

  'tunnel.mode-eavesdrop': {
    title: 'Tunnelled: eavesdrop mode (what a passive observer sees)',
    whatHappened:
      'mitm-lab is in eavesdrop mode: it did not forge a certificate for {host} and passed the encrypted bytes through untouched, like any router on the path. The Wire view shows everything an eavesdropper gets.',
    handshakeStep:
      'Whole TLS handshake end to end between the client and {host}; the proxy only watched. TLS 1.2 sends the server certificate in clear; TLS 1.3 encrypts it.',
    whatClientsShow: {
      browser: "nothing unusual: a normal padlock with the site's real certificate.",
      ...UNTOUCHED_CLI,
    },
    lesson:
      'HTTPS does not hide everything: the destination IP and port, the SNI host name, ALPN, the TLS version, when you connect and how much you send and receive stay visible. The content does not.',
  },
  'tunnel.auto-refused-before': {
    title: 'Tunnelled: a client refused the forgery for this host before',
    whatHappened:
      "In auto mode, a client already refused mitm-lab's forged certificate for {host}, so this connection was tunnelled untouched instead of failing again. The `f` key forgets those hosts.",
    handshakeStep: 'Whole TLS handshake end to end with {host}; the proxy only watched.',
    whatClientsShow: {
      browser: 'nothing unusual: the real site with its real certificate.',
      ...UNTOUCHED_CLI,
    },
    lesson:
      'An interceptor that is refused can fall back to watching; a real attacker would, too. What stays visible: host name, sizes and timing, never the content.',
  },
  'tunnel.outside-name-constraints': {
    title: 'Tunnelled: the mitm-lab CA may not sign {host}',
    whatHappened:
      'The mitm-lab CA is name-constrained to lab names (.test, localhost and what was permitted), so it cannot forge a certificate for {host}; the connection was tunnelled untouched.',
    handshakeStep: "Before forging: the CA's name constraints exclude this host.",
    whatClientsShow: {
      browser:
        'nothing unusual (a forged certificate would have been refused with NET::ERR_CERT_INVALID anyway).',
      ...UNTOUCHED_CLI,
    },
    lesson:
      'Name constraints make a forgotten lab CA harmless for real sites: clients refuse a certificate outside the permitted names even from a trusted root. `--unconstrained` lifts it for demonstrations.',
  },
  'tunnel.not-tls': {
    title: 'Tunnelled: not TLS',
    whatHappened:
      'The client sent something other than TLS through its CONNECT tunnel to {host}:{port}; mitm-lab passed it through.',
    handshakeStep: 'Before TLS: the first bytes were not a ClientHello.',
    whatClientsShow: {
      browser: 'nothing: whatever the protocol does.',
      curl: 'nothing unusual.',
      node: 'nothing unusual.',
      python: 'nothing unusual.',
    },
    lesson:
      'Only TLS can be intercepted by forging a certificate; other protocols are as visible as they are on the wire.',
  },
  'tunnel.mint-failed': {
    title: 'Tunnelled: no certificate could be made for {host}',
    whatHappened:
      'mitm-lab could not mint a certificate for {host} (an invalid or unusual name), so it tunnelled the connection untouched.',
    handshakeStep: 'Before forging: certificate minting failed.',
    whatClientsShow: {
      browser: 'nothing unusual.',
      ...UNTOUCHED_CLI,
    },
    lesson:
      'When interception is impossible, the honest fallback is to watch, not to break the connection.',
  },

  // ---- the proxy's own connection to the real server failed ----

  'upstream.CERT_HAS_EXPIRED': {
    title: "The real server's certificate has expired",
    whatHappened:
      'mitm-lab connected to {host} and refused its certificate: it has expired. ' + VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    whatClientsShow: {
      browser:
        'directly: Chromium NET::ERR_CERT_DATE_INVALID, Firefox SEC_ERROR_EXPIRED_CERTIFICATE.',
      curl: 'directly: exit 60 "SSL certificate problem: certificate has expired".',
      node: 'directly: CERT_HAS_EXPIRED.',
      python:
        'directly: ssl.SSLCertVerificationError: certificate verify failed: certificate has expired.',
    },
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
    whatClientsShow: {
      browser:
        'directly: Chromium NET::ERR_CERT_DATE_INVALID ("Your clock is behind"), Firefox MOZILLA_PKIX_ERROR_NOT_YET_VALID_CERTIFICATE.',
      curl: 'directly: exit 60 "SSL certificate problem: certificate is not yet valid".',
      node: 'directly: CERT_NOT_YET_VALID.',
      python:
        'directly: ssl.SSLCertVerificationError: certificate verify failed: certificate is not yet valid.',
    },
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
    whatClientsShow: {
      browser:
        'directly: Chromium NET::ERR_CERT_AUTHORITY_INVALID, Firefox MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT.',
      curl: 'directly: exit 60 "SSL certificate problem: self-signed certificate".',
      node: 'directly: DEPTH_ZERO_SELF_SIGNED_CERT.',
      python:
        'directly: ssl.SSLCertVerificationError: certificate verify failed: self-signed certificate.',
    },
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
    whatClientsShow: {
      browser: UNKNOWN_ISSUER_DIRECTLY.browser,
      curl: 'directly: exit 60 "SSL certificate problem: self-signed certificate in certificate chain".',
      node: 'directly: SELF_SIGNED_CERT_IN_CHAIN.',
      python:
        'directly: ssl.SSLCertVerificationError: certificate verify failed: self-signed certificate in certificate chain.',
    },
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
    whatClientsShow: {
      ...UNKNOWN_ISSUER_DIRECTLY,
      node: 'directly: UNABLE_TO_VERIFY_LEAF_SIGNATURE.',
    },
    lesson:
      'A server must send its intermediate certificates; browsers sometimes paper over a missing one, command-line clients do not.',
  },
  'upstream.UNABLE_TO_GET_ISSUER_CERT_LOCALLY': {
    title: "The real server's chain ends at an unknown root",
    whatHappened:
      "mitm-lab refused {host}: its certificate chain leads to a root that is not in mitm-lab's trust store. " +
      VIA_PROXY,
    handshakeStep: STEP_UPSTREAM_VALIDATION,
    whatClientsShow: {
      ...UNKNOWN_ISSUER_DIRECTLY,
      node: 'directly: UNABLE_TO_GET_ISSUER_CERT_LOCALLY.',
    },
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
    whatClientsShow: {
      browser:
        'directly: Chromium NET::ERR_CERT_COMMON_NAME_INVALID, Firefox SSL_ERROR_BAD_CERT_DOMAIN.',
      curl: 'directly: exit 60 "SSL: no alternative certificate subject name matches target host name \'{host}\'".',
      node: 'directly: ERR_TLS_CERT_ALTNAME_INVALID "Hostname/IP does not match certificate\'s altnames".',
      python:
        "directly: ssl.SSLCertVerificationError: certificate verify failed: Hostname mismatch, certificate is not valid for '{host}'.",
    },
    lesson:
      'A genuine certificate for another site is no proof of identity for this one: otherwise anyone with a certificate for their own domain could impersonate yours.',
    labEndpoint: 'https://wrong-host.bank.test/',
  },
  'upstream.ENOTFOUND': {
    title: 'DNS: {host} does not resolve',
    whatHappened:
      'mitm-lab asked DNS for {host} and got no address (the name does not exist, or there is no network). ' +
      VIA_PROXY,
    handshakeStep:
      'DNS, the very first step: before TCP and TLS. Behind a proxy, the proxy resolves names, not the client.',
    whatClientsShow: {
      browser:
        'directly: Chromium ERR_NAME_NOT_RESOLVED, Firefox "Hmm. We\'re having trouble finding that site."',
      curl: 'directly: exit 6 "Could not resolve host: {host}".',
      node: 'directly: ENOTFOUND "getaddrinfo ENOTFOUND {host}".',
      python: 'directly: socket.gaierror: [Errno -2] Name or service not known.',
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
    whatClientsShow: {
      browser: 'directly: Chromium ERR_CONNECTION_REFUSED, Firefox "Unable to connect".',
      curl: 'directly: exit 7 "Failed to connect to {host} port {port}: Connection refused".',
      node: 'directly: ECONNREFUSED.',
      python: 'directly: ConnectionRefusedError: [Errno 111] Connection refused.',
    },
    lesson:
      'No server, no TLS: the certificate never comes into it. Check that the lab or the server is running.',
  },
  'upstream.ECONNRESET': {
    title: 'The real server reset the connection',
    whatHappened:
      'The connection from mitm-lab to {host} was reset by the other side ({raw}). ' + VIA_PROXY,
    handshakeStep: 'TCP or TLS: the server (or something on the path) sent a reset.',
    whatClientsShow: {
      browser: 'directly: Chromium ERR_CONNECTION_RESET, Firefox "The connection was reset".',
      curl: 'directly: exit 35 or 56 "Connection reset by peer".',
      node: 'directly: ECONNRESET "socket hang up".',
      python: 'directly: ConnectionResetError: [Errno 104] Connection reset by peer.',
    },
    lesson:
      'A reset during the handshake is also how some servers and clients refuse TLS without saying why; the timing in the Timeline view helps tell which.',
  },
  'upstream.ETIMEDOUT': {
    title: 'The real server did not answer in time',
    whatHappened: "mitm-lab's connection to {host}:{port} timed out. " + VIA_PROXY,
    handshakeStep: 'TCP connect or TLS handshake: no answer.',
    whatClientsShow: {
      browser:
        'directly: Chromium ERR_CONNECTION_TIMED_OUT, Firefox "The connection has timed out".',
      curl: 'directly: exit 28 "Connection timed out".',
      node: 'directly: ETIMEDOUT.',
      python: 'directly: TimeoutError: [Errno 110] Connection timed out.',
    },
    lesson:
      'A timeout is the network, a firewall or a dead server; the certificate never came into it.',
  },
  'upstream.EHOSTUNREACH': {
    title: 'No route to {host}',
    whatHappened: 'mitm-lab had an address for {host} but no network route to it. ' + VIA_PROXY,
    handshakeStep: 'TCP connect: the network could not deliver the SYN.',
    whatClientsShow: {
      browser: 'directly: Chromium ERR_ADDRESS_UNREACHABLE, Firefox "Unable to connect".',
      curl: 'directly: exit 7 "No route to host".',
      node: 'directly: EHOSTUNREACH.',
      python: 'directly: OSError: [Errno 113] No route to host.',
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
    whatClientsShow: {
      browser:
        'directly: Chromium ERR_SSL_PROTOCOL_ERROR or ERR_SSL_VERSION_OR_CIPHER_MISMATCH, Firefox SSL_ERROR_NO_CYPHER_OVERLAP.',
      curl: 'directly: exit 35 with the OpenSSL reason.',
      node: 'directly: EPROTO with the OpenSSL reason.',
      python: 'directly: ssl.SSLError with the OpenSSL reason.',
    },
    lesson:
      'Version and cipher negotiation happen before any certificate is checked; an outdated server fails here.',
    labEndpoint: 'https://old-tls.bank.test/',
  },
  'upstream.ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION': {
    title: 'The real server speaks only an old TLS version',
    whatHappened:
      'mitm-lab and {host} share no TLS version: the server answered with alert 70 protocol_version (TLS 1.0/1.1 are disabled in current OpenSSL). ' +
      VIA_PROXY,
    handshakeStep: 'TLS handshake on the proxy -> server leg, version negotiation.',
    whatClientsShow: {
      browser:
        'directly: Chromium ERR_SSL_VERSION_OR_CIPHER_MISMATCH, Firefox SSL_ERROR_UNSUPPORTED_VERSION.',
      curl: 'directly: exit 35 "tlsv1 alert protocol version".',
      node: 'directly: ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION.',
      python: 'directly: ssl.SSLError: [SSL: TLSV1_ALERT_PROTOCOL_VERSION].',
    },
    lesson: 'TLS 1.0 and 1.1 are retired (RFC 8996); clients refuse them rather than fall back.',
    labEndpoint: 'https://old-tls.bank.test/',
  },
  'upstream.ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE': {
    title: 'No cipher suite in common with the real server',
    whatHappened:
      'mitm-lab and {host} could not agree on a cipher suite: the server answered with alert 40 handshake_failure. ' +
      VIA_PROXY,
    handshakeStep: 'TLS handshake on the proxy -> server leg, cipher negotiation.',
    whatClientsShow: {
      browser:
        'directly: Chromium ERR_SSL_VERSION_OR_CIPHER_MISMATCH, Firefox SSL_ERROR_NO_CYPHER_OVERLAP.',
      curl: 'directly: exit 35 "sslv3 alert handshake failure".',
      node: 'directly: ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE.',
      python: 'directly: ssl.SSLError: [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE].',
    },
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
    whatClientsShow: {
      browser: 'directly: Chromium ERR_SSL_PROTOCOL_ERROR, Firefox SSL_ERROR_RX_RECORD_TOO_LONG.',
      curl: 'directly: exit 35 "wrong version number".',
      node: 'directly: ERR_SSL_WRONG_VERSION_NUMBER (EPROTO).',
      python: 'directly: ssl.SSLError: [SSL: WRONG_VERSION_NUMBER].',
    },
    lesson:
      'HTTPS is HTTP inside TLS, usually on 443; plain HTTP is on 80. Mixing the two gives this error.',
  },
  'upstream.other': {
    title: 'The proxy could not complete the request to {host}',
    whatHappened: "mitm-lab's request to {host}:{port} failed with {code}: {raw}. " + VIA_PROXY,
    handshakeStep: 'The proxy -> server leg (DNS, TCP, TLS or HTTP): see the code.',
    whatClientsShow: {
      browser: 'directly: a connection or certificate error page.',
      curl: 'directly: a non-zero exit naming the problem.',
      node: 'directly: {code}.',
      python: 'directly: an exception naming the problem.',
    },
    lesson:
      'mitm-lab shows the raw code rather than guess. If it happens reproducibly, it deserves an entry of its own (docs/explain.md).',
  },

  unknown: {
    title: 'No explanation for this yet',
    whatHappened:
      'mitm-lab recorded this for {host} but has no teaching entry for it. What is known: {code} - {raw}.',
    handshakeStep: 'Not identified.',
    whatClientsShow: {
      browser: 'not known for this case.',
      curl: 'not known for this case.',
      node: 'not known for this case.',
      python: 'not known for this case.',
    },
    lesson:
      'An honest "we do not know" beats a wrong lesson. The raw details are above; see docs/explain.md to add an entry.',
  },
} as const satisfies Record<ExplanationKey, Explanation>;
