// The scripted victim: browses the lab through the proxy the way a person would — logs in over
// plain HTTP, then over HTTPS, uses the API and the chat, then visits every gallery host — and
// says after each step what the client experienced, in the client's own words. The tour itself
// is data (./steps.ts); this file runs each kind of action and words the outcome.
//
// The `normal` profile trusts only the lab public root (a healthy device: it trusts "the public
// web PKI"); `compromised` also trusts the mitm-lab CA (a corporate or infected device). A step
// refused on its first attempt is retried once, like a user pressing reload: in the proxy's
// `auto` mode the first refusal makes the proxy tunnel that host, so the retry reaches the real
// server — the victim makes that visible.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  BROWSER_EQUIVALENT,
  LAB_INTERMEDIATE_CN,
  LANDLORD,
  VICTIM_ACCOUNT,
  type GalleryEntry,
} from '../lab/index.ts';
import {
  ClientFailure,
  openWebSocket,
  request,
  type Exchange,
  type ProxyAddress,
  type TlsSeen,
} from './proxy-client.ts';
import type {
  TransferSeen,
  VictimOutcome,
  VictimProfile,
  VictimRecord,
  VictimStepRecord,
} from './types.ts';
import { BANK, TOUR, type StepAction, type StepSpec } from './steps.ts';
import { say } from './text.ts';

/** How each outcome is headlined in the printed tour. */
const HEADLINE: Record<VictimOutcome, string> = {
  ok: 'ok',
  'refused-certificate': 'REFUSED the certificate',
  'tls-failed': 'TLS FAILED',
  'http-error': 'HTTP ERROR',
  'proxy-error': 'PROXY ERROR',
  timeout: 'TIMEOUT',
};

/** Pause before the retry: lets the proxy register the refusal, as a human reload would. */
const RETRY_DELAY_MS = 750;

/** Certificate-verification error codes (Node/OpenSSL): the client judged and refused the certificate. */
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'PERMITTED_SUBTREE_VIOLATION',
  'UNSPECIFIED', // Node's code for a name-constraint violation ("permitted subtree violation")
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
]);

export interface TrustedRoot {
  /** How the victim names it in its output, e.g. `mitm-lab Lab Public Root`. */
  name: string;
  pem: string;
}

export interface VictimOptions {
  proxy: ProxyAddress;
  profile: VictimProfile;
  /** The roots this device trusts. */
  trust: TrustedRoot[];
  /** One line for the person watching (no trailing newline). */
  print: (line: string) => void;
  /** The victim's own JSONL record (`--events`). */
  record?: (r: VictimRecord) => void;
  /** Awaited before each step: `demo` waits for Enter here. */
  beforeStep?: (index: number, total: number, title: string) => Promise<void>;
  /** Stop before the next step once aborted (the proxy is shutting down). */
  signal?: AbortSignal;
  /** Run only these step ids or groups (`gallery`); default all. */
  only?: string[];
}

export interface VictimSummary {
  steps: VictimStepRecord[];
  ok: number;
  refused: number;
  failed: number;
}

/** What a step's action reports when it got through. */
interface Done {
  said: string;
  status: number | null;
  tls: TlsSeen | null;
  sent: string[];
  /** A transfer step: what the victim was shown, and what the bank booked. */
  transfer?: TransferSeen;
}

/** Run one step's action (./steps.ts) through the proxy, trusting `ca`. */
function perform(proxy: ProxyAddress, action: StepAction, ca: string[]): Promise<Done> {
  switch (action.kind) {
    case 'login':
      return login(proxy, action.scheme, ca);
    case 'api':
      return api(proxy, ca);
    case 'chat':
      return chat(proxy, action.scheme, ca);
    case 'transfer':
      return transfer(proxy, action.scheme, ca);
    case 'gallery':
      return galleryPage(proxy, action.host, ca);
  }
}

/** Log in; the session cookie (null when none was set) and the exchange. */
async function logIn(
  proxy: ProxyAddress,
  scheme: 'http' | 'https',
  ca: string[],
): Promise<{ cookie: string | null; posted: Exchange }> {
  const form = new URLSearchParams({
    user: VICTIM_ACCOUNT.user,
    password: VICTIM_ACCOUNT.password,
  }).toString();
  const posted = await request(proxy, {
    method: 'POST',
    url: `${scheme}://${BANK}/login`,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: form,
    ca,
  });
  if (posted.status !== 303) return failedStatus(posted);
  const cookie = /session=([0-9a-f]+)/.exec(String(posted.headers['set-cookie'] ?? ''))?.[1];
  return { cookie: cookie ?? null, posted };
}

/** An input's value in a form, as a browser would send it. */
function inputValue(html: string, name: string): string {
  const m = new RegExp(`name="${name}"[^>]*\\svalue="([^"]*)"`).exec(html);
  return (m?.[1] ?? '')
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

async function transfer(
  proxy: ProxyAddress,
  scheme: 'http' | 'https',
  ca: string[],
): Promise<Done> {
  const base = `${scheme}://${BANK}`;
  const { cookie } = await logIn(proxy, scheme, ca);
  const headers = cookie ? { Cookie: `session=${cookie}` } : {};
  const page = await request(proxy, { method: 'GET', url: `${base}/transfer`, headers, ca });
  if (page.status !== 200) return failedStatus(page);
  // The form as the page filled it in: a person pays what the bank's page asks.
  const reference = `Rent ${randomBytes(3).toString('hex')}`;
  const form = {
    name: inputValue(page.body, 'name'),
    iban: inputValue(page.body, 'iban'),
    amount: inputValue(page.body, 'amount'),
    reference,
  };
  const sent = await request(proxy, {
    method: 'POST',
    url: `${base}/transfer`,
    headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    ca,
  });
  if (sent.status !== 200) return failedStatus(sent);
  const confirmed = /Sent <b>EUR ([^<]+)<\/b> to <b>([^<]+)<\/b>/.exec(sent.body);
  // The bank's own record of it, found by its reference.
  const ledger = await request(proxy, { method: 'GET', url: `${base}/api/transfers`, ca });
  const booked = (
    JSON.parse(ledger.body) as {
      transfers?: { iban: string; owner: string | null; amountCents: number; reference: string }[];
    }
  ).transfers?.find((t) => t.reference === reference);
  const seen: TransferSeen = {
    pageIban: form.iban,
    confirmedIban: confirmed?.[2] ?? null,
    confirmedAmount: confirmed?.[1] ?? null,
    bookedIban: booked?.iban ?? null,
    bookedOwner: booked?.owner ?? null,
    bookedAmount: booked ? (booked.amountCents / 100).toFixed(2) : null,
    toLandlord: booked?.iban === LANDLORD.iban,
  };
  return {
    said:
      `the page asked for EUR ${form.amount} to ${form.iban}; the confirmation said EUR ${seen.confirmedAmount ?? '?'} to ${seen.confirmedIban ?? '?'}; ` +
      `the bank's ledger booked ${seen.bookedAmount !== null ? `EUR ${seen.bookedAmount} to ${seen.bookedIban ?? '?'} (${seen.bookedOwner ?? 'unknown account'})` : 'nothing with that reference'}`,
    status: sent.status,
    tls: sent.tls ?? page.tls,
    sent: ['password', 'session cookie', 'transfer'],
    transfer: seen,
  };
}

async function login(proxy: ProxyAddress, scheme: 'http' | 'https', ca: string[]): Promise<Done> {
  const { cookie, posted } = await logIn(proxy, scheme, ca);
  const account = await request(proxy, {
    method: 'GET',
    url: `${scheme}://${BANK}/account`,
    headers: cookie ? { Cookie: `session=${cookie}` } : {},
    ca,
  });
  const balance = /Balance: <b>([^<]+)<\/b>/.exec(account.body)?.[1];
  return {
    said: `HTTP ${posted.status} ${posted.statusText} (session cookie set) → /account HTTP ${account.status} ${account.statusText}${balance ? `, balance ${balance}` : ''}`,
    status: account.status,
    tls: account.tls ?? posted.tls,
    sent: ['password', 'session cookie'],
  };
}

async function api(proxy: ProxyAddress, ca: string[]): Promise<Done> {
  const token = await request(proxy, {
    method: 'POST',
    url: `https://${BANK}/api/token`,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user: VICTIM_ACCOUNT.user, password: VICTIM_ACCOUNT.password }),
    ca,
  });
  if (token.status !== 200) return failedStatus(token);
  const accessToken = (JSON.parse(token.body) as { access_token?: string }).access_token ?? '';
  const balance = await request(proxy, {
    method: 'GET',
    url: `https://${BANK}/api/balance`,
    headers: { Authorization: `Bearer ${accessToken}` },
    ca,
  });
  const amount = /"balance":"([^"]+)"/.exec(balance.body)?.[1];
  return {
    said: `POST /api/token HTTP ${token.status} (bearer token) → GET /api/balance HTTP ${balance.status}${amount ? `, balance EUR ${amount}` : ''}`,
    status: balance.status,
    tls: balance.tls ?? token.tls,
    sent: ['password', 'bearer token'],
  };
}

// Browsers open WebSockets through a proxy with CONNECT, even plain ws:// (port 80).
async function chat(proxy: ProxyAddress, scheme: 'ws' | 'wss', ca: string[]): Promise<Done> {
  const { ws, tls, inbox } = await openWebSocket(proxy, `${scheme}://${BANK}/chat`, ca);
  try {
    const messages: string[] = [];
    // From the inbox: the support's greeting may have come with the 101.
    const next = () =>
      new Promise<string>((resolve, reject) => {
        const early = inbox.shift();
        if (early !== undefined) return resolve(early);
        const t = setTimeout(
          () => reject(new ClientFailure('timeout', 'ETIMEDOUT', 'no chat reply')),
          5000,
        );
        ws.once('message', () => {
          clearTimeout(t);
          resolve(inbox.shift() ?? '');
        });
      });
    messages.push(await next());
    ws.send('Hi, please move EUR 500 to my savings. My card PIN is 4321.');
    messages.push(await next());
    return {
      said: `WebSocket open; support said: "${messages[messages.length - 1]?.slice(0, 60) ?? ''}…"`,
      status: 101,
      tls,
      sent: ['chat message'],
    };
  } finally {
    ws.close();
  }
}

async function galleryPage(proxy: ProxyAddress, host: string, ca: string[]): Promise<Done> {
  const res = await request(proxy, { method: 'GET', url: `https://${host}/`, ca });
  if (res.status >= 400) return failedStatus(res);
  const hsts = res.headers['strict-transport-security'];
  return {
    said: `HTTP ${res.status} ${res.statusText}${hsts ? ` (Strict-Transport-Security: ${hsts})` : ''}`,
    status: res.status,
    tls: res.tls,
    sent: [],
  };
}

/** A response with an error status, reported as an HTTP failure (it carries the body's first line). */
class StatusFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly exchange: Exchange,
  ) {
    super(message);
  }
}

function failedStatus(res: Exchange): never {
  // The first non-empty line of the body says why (the proxy's 502 names the upstream error).
  const firstLine = (
    res.body
      .replace(/<[^>]+>/g, ' ')
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' ').trim())
      .find((l) => l.length > 0) ?? ''
  ).slice(0, 200);
  throw new StatusFailure(
    res.status,
    `HTTP ${res.status} ${res.statusText}${firstLine ? `: ${firstLine}` : ''}`,
    res,
  );
}

/** Every step id of the tour, in order (for `--only`). */
export function victimStepIds(): string[] {
  return TOUR.map((s) => s.id);
}

/** `--only` matches a step id exactly, or a group: `gallery` selects every `gallery:…` step. */
function selected(id: string, only: string[]): boolean {
  return only.some((o) => id === o || id.startsWith(`${o}:`));
}

/** Check `--only` names: returns the unknown ones. */
export function unknownSteps(only: string[]): string[] {
  const ids = victimStepIds();
  return only.filter((o) => !ids.some((id) => selected(id, [o])));
}

/** Run the tour; prints as it goes and resolves with every step record. */
export async function runVictim(opts: VictimOptions): Promise<VictimSummary> {
  const tour = opts.only ? TOUR.filter((s) => selected(s.id, opts.only ?? [])) : TOUR;
  const ca = opts.trust.map((t) => t.pem);
  const now = () => new Date().toISOString();
  const records: VictimStepRecord[] = [];
  opts.record?.({
    type: 'victim.start',
    at: now(),
    profile: opts.profile,
    proxy: opts.proxy.url,
    trusts: opts.trust.map((t) => t.name),
  });
  opts.print(
    `mitm-lab victim — profile ${opts.profile}: trusts ${opts.trust.map((t) => `"${t.name}"`).join(' + ')}; browsing through ${opts.proxy.url}`,
  );

  for (const [i, step] of tour.entries()) {
    const index = i + 1;
    if (opts.signal?.aborted) break;
    if (opts.beforeStep) await opts.beforeStep(index, tour.length, step.title);
    opts.print('');
    opts.print(`[${index}/${tour.length}] ${step.title} — ${step.url}`);
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (attempt === 2) {
        await delay(RETRY_DELAY_MS);
        opts.print(`    ${say('retry', {})}`);
      }
      const rec = await attemptStep(
        opts.proxy,
        step,
        ca,
        opts.profile,
        index,
        tour.length,
        attempt,
      );
      const prev = records[records.length - 1];
      records.push(rec);
      opts.record?.(rec);
      const again = attempt === 2 && prev?.outcome === rec.outcome && prev.code === rec.code;
      const head = rec.outcome === 'ok' ? 'ok' : `${HEADLINE[rec.outcome]}${again ? ' again' : ''}`;
      opts.print(
        `    ${head}: ${rec.said}${rec.code && rec.outcome !== 'ok' ? ` (${rec.code})` : ''}`,
      );
      if (rec.tls)
        opts.print(
          `    certificate: ${rec.tls.subject}, issued by ${rec.tls.issuer}${rec.tls.protocol ? ` — ${rec.tls.protocol}, ${rec.tls.cipher ?? '?'}` : ''}`,
        );
      if (!again) opts.print(`    → ${rec.meaning}`);
      const retry = rec.outcome === 'refused-certificate' || rec.outcome === 'tls-failed';
      if (!retry) break;
    }
  }

  const last = new Map<string, VictimStepRecord>();
  for (const r of records) last.set(r.step, r);
  const finals = [...last.values()];
  const summary: VictimSummary = {
    steps: records,
    ok: finals.filter((r) => r.outcome === 'ok').length,
    refused: finals.filter((r) => r.outcome === 'refused-certificate' || r.outcome === 'tls-failed')
      .length,
    failed: finals.filter((r) => !['ok', 'refused-certificate', 'tls-failed'].includes(r.outcome))
      .length,
  };
  opts.print('');
  opts.print(
    `done: ${finals.length} steps — ${summary.ok} got through, ${summary.refused} stopped at the TLS handshake (certificate refused or no agreement), ${summary.failed} failed otherwise`,
  );
  opts.record?.({
    type: 'victim.end',
    at: now(),
    profile: opts.profile,
    steps: finals.length,
    ok: summary.ok,
    refused: summary.refused,
    failed: summary.failed,
  });
  return summary;
}

async function attemptStep(
  proxy: ProxyAddress,
  step: StepSpec,
  ca: string[],
  profile: VictimProfile,
  index: number,
  total: number,
  attempt: number,
): Promise<VictimStepRecord> {
  const g = step.gallery;
  const host = new URL(step.url).hostname;
  const expectedDirect = g ? describeExpected(g) : null;
  const base = {
    type: 'victim.step' as const,
    at: new Date().toISOString(),
    profile,
    step: step.id,
    index,
    total,
    title: step.title,
    url: step.url,
    attempt,
    expectedDirect,
  };
  const secrets = joinWords(step.secrets) || 'request';
  try {
    const done = await perform(proxy, step.action, ca);
    const genuine = done.tls ? done.tls.issuer === LAB_INTERMEDIATE_CN : null;
    let meaning: string;
    if (g) {
      meaning = say('galleryOk', {
        host,
        expected: expectedDirect ?? '?',
        extra:
          done.tls && !genuine
            ? say('httpsForged', { issuer: done.tls.issuer, secrets: 'the page' })
            : g.clients.node.outcome === 'accepted'
              ? (g.clients.node.note ?? '')
              : '',
      });
    } else if (!done.tls) meaning = say('httpOk', { secrets });
    else if (genuine)
      meaning =
        profile === 'compromised'
          ? say('httpsGenuineButTrusting', { host })
          : say('httpsGenuine', { host, issuer: done.tls.issuer, secrets });
    else meaning = say('httpsForged', { issuer: done.tls.issuer, secrets });
    if (done.transfer)
      meaning += ` ${say(done.transfer.toLandlord ? 'transferArrived' : 'transferDiverted', {
        iban: done.transfer.bookedIban ?? '?',
        owner: done.transfer.bookedOwner ?? 'an unknown account',
        amount: done.transfer.bookedAmount ?? '?',
      })}`;
    return {
      ...base,
      outcome: 'ok',
      said: done.said,
      code: null,
      status: done.status,
      tls: done.tls ? { ...pickTls(done.tls), genuine: genuine ?? false } : null,
      sent: done.sent,
      meaning,
      browserWouldShow: null,
      ...(done.transfer ? { transfer: done.transfer } : {}),
    };
  } catch (err) {
    return { ...base, ...failure(err, g, step) };
  }
}

function failure(
  err: unknown,
  g: GalleryEntry | null,
  step: StepSpec,
): Pick<
  VictimStepRecord,
  'outcome' | 'said' | 'code' | 'status' | 'tls' | 'sent' | 'meaning' | 'browserWouldShow'
> {
  if (err instanceof StatusFailure) {
    // An error status from the proxy (502/504) while we were on a forged, trusted certificate:
    // the proxy's upstream validation refused the broken server.
    const fromProxy = err.status === 502 || err.status === 504;
    return {
      outcome: 'http-error',
      said: err.message,
      code: String(err.status),
      status: err.status,
      tls: err.exchange.tls
        ? { ...pickTls(err.exchange.tls), genuine: err.exchange.tls.issuer === LAB_INTERMEDIATE_CN }
        : null,
      sent: [],
      meaning: fromProxy
        ? say('proxyRefusedUpstream', { said: err.message })
        : say('httpError', { said: err.message }),
      browserWouldShow: null,
    };
  }
  if (err instanceof ClientFailure) {
    const code = err.code;
    const base = { said: clientWords(err.message), code, status: null, tls: null, sent: [] };
    if (err.stage === 'tls') {
      const browser = (code && BROWSER_EQUIVALENT[code]) ?? null;
      const isCert = code !== null && CERT_CODES.has(code);
      const expected = g && g.clients.node.outcome === 'refused' ? g.clients.node.code : null;
      const slots = {
        said: clientWords(err.message),
        problem: g?.problem ?? '',
        browser: browser ?? 'an error page',
        host: step.url,
      };
      if (isCert) {
        return {
          ...base,
          outcome: 'refused-certificate',
          browserWouldShow: browser,
          meaning:
            expected === code ? say('refusedAsExpected', slots) : say('refusedForgery', slots),
        };
      }
      return {
        ...base,
        outcome: 'tls-failed',
        browserWouldShow: browser,
        meaning: g ? say('tlsFailed', slots) : say('tlsFailedOther', slots),
      };
    }
    // Not TLS: the proxy refused the CONNECT, could not be reached, the connection broke after
    // the handshake, or nothing answered in time.
    const outcome: VictimOutcome = err.stage === 'timeout' ? 'timeout' : 'proxy-error';
    return {
      ...base,
      outcome,
      browserWouldShow: null,
      meaning: say(outcome === 'timeout' ? 'timeout' : 'proxyError', { said: err.message }),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    outcome: 'proxy-error',
    said: message,
    code: null,
    status: null,
    tls: null,
    sent: [],
    meaning: say('proxyError', { said: message }),
    browserWouldShow: null,
  };
}

function pickTls(t: TlsSeen) {
  return { protocol: t.protocol, cipher: t.cipher, subject: t.subject, issuer: t.issuer };
}

function describeExpected(g: GalleryEntry): string {
  const n = g.clients.node;
  return n.outcome === 'accepted' ? 'connect' : `refuse with ${n.code} ("${n.text}")`;
}

/**
 * OpenSSL's messages carry a library prefix (`…:SSL routines:ssl3_read_bytes:tlsv1 alert
 * protocol version:../deps/openssl/…:SSL alert number 70`): keep the reason and the alert number,
 * which are the client's own words; other messages pass unchanged.
 */
export function clientWords(message: string): string {
  const m = /SSL routines:[^:]*:([^:]+):/.exec(message);
  if (!m?.[1]) return message.trim();
  const alert = /SSL alert number (\d+)/.exec(message)?.[1];
  return `${m[1]}${alert ? ` (TLS alert ${alert})` : ''}`;
}

function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}
