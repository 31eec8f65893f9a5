// Event (or flow) → catalog key → explanation with its `{slots}` filled. The only logic of the
// explain layer lives here; the teaching text is in catalog.ts.
import type {
  ClientVerdict,
  ProxyEvent,
  RejectOutcome,
  TlsClientAcceptedEvent,
  TlsClientHelloEvent,
  TlsForgedEvent,
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
  HSTS_SEEN,
  CAUSE_IDS,
  CAUSES,
  REAL_SERVER_FAMILIES,
  RULES,
  UPSTREAM_CODES,
  VERDICTS,
  type AlertCode,
  type CauseId,
  type ExplanationKey,
  type UpstreamCode,
} from './catalog.ts';
import {
  CLIENT_NAMES,
  SLOTS,
  type ClientLines,
  type ClientName,
  type ClientShows,
  type Explanation,
  type RuleId,
  type SlotName,
  type SlotValues,
} from './explanation.ts';

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
    /** Optional: what mitm-lab forged for this connection (rules causes out). */
    forged?: TlsForgedEvent | null;
    /** Optional: the accepted handshake (its negotiated version picks the handshake text). */
    accepted?: TlsClientAcceptedEvent | null;
  };
  /**
   * Optional: for a refused connection, the Strict-Transport-Security header the proxy read
   * from this host earlier in a response it decrypted (the store remembers it from events).
   */
  hsts?: { header: string; at: string } | null;
}

/**
 * What the composition root may tell explain() beyond the events: the lab's own knowledge of
 * its hosts (explain/ may not import lab/). A lab host's known defect is named in the text, and
 * narrows a tunnel's causes to it.
 */
export interface ExplainContext {
  /** For a lab gallery host: its problem in words, and the catalog cause it is. */
  labHost?: (host: string) => { problem: string; cause: string } | null;
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
    case 'ws.handshake':
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

/** One cause of a family, as explain() judged it for this case. */
export interface FilledCause {
  id: CauseId;
  title: string;
  text: string;
  /** Why the proxy can rule it out (a sentence), or null when it remains possible. */
  ruledOut: string | null;
  /** What each client shows for this cause (slots filled). */
  clients: ClientLineLists;
}

/** Client lines, each client's as a list (the alternatives still possible). */
export type ClientLineLists = Partial<Record<ClientName, ClientShows[]>>;

/** A catalog entry with its slots filled, its causes judged, plus the key it came from. */
export interface FilledExplanation {
  key: ExplanationKey;
  title: string;
  whatHappened: string;
  handshakeStep: string;
  /** A tunnel: what the client made of the real server, from the bytes; else null. */
  verdict: string | null;
  /** The causes this signal covers, each possible or ruled out. Empty when the entry names one. */
  causes: FilledCause[];
  /** What each client shows in this case: the entry's lines and those of every remaining cause. */
  clients: ClientLineLists;
  /** Upstream failures: what each client shows without the proxy. Null otherwise. */
  directly: ClientLineLists | null;
  lesson: string;
  labEndpoint?: string;
  /** A refusal on a host the proxy saw send HSTS earlier: what that changes. Null otherwise. */
  hsts: FilledHstsNote | null;
}

/** HSTS_SEEN with its slots filled. */
export interface FilledHstsNote {
  title: string;
  text: string;
  clients: ClientLineLists;
  lesson: string;
}

function fillShows(s: ClientShows, values: SlotValues): ClientShows {
  const out: ClientShows = { ...s };
  if (s.says !== undefined) out.says = fillSlots(s.says, values);
  if (s.note !== undefined) out.note = fillSlots(s.note, values);
  return out;
}

/** Merge client lines into `into`, slots filled, without repeating an identical line. */
function addLines(into: ClientLineLists, lines: ClientLines | undefined, values: SlotValues): void {
  if (!lines) return;
  for (const name of CLIENT_NAMES) {
    const l = lines[name];
    if (l === undefined) continue;
    const list = (into[name] ??= []);
    for (const one of Array.isArray(l) ? (l as readonly ClientShows[]) : [l as ClientShows]) {
      const filled = fillShows(one, values);
      if (!list.some((x) => JSON.stringify(x) === JSON.stringify(filled))) list.push(filled);
    }
  }
}

/** Drop the lines that say a client succeeded (for a case where it did not). */
function dropSuccesses(lines: ClientLineLists): void {
  for (const name of CLIENT_NAMES) {
    const kept = lines[name]?.filter((l) => l.outcome !== 'ok');
    if (kept === undefined) continue;
    if (kept.length > 0) lines[name] = kept;
    else delete lines[name];
  }
}

/** Merge already-filled lists into `into`, without repeating an identical line. */
function mergeLines(into: ClientLineLists, from: ClientLineLists): void {
  for (const name of CLIENT_NAMES) {
    for (const l of from[name] ?? []) {
      const list = (into[name] ??= []);
      if (!list.some((x) => JSON.stringify(x) === JSON.stringify(l))) list.push(l);
    }
  }
}

/** Spell a TLS version one way (events say `TLS 1.3`; events files from before say `TLSv1.3`). */
function versionName(v: string | null | undefined): 'TLS 1.3' | 'TLS 1.2' | null {
  if (!v) return null;
  const m = /1\.([23])$/.exec(v.replace(/^TLSv/, 'TLS '));
  return m ? (`TLS 1.${m[1]}` as 'TLS 1.3' | 'TLS 1.2') : null;
}

/** Key sizes below this are weak for some common client (OpenSSL security level 2). */
const MIN_RSA_BITS = 2048;

/** Which facts about the forged certificate hold for this flow. */
function forgeryFacts(flow: ExplainableFlow | null, at: string | null): Set<RuleId> {
  const facts = new Set<RuleId>();
  const cert = flow?.conn.forged?.certificate;
  if (!flow || !cert) return facts;
  const host = flow.conn.forged?.sni ?? flow.host;
  if (cert.sans.includes(`DNS:${host}`) || cert.sans.includes(`IP:${host}`))
    facts.add('forged-names-host');
  const when = at ? Date.parse(at) : NaN;
  if (
    Number.isFinite(when) &&
    Date.parse(cert.notBefore) <= when &&
    when <= Date.parse(cert.notAfter)
  )
    facts.add('forged-valid-now');
  const rsa = /^RSA (\d+)/.exec(cert.key);
  if (rsa ? Number(rsa[1]) >= MIN_RSA_BITS : /^(EC|ECDSA|Ed25519)/i.test(cert.key))
    facts.add('forged-key-strong');
  if (!cert.selfSigned) facts.add('forged-signed-by-ca');
  // A forged certificate exists only inside the name constraints (outside, the proxy tunnels).
  facts.add('forged-within-constraints');
  return facts;
}

function isCause(id: string): id is CauseId {
  return (CAUSE_IDS as readonly string[]).includes(id);
}

/** A tunnel's verdict: its text key, and the causes of the real server it can stand for. */
function verdictFamily(v: ClientVerdict): {
  text: keyof typeof VERDICTS;
  causes: readonly CauseId[];
} {
  switch (v.outcome) {
    case 'accepted':
      return { text: 'accepted', causes: [] };
    case 'alert': {
      const who = v.sentBy === 'server' ? 'server' : 'client';
      const family = `${who}-alert.${v.alert?.code ?? 0}`;
      const causes =
        family in REAL_SERVER_FAMILIES
          ? REAL_SERVER_FAMILIES[family as keyof typeof REAL_SERVER_FAMILIES]
          : REAL_SERVER_FAMILIES['hang-up'];
      return { text: who === 'server' ? 'server-alert' : 'client-alert', causes };
    }
    case 'encrypted-alert':
    case 'closed':
    case 'reset':
      return { text: v.outcome, causes: REAL_SERVER_FAMILIES['hang-up'] };
    case 'unknown':
      return { text: 'unknown', causes: [] };
    default:
      return assertNever(v.outcome, 'verdict outcome');
  }
}

/** Fill one entry for a case: slots, the causes judged against `facts`, the client lines. */
export function fillExplanation(
  key: ExplanationKey,
  values: SlotValues,
  more: {
    facts?: ReadonlySet<RuleId>;
    version?: 'TLS 1.3' | 'TLS 1.2' | null;
    verdict?: ClientVerdict | null;
    labCause?: CauseId | null;
  } = {},
): FilledExplanation {
  const e: Explanation<CauseId> = CATALOG[key];
  const f = (t: string) => fillSlots(t, values);
  const facts = more.facts ?? new Set<RuleId>();
  let causeIds: readonly CauseId[] = e.causes ?? [];
  let verdict: string | null = null;
  const clients: ClientLineLists = {};
  addLines(clients, e.clients, values);
  const refused = more.verdict ? more.verdict.outcome !== 'accepted' : key.startsWith('reject.');
  if (more.verdict) {
    const fam = verdictFamily(more.verdict);
    verdict = f(VERDICTS[fam.text]);
    causeIds = fam.causes;
    if (more.verdict.outcome === 'accepted') addLines(clients, ALL_OK_LINES, values);
  }
  const causes: FilledCause[] = causeIds.map((id) => {
    const c = CAUSES[id];
    const rule = 'ruledOutBy' in c ? c.ruledOutBy : undefined;
    let ruledOut: string | null = rule && facts.has(rule) ? f(RULES[rule]) : null;
    if (ruledOut === null && more.labCause && id !== more.labCause && id !== 'client-clock')
      ruledOut = f('the lab made {host} with another defect: {labProblem}');
    const lines: ClientLineLists = {};
    addLines(lines, c.clients, values);
    // The client did not get through: a cause under which a client would have succeeded says
    // nothing about this one (wget accepts a weak key, so its refusal here was something else).
    if (refused) dropSuccesses(lines);
    return { id, title: f(c.title), text: f(c.text), ruledOut, clients: lines };
  });
  for (const c of causes) if (c.ruledOut === null) mergeLines(clients, c.clients);
  let directly: ClientLineLists | null = null;
  if (e.directly) {
    directly = {};
    addLines(directly, e.directly, values);
  }
  const step = (more.version && e.handshakeStepByVersion?.[more.version]) ?? e.handshakeStep;
  const out: FilledExplanation = {
    key,
    title: f(e.title),
    whatHappened: f(e.whatHappened),
    handshakeStep: f(step),
    verdict,
    causes,
    clients,
    directly,
    lesson: f(e.lesson),
    hsts: null,
  };
  if (e.labEndpoint !== undefined) out.labEndpoint = f(e.labEndpoint);
  return out;
}

/** What every client shows when the request simply succeeds. */
const ALL_OK_LINES: ClientLines = CATALOG['https.decrypted'].clients;

/** The explanation for an event or a flow, slots filled. Never throws; unknown → generic entry. */
export function explain(
  x: ProxyEvent | ExplainableFlow,
  ctx: ExplainContext = {},
): FilledExplanation {
  const key = keyFor(x);
  const values = slotsOf(x);
  const flow = isFlow(x) ? x : null;
  const event = flow ? null : (x as ProxyEvent);
  const tunnel = flow
    ? flow.kind === 'tls'
      ? flow.conn.tunnel
      : null
    : event?.type === 'tunnel.summary'
      ? event
      : null;
  const rejectedAt =
    flow?.conn.rejected?.at ?? (event?.type === 'tls.client-rejected' ? event.at : null);
  const lab = values.host ? (ctx.labHost?.(String(values.host)) ?? null) : null;
  if (lab) values.labProblem = lab.problem;
  if (tunnel?.clientVerdict) values.evidence = tunnel.clientVerdict.evidence;
  const forged = flow?.conn.forged?.certificate;
  if (forged) {
    values.notBefore = forged.notBefore.slice(0, 10);
    values.notAfter = forged.notAfter.slice(0, 10);
  }
  const filled = fillExplanation(key, values, {
    facts: key.startsWith('reject.') ? forgeryFacts(flow, rejectedAt) : new Set(),
    version: versionName(flow?.conn.accepted?.protocol ?? tunnel?.tlsVersion),
    verdict: tunnel?.clientVerdict ?? null,
    labCause: lab && tunnel && isCause(lab.cause) ? lab.cause : null,
  });
  const hsts = key.startsWith('reject.') ? (flow?.hsts ?? null) : null;
  if (hsts) {
    values.hstsHeader = hsts.header;
    values.hstsSeenAt = `${hsts.at.replace('T', ' ').slice(0, 19)} UTC`;
    const clients: ClientLineLists = {};
    addLines(clients, HSTS_SEEN.clients, values);
    filled.hsts = {
      title: fillSlots(HSTS_SEEN.title, values),
      text: fillSlots(HSTS_SEEN.text, values),
      clients,
      lesson: fillSlots(HSTS_SEEN.lesson, values),
    };
  }
  if (lab && (tunnel || key.startsWith('upstream.')))
    filled.whatHappened += fillSlots(
      ' The lab made {host} this way on purpose: {labProblem}',
      values,
    );
  return filled;
}
