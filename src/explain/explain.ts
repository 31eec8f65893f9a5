// Event (or flow) → catalog key → explanation with its `{slots}` filled. The only logic of the
// explain layer lives here; the teaching text is in catalog.ts.
import type {
  ProxyEvent,
  RejectOutcome,
  TlsClientHelloEvent,
  TlsClientRejectedEvent,
  TunnelReason,
  TunnelSummaryEvent,
  UpstreamErrorEvent,
  Visibility,
} from '../events/types.ts';
import { assertNever } from '../events/types.ts';
import {
  ALERT_CODES,
  CATALOG,
  UPSTREAM_CODES,
  type AlertCode,
  type ExplanationKey,
  type UpstreamCode,
} from './catalog.ts';
import { SLOTS, type Explanation, type SlotName, type SlotValues } from './explanation.ts';

/**
 * What explain() needs of a flow. The store's `Flow` has this shape; explain/ may not import
 * store/ (test/architecture.test.ts), so it is spelled out structurally here.
 */
export interface ExplainableFlow {
  kind: 'http' | 'tls';
  host: string;
  port: number | null;
  visibility: Visibility | null;
  upstreamError: UpstreamErrorEvent | null;
  conn: {
    hello: TlsClientHelloEvent | null;
    rejected: TlsClientRejectedEvent | null;
    tunnel: TunnelSummaryEvent | null;
  };
}

/** Node error codes that mean the same lesson as one with an entry. */
const CODE_ALIASES: Readonly<Record<string, UpstreamCode>> = {
  EAI_AGAIN: 'ENOTFOUND',
  ECONNABORTED: 'ECONNRESET',
  EPIPE: 'ECONNRESET',
  ESOCKETTIMEDOUT: 'ETIMEDOUT',
  ENETUNREACH: 'EHOSTUNREACH',
  HOSTNAME_MISMATCH: 'ERR_TLS_CERT_ALTNAME_INVALID',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  ERR_SSL_NO_SHARED_CIPHER: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
};

/** EPROTO carries the OpenSSL reason only in its message: these name the specific entry. */
const EPROTO_MESSAGES: ReadonlyArray<[RegExp, UpstreamCode]> = [
  [/wrong version number/i, 'ERR_SSL_WRONG_VERSION_NUMBER'],
  [
    /protocol version|unsupported protocol|no protocols available/i,
    'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  ],
  [/handshake failure|no shared cipher/i, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'],
];

/** The entry for a TLS alert, when the catalog has one for that code. */
function alertKey(alertCode: number | null): ExplanationKey | null {
  if (alertCode !== null && (ALERT_CODES as readonly number[]).includes(alertCode))
    return `reject.alert.${alertCode as AlertCode}`;
  return null;
}

/** The catalog key for a client's refusal of the forged certificate. */
export function rejectKey(outcome: RejectOutcome, alertCode: number | null): ExplanationKey {
  switch (outcome) {
    case 'alert':
      return alertKey(alertCode) ?? 'reject.alert.other';
    case 'closed-after-handshake':
    case 'reset-during-handshake':
    case 'timeout':
    case 'no-shared-version-or-cipher':
    case 'not-tls':
    case 'unknown':
      // An alert carried with another outcome still says the most: prefer its entry.
      return alertKey(alertCode) ?? `reject.${outcome}`;
    default:
      return assertNever(outcome, 'reject outcome');
  }
}

/** The catalog key for a tunnel. */
export function tunnelKey(reason: TunnelReason): ExplanationKey {
  switch (reason) {
    case 'mode-eavesdrop':
    case 'auto-refused-before':
    case 'outside-name-constraints':
    case 'not-tls':
    case 'mint-failed':
      return `tunnel.${reason}`;
    default:
      return assertNever(reason, 'tunnel reason');
  }
}

/** The catalog key for an upstream failure, from its code (and message, for EPROTO). */
export function upstreamKey(code: string, message = ''): ExplanationKey {
  if (code === 'EPROTO' || code.startsWith('ERR_SSL')) {
    for (const [re, key] of EPROTO_MESSAGES) if (re.test(message)) return `upstream.${key}`;
  }
  if ((UPSTREAM_CODES as readonly string[]).includes(code))
    return `upstream.${code as UpstreamCode}`;
  const alias = CODE_ALIASES[code];
  if (alias) return `upstream.${alias}`;
  return 'upstream.other';
}

/** True for a flow (as opposed to an event). */
function isFlow(x: ProxyEvent | ExplainableFlow): x is ExplainableFlow {
  return 'kind' in x && 'conn' in x;
}

/** The catalog key for an event or a flow; `unknown` when nothing fits. */
export function keyFor(x: ProxyEvent | ExplainableFlow): ExplanationKey {
  if (isFlow(x)) {
    if (x.upstreamError) return upstreamKey(x.upstreamError.code, x.upstreamError.message);
    if (x.kind === 'tls') {
      if (x.conn.rejected)
        return rejectKey(x.conn.rejected.outcome, x.conn.rejected.alert?.code ?? null);
      if (x.conn.tunnel) return tunnelKey(x.conn.tunnel.reason);
      return 'unknown';
    }
    if (x.visibility === 'wire') return 'http.plaintext';
    if (x.visibility === 'proxy-only') return 'https.decrypted';
    return 'unknown';
  }
  switch (x.type) {
    case 'tls.client-rejected':
      return rejectKey(x.outcome, x.alert?.code ?? null);
    case 'tunnel.summary':
      return tunnelKey(x.reason);
    case 'upstream.error':
      return upstreamKey(x.code, x.message);
    case 'http.request':
    case 'http.response':
    case 'ws.message':
      return x.visibility === 'wire' ? 'http.plaintext' : 'https.decrypted';
    case 'tls.client-accepted':
      return 'https.decrypted';
    default:
      return 'unknown';
  }
}

/** The slot values an event or flow provides. */
function slotsOf(x: ProxyEvent | ExplainableFlow): SlotValues {
  if (isFlow(x)) {
    const r = x.conn.rejected;
    const up = x.upstreamError;
    return {
      host: x.host || x.conn.hello?.sni || x.conn.hello?.host || null,
      port: up?.port ?? x.port ?? x.conn.hello?.port ?? null,
      code: up?.code ?? r?.outcome ?? null,
      raw: up?.message ?? r?.raw ?? null,
      alertCode: r?.alert?.code ?? null,
      alertName: r?.alert?.name ?? null,
      client: r?.clientHint ?? x.conn.hello?.clientHint ?? null,
    };
  }
  const values: SlotValues = {};
  if ('host' in x) values.host = x.host;
  if ('port' in x) values.port = x.port;
  switch (x.type) {
    case 'tls.client-rejected':
      values.code = x.outcome;
      values.raw = x.raw;
      values.alertCode = x.alert?.code ?? null;
      values.alertName = x.alert?.name ?? null;
      values.client = x.clientHint;
      break;
    case 'upstream.error':
      values.code = x.code;
      values.raw = x.message;
      break;
    case 'diag':
      values.code = x.source;
      values.raw = x.message;
      break;
    default:
      break;
  }
  return values;
}

/** Replace every `{slot}` with its value, or the slot's stand-in when the value is missing. */
export function fillSlots(text: string, values: SlotValues): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    if (!(name in SLOTS)) return whole;
    const v = values[name as SlotName];
    return v === null || v === undefined || v === '' ? SLOTS[name as SlotName] : String(v);
  });
}

/** A catalog entry with its slots filled, plus the key it came from. */
export interface FilledExplanation extends Explanation {
  key: ExplanationKey;
}

/** Fill one entry. */
export function fillExplanation(key: ExplanationKey, values: SlotValues): FilledExplanation {
  const e: Explanation = CATALOG[key];
  const f = (t: string) => fillSlots(t, values);
  const out: FilledExplanation = {
    key,
    title: f(e.title),
    whatHappened: f(e.whatHappened),
    handshakeStep: f(e.handshakeStep),
    whatClientsShow: {
      browser: f(e.whatClientsShow.browser),
      curl: f(e.whatClientsShow.curl),
      node: f(e.whatClientsShow.node),
      python: f(e.whatClientsShow.python),
    },
    lesson: f(e.lesson),
  };
  if (e.labEndpoint !== undefined) out.labEndpoint = f(e.labEndpoint);
  return out;
}

/** The explanation for an event or a flow, slots filled. Never throws; unknown → generic entry. */
export function explain(x: ProxyEvent | ExplainableFlow): FilledExplanation {
  return fillExplanation(keyFor(x), slotsOf(x));
}
