// The client's verdict on a tunnel, read off the bytes alone, as a passive observer would.
//
// A tunnelled connection is the real one, end to end: the proxy holds no keys. Yet the record
// layer still says whether the client accepted the real server's certificate:
// - an alert in clear: TLS 1.2 sends every handshake alert in clear; in TLS 1.3 OpenSSL-based
//   clients (curl, Python, `openssl s_client`) still send a certificate alert in clear, because
//   they refuse before switching to handshake keys;
// - an encrypted alert, told by its size: in TLS 1.3 the client's first encrypted record after
//   the server's flight is either its Finished (a 4-byte header + a 32- or 48-byte MAC, plus the
//   content type and a 16-byte AEAD tag: 53 bytes or more) or an alert (2 bytes + content type +
//   16-byte tag = 19 bytes; 11 with the 8-byte tag of TLS_AES_128_CCM_8_SHA256). In TLS 1.2 the
//   record type stays visible: an `alert` record after ChangeCipherSpec is an encrypted alert;
//   - application data from the client after its Finished: it accepted and sent a request;
// - otherwise how the connection ended: closed, or reset, without a request.
import type { ClientVerdict, TlsRecord } from '../events/types.ts';

/** How a tunnel's client side ended, as the proxy saw it. */
export type TunnelEnding = 'client-closed' | 'client-reset' | 'server-closed' | 'open';

/** Payload length of an encrypted TLS 1.3 alert: 2 bytes + content type + 16-byte AEAD tag. */
const ENCRYPTED_ALERT_LENGTH = 19;
/** The same with an 8-byte tag (TLS_AES_128_CCM_8_SHA256, RFC 8446 §B.4). */
const ENCRYPTED_ALERT_LENGTH_CCM8 = 11;

function isEncryptedAlertSize(length: number): boolean {
  return length === ENCRYPTED_ALERT_LENGTH || length === ENCRYPTED_ALERT_LENGTH_CCM8;
}

function endedWithoutRequest(ending: TunnelEnding, after: string): ClientVerdict {
  if (ending === 'client-reset')
    return { outcome: 'reset', evidence: `${after}, then the client reset the connection` };
  if (ending === 'client-closed')
    return { outcome: 'closed', evidence: `${after}, then the client closed without a request` };
  return {
    outcome: 'unknown',
    evidence: `${after}; the ${ending === 'server-closed' ? 'server' : 'connection'} ended before the client sent anything more`,
  };
}

/**
 * The verdict from a tunnel's records (both directions, in order, as the wire tap keeps them),
 * the negotiated version (`TLS 1.3`…) and how the connection ended. Pure: same input, same verdict.
 */
export function clientVerdict(
  records: readonly TlsRecord[],
  tlsVersion: string | null,
  ending: TunnelEnding,
): ClientVerdict {
  const firstDown = records.findIndex((r) => r.dir === 'down');
  if (firstDown < 0) {
    const sent = records.some((r) => r.dir === 'up');
    return {
      outcome: 'unknown',
      evidence: sent
        ? 'the server never answered the ClientHello'
        : 'no TLS record crossed the tunnel',
    };
  }
  // An alert from the server before the client said anything more: the server refused.
  const tls13 = tlsVersion === 'TLS 1.3';
  let finished = false;
  let clientRecordsAfterServer = 0;
  for (let i = firstDown; i < records.length; i++) {
    const r = records[i]!;
    if (r.dir === 'down') {
      if (r.alert && r.alert.level === 'fatal' && clientRecordsAfterServer === 0 && !finished)
        return {
          outcome: 'alert',
          sentBy: 'server',
          alert: { ...r.alert },
          evidence: `the server sent alert ${r.alert.level} ${r.alert.code} ${r.alert.name} in clear`,
        };
      continue;
    }
    clientRecordsAfterServer++;
    if (r.alert) {
      if (r.alert.level === 'warning' && r.alert.code === 0) continue; // close_notify: not a verdict
      return {
        outcome: 'alert',
        sentBy: 'client',
        alert: { ...r.alert },
        evidence: `the client sent alert ${r.alert.level} ${r.alert.code} ${r.alert.name} in clear${finished ? ' after the handshake' : " after the server's certificate"}`,
      };
    }
    if (r.contentType === 'change_cipher_spec') continue;
    if (tls13) {
      if (r.contentType !== 'application_data') continue;
      if (!finished) {
        if (isEncryptedAlertSize(r.length))
          return {
            outcome: 'encrypted-alert',
            sentBy: 'client',
            evidence: `the client's first encrypted record after the server's flight is ${r.length} bytes: the size of an encrypted alert, not of a Finished`,
          };
        finished = true;
        continue;
      }
      if (isEncryptedAlertSize(r.length)) continue; // a close_notify after Finished
      return {
        outcome: 'accepted',
        evidence: `the client finished the handshake and sent ${r.length} bytes of application data`,
      };
    }
    // TLS 1.2 and older: record types stay visible after ChangeCipherSpec.
    if (r.contentType === 'handshake') {
      if (r.handshake?.some((h) => h.startsWith('Finished'))) finished = true;
      continue;
    }
    if (r.contentType === 'alert')
      return {
        outcome: 'encrypted-alert',
        sentBy: 'client',
        evidence: `the client sent an encrypted alert record (${r.length} bytes)${finished ? ' right after its Finished' : ''}, before any request`,
      };
    if (r.contentType === 'application_data')
      return {
        outcome: 'accepted',
        evidence: `the client finished the handshake and sent ${r.length} bytes of application data`,
      };
  }
  return endedWithoutRequest(
    ending,
    finished ? 'the client finished the handshake' : 'the server sent its flight',
  );
}
