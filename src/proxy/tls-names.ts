// One spelling for TLS versions and cipher suites in events, whoever saw them: Node's sockets
// say `TLSv1.3` and OpenSSL's cipher names (`ECDHE-RSA-AES128-GCM-SHA256`); the wire parser
// says `TLS 1.3` and the IANA names (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`) that RFCs,
// Wireshark and the ClientHello list use. Events use the wire's: `TLS 1.3`, IANA names.
import type tls from 'node:tls';

/** Node's protocol name in the events' spelling (`TLSv1.3` → `TLS 1.3`, `TLSv1` → `TLS 1.0`). */
export function tlsVersionName(protocol: string | null | undefined): string | null {
  if (!protocol) return null;
  const m = /^TLSv1(?:\.(\d))?$/.exec(protocol);
  return m ? `TLS 1.${m[1] ?? '0'}` : protocol; // SSLv3 and unknowns stay as Node says them
}

/** A socket's negotiated version and cipher suite, in the events' spelling. */
export function negotiated(socket: tls.TLSSocket): {
  protocol: string | null;
  cipher: string | null;
} {
  const c = socket.getCipher() as
    (tls.CipherNameAndProtocol & { standardName?: string }) | undefined;
  return {
    protocol: tlsVersionName(socket.getProtocol()),
    cipher: c ? (c.standardName ?? c.name) : null,
  };
}
