// Classifies how a client's TLS attempt against a forged certificate ended, when no request
// arrived. Classify, don't throw: every input maps to one RejectOutcome, and the raw error is
// kept so an unexpected case is still reported honestly (mockttp's closed cause union and
// silent-close heuristic, mitmproxy's on_handshake_error, are the models).
//
// What real clients do differs (ENGINE-NOTES.md): curl, Python and `openssl s_client` send alert
// 48 unknown_ca; Chromium always 46 certificate_unknown; Node's TLS 1.3 client sends no alert
// and resets ("socket hang up"); Node TLS 1.2, Firefox TLS 1.2 and GnuTLS finish the handshake
// and then close without a request.
import type { RejectOutcome } from '../events/types.ts';
import { alertByCode, TLS_ALERTS, type TlsAlert } from './tls-alerts.ts';

export { TLS_ALERTS, type TlsAlert } from './tls-alerts.ts';

/**
 * OpenSSL's reason phrases for alerts it received, where the phrase is not simply the IANA name
 * with spaces (OpenSSL spells `user cancelled`, and predates the `_RESERVED` renames).
 */
const OPENSSL_ALERT_PHRASES: Readonly<Record<string, number>> = {
  'user cancelled': 90,
  'decryption failed': 21,
  'decompression failure': 30,
  'no certificate': 41,
  'export restriction': 60,
  'no renegotiation': 100,
  'certificate unobtainable': 111,
  'bad certificate hash value': 114,
};

/** IANA name (without `_RESERVED`) → code, to read OpenSSL phrases such as `unknown ca`. */
const CODE_BY_PHRASE: ReadonlyMap<string, number> = new Map(
  Object.entries(TLS_ALERTS).map(([code, name]) => [
    name.replace(/_RESERVED$/, '').replace(/_/g, ' '),
    Number(code),
  ]),
);

function errorText(err: unknown): { code: string; message: string; reason: string } {
  if (err === null || err === undefined) return { code: '', message: '', reason: '' };
  if (typeof err === 'string') return { code: '', message: err, reason: '' };
  if (typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; reason?: unknown };
    return {
      code: typeof e.code === 'string' ? e.code : '',
      message: typeof e.message === 'string' ? e.message : String(err),
      reason: typeof e.reason === 'string' ? e.reason : '',
    };
  }
  return { code: '', message: String(err), reason: '' };
}

/** The raw text kept for honesty: `CODE: message`, or just the message when it names the code. */
function rawText(err: unknown): string {
  const { code } = errorText(err);
  const message = errorText(err).message.trim();
  if (!code) return message;
  if (!message || message.includes(code)) return code;
  return `${code}: ${message}`;
}

/**
 * The alert a peer sent, as OpenSSL reports it through a Node error: the code
 * (`ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`), the reason (`tlsv1 alert unknown ca`), the message
 * (`…:SSL alert number 48`) or a bare OpenSSL reason name (`SSLV3_ALERT_CERTIFICATE_UNKNOWN`).
 * Null when the error is not about a received alert (e.g. our own `no shared cipher`).
 */
export function alertFromError(err: unknown): TlsAlert | null {
  const { code, message, reason } = errorText(err);
  const number = /alert number (\d{1,3})\b/i.exec(message);
  if (number) return alertByCode(Number(number[1]));
  for (const text of [code, reason, message]) {
    const phrase = text.toLowerCase().replace(/_/g, ' ');
    // OpenSSL names received alerts `sslv3 alert …`, `tlsv1 alert …`, `tlsv13 alert …`, and a few
    // without the word alert (`tlsv1 unrecognized name`); `ssl/tls alert …` for the rest.
    const m =
      /\b(?:sslv3|tlsv1|tlsv13) (?:alert )?([a-z ]+?)\s*(?::|$|\()/.exec(phrase) ??
      /\bssl\/tls alert ([a-z ]+?)\s*(?::|$|\()/.exec(phrase);
    if (!m?.[1]) continue;
    const name = m[1].trim();
    const known = OPENSSL_ALERT_PHRASES[name] ?? CODE_BY_PHRASE.get(name);
    if (known !== undefined) return alertByCode(known);
  }
  return null;
}

/** Alerts that mean "we could not agree on a version or cipher", not "I refuse your certificate". */
const NEGOTIATION_ALERTS: ReadonlySet<number> = new Set([70, 71, 86]);

/** OpenSSL reasons (as in codes `ERR_SSL_<REASON>` or in messages) for failed negotiation. */
const NO_SHARED_PATTERNS: readonly RegExp[] = [
  /no shared cipher/,
  /no ciphers available/,
  /no shared signature algorithms/,
  /no suitable signature algorithm/,
  /no suitable key share/,
  /no shared groups/,
  /unsupported protocol/,
  /unsupported ssl version/,
  /version too (?:low|high)/,
  /no protocols available/,
  /wrong version number/,
  /inappropriate fallback/,
];

/** OpenSSL reasons for bytes that are not a TLS handshake at all. */
const NOT_TLS_PATTERNS: readonly RegExp[] = [
  /http request/,
  /https proxy request/,
  /unknown protocol/,
  /packet length too long/,
  /not a tls stream/,
];

const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['ETIMEDOUT', 'ERR_TLS_HANDSHAKE_TIMEOUT']);

/** What the engine knows when a client's TLS attempt ended without a request. */
export interface TlsFailureInput {
  /** The error Node reported (`tlsClientError`, socket 'error'), if any. */
  error?: unknown;
  /** The alert the client sent, as read in clear on the wire (WireTap.clientAlert()). */
  clientAlert?: TlsAlert | null;
  /** True when the TLS handshake completed (secureConnection) before the end. */
  handshakeDone: boolean;
  /** True when the engine gave up waiting (handshake or first request timer). */
  timedOut?: boolean;
}

/** The classification: one outcome, the client's alert if any, and the raw text kept. */
export interface TlsFailure {
  outcome: RejectOutcome;
  alert: TlsAlert | null;
  raw: string;
}

/**
 * Name how a TLS attempt ended. The order matters: a timeout is a timeout whatever error the
 * teardown produced; an alert seen on the wire is the best evidence of why the client left;
 * then OpenSSL's own reasons; then resets and silent closes, judged by whether the handshake
 * had finished (a completed handshake then a close is "probably refused" — browsers also open
 * connections they never use, so the caller words it carefully).
 */
export function classifyTlsFailure(input: TlsFailureInput): TlsFailure {
  const { error, handshakeDone } = input;
  const { code, message, reason } = errorText(error);
  const raw = rawText(error);
  const alert = input.clientAlert ?? alertFromError(error);
  const haystack = [code.replace(/^ERR_SSL_/, '').replace(/_/g, ' '), reason, message]
    .join('\n')
    .toLowerCase();

  if (input.timedOut || TIMEOUT_CODES.has(code) || /\btimed? ?out\b/.test(haystack)) {
    return { outcome: 'timeout', alert, raw: raw || 'timed out' };
  }
  if (alert) {
    const outcome = NEGOTIATION_ALERTS.has(alert.code) ? 'no-shared-version-or-cipher' : 'alert';
    return { outcome, alert, raw: raw || `alert ${alert.code} ${alert.name} (seen on the wire)` };
  }
  if (NO_SHARED_PATTERNS.some((p) => p.test(haystack))) {
    return { outcome: 'no-shared-version-or-cipher', alert: null, raw };
  }
  if (NOT_TLS_PATTERNS.some((p) => p.test(haystack))) {
    return { outcome: 'not-tls', alert: null, raw };
  }
  const reset = RESET_CODES.has(code) || /socket hang up|disconnected before secure/.test(haystack);
  if (reset || error === undefined || error === null) {
    if (handshakeDone) {
      return {
        outcome: 'closed-after-handshake',
        alert: null,
        raw: raw || 'closed after the handshake without a request',
      };
    }
    return {
      outcome: 'reset-during-handshake',
      alert: null,
      raw: raw || 'closed during the handshake without an alert',
    };
  }
  return { outcome: 'unknown', alert: null, raw: raw || String(error) };
}
