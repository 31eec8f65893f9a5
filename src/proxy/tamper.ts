// `--tamper RULES`: the man in the middle changes what it relays. A rule names a direction
// (`request` or `response`), a host, optionally a method and a path, and a change: replace every
// occurrence of a text (`replace` / `with`), or set a form field of a request (`field` / `set`).
// Only flows the proxy reads can be changed: plain HTTP and decrypted HTTPS. A tunnel cannot be
// — the proxy has no keys for it — and that is the lesson.
//
// Framing stays right: a changed body goes on with a new Content-Length (chunked bodies arrive
// de-chunked and leave with a length); gzip, deflate and br bodies are decoded, changed and
// encoded again; anything else (an unknown encoding, a body over the bound, a binary type) is
// relayed untouched with a diag saying which rule was skipped and why. Bodies are held whole
// only while a rule applies to them, and never past TAMPER_MAX_BYTES.
import type http from 'node:http';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { BodyCapture, Header, TamperMark } from '../events/types.ts';
import { BodyCapturer, headerPairs, headerValue } from './body-capture.ts';

/** The most a tampered body may be (encoded or decoded): past it, the rule is skipped. */
export const TAMPER_MAX_BYTES = 1024 * 1024;

export interface TamperRule {
  /** Shown in events, diags and the UI badge. */
  name: string;
  on: 'request' | 'response';
  /** `bank.test`, `*.bank.test` (any name under it) or `*` (every host). */
  host: string;
  /** `GET`, `POST`…; any method when absent. */
  method?: string;
  /** An exact path (`/transfer`), or a prefix ending in `*` (`/api/*`); the query is ignored. Any path when absent. */
  path?: string;
  /** Replace every occurrence of this text… */
  replace?: string;
  /** …with this one. In a response rule, `{request.NAME}` is the form field NAME as the client sent it. */
  with?: string;
  /** Request rules: the form field (application/x-www-form-urlencoded) to set… */
  field?: string;
  /** …to this value. */
  set?: string;
}

/** A rules file the proxy cannot use: the message says what to fix. */
export class TamperRulesError extends Error {}

const KEYS = new Set(['name', 'on', 'host', 'method', 'path', 'replace', 'with', 'field', 'set']);

/**
 * Read a rules file: a JSON array of rules, or `{ "rules": [ … ] }`. Every mistake is reported
 * with the rule's number and what to write instead; nothing is guessed.
 */
export function parseTamperRules(text: string, source: string): TamperRule[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TamperRulesError(
      `${source} is not JSON (${(err as Error).message}): write a JSON array of rules, see docs/proxy.md "Tampering"`,
    );
  }
  const list = Array.isArray(value)
    ? value
    : ((value as { rules?: unknown } | null)?.rules ?? undefined);
  if (!Array.isArray(list) || list.length === 0)
    throw new TamperRulesError(
      `${source}: expected a non-empty JSON array of rules (or {"rules": [...]}), see docs/proxy.md "Tampering"`,
    );
  return list.map((r, i) => checkRule(r, `${source}: rule ${i + 1}`));
}

function checkRule(r: unknown, where: string): TamperRule {
  if (!r || typeof r !== 'object' || Array.isArray(r))
    throw new TamperRulesError(`${where} is not an object`);
  const o = r as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!KEYS.has(k))
      throw new TamperRulesError(`${where}: unknown key "${k}" (keys: ${[...KEYS].join(', ')})`);
  for (const k of KEYS)
    if (o[k] !== undefined && typeof o[k] !== 'string')
      throw new TamperRulesError(`${where}: "${k}" must be a string`);
  const s = o as Record<string, string | undefined>;
  if (s.on !== 'request' && s.on !== 'response')
    throw new TamperRulesError(`${where}: "on" must be "request" or "response"`);
  if (!s.host) throw new TamperRulesError(`${where}: "host" is missing (a name, *.name, or *)`);
  const replaces = s.replace !== undefined || s.with !== undefined;
  const sets = s.field !== undefined || s.set !== undefined;
  if (replaces === sets)
    throw new TamperRulesError(
      `${where}: give either "replace" and "with", or "field" and "set" (request rules only)`,
    );
  if (replaces && (!s.replace || s.with === undefined))
    throw new TamperRulesError(`${where}: "replace" needs a non-empty text and "with" a text`);
  if (sets && (s.on !== 'request' || !s.field || s.set === undefined))
    throw new TamperRulesError(
      `${where}: "field" and "set" change a form field of a request: "on" must be "request"`,
    );
  if (s.path !== undefined && !s.path.startsWith('/'))
    throw new TamperRulesError(`${where}: "path" must start with / (e.g. /transfer or /api/*)`);
  const rule: TamperRule = { name: s.name || `${s.on} rule`, on: s.on, host: s.host.toLowerCase() };
  if (s.method) rule.method = s.method.toUpperCase();
  if (s.path) rule.path = s.path;
  if (replaces) {
    rule.replace = s.replace ?? '';
    rule.with = s.with ?? '';
  } else {
    rule.field = s.field ?? '';
    rule.set = s.set ?? '';
  }
  return rule;
}

/** What a flow is, for matching. */
export interface TamperTarget {
  method: string;
  host: string;
  /** The request target; its query is ignored. */
  path: string;
}

function hostMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase();
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return h.endsWith(pattern.slice(1));
  return h === pattern;
}

function pathMatches(pattern: string | undefined, target: string): boolean {
  if (pattern === undefined) return true;
  const p = target.split('?')[0] ?? '';
  return pattern.endsWith('*') ? p.startsWith(pattern.slice(0, -1)) : p === pattern;
}

/** The rules of one direction that apply to this flow, in file order. */
export function rulesFor(
  rules: readonly TamperRule[],
  on: 'request' | 'response',
  t: TamperTarget,
): TamperRule[] {
  return rules.filter(
    (r) =>
      r.on === on &&
      hostMatches(r.host, t.host) &&
      (r.method === undefined || r.method === t.method.toUpperCase()) &&
      pathMatches(r.path, t.path),
  );
}

// ---- bodies ----------------------------------------------------------------------------

/** Types a text rule may change; others (images, archives…) are relayed untouched. */
const TEXT_TYPE_RE =
  /^(?:text\/|application\/(?:[a-z0-9.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded)\b)/i;

type Codec = 'identity' | 'gzip' | 'deflate' | 'br';

function codecOf(encoding: string | null): Codec | null {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return 'identity';
  if (e === 'gzip' || e === 'x-gzip') return 'gzip';
  if (e === 'deflate' || e === 'br') return e;
  return null; // several encodings, zstd, or anything else: not ours to re-encode
}

function decode(body: Buffer, codec: Codec): Buffer {
  const o = { maxOutputLength: TAMPER_MAX_BYTES };
  switch (codec) {
    case 'identity':
      return body;
    case 'gzip':
      return zlib.gunzipSync(body, o);
    case 'deflate':
      // RFC 9110 says zlib-wrapped; some servers send raw deflate.
      try {
        return zlib.inflateSync(body, o);
      } catch {
        return zlib.inflateRawSync(body, o);
      }
    case 'br':
      return zlib.brotliDecompressSync(body, o);
  }
}

function encode(body: Buffer, codec: Codec): Buffer {
  switch (codec) {
    case 'identity':
      return body;
    case 'gzip':
      return zlib.gzipSync(body);
    case 'deflate':
      return zlib.deflateSync(body);
    case 'br':
      return zlib.brotliCompressSync(body);
  }
}

/** Bytes ↔ a string of one char per byte, so a text rule never mangles what it does not touch. */
const bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

function replaceAll(text: string, find: string, by: string): { text: string; count: number } {
  const parts = text.split(bytes(find));
  return { text: parts.join(bytes(by)), count: parts.length - 1 };
}

/** The form fields of a request body as the client sent it, or an empty set. */
export function formFields(body: BodyCapture | null): URLSearchParams {
  if (!body || !('text' in body)) return new URLSearchParams();
  return new URLSearchParams(body.text);
}

function setField(text: string, field: string, value: string): { text: string; count: number } {
  let count = 0;
  const out = text
    .split('&')
    .map((pair) => {
      const name = pair.split('=')[0] ?? '';
      let decoded: string;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        return pair;
      }
      if (decoded !== field) return pair;
      count++;
      return `${name}=${encodeURIComponent(value)}`;
    })
    .join('&');
  return { text: out, count };
}

/** What one body became: the new bytes (encoded as before), and the rules that changed it. */
export interface Rewritten {
  body: Buffer;
  /** Rules that changed something. */
  applied: string[];
  /** Rules skipped, each with why (for a diag). */
  skipped: string[];
  /** The decoded body before and after, for the event. */
  before: Buffer;
  after: Buffer;
}

/**
 * Apply `rules` to a whole body. Returns null, with `why`, when the body cannot be changed
 * safely (an encoding it cannot redo, a type that is not text, too large once decoded).
 */
export function rewriteBody(
  body: Buffer,
  headers: readonly Header[],
  rules: readonly TamperRule[],
  requestFields: URLSearchParams,
): Rewritten | { why: string } {
  const type = headerValue(headers, 'content-type');
  if (type !== null && !TEXT_TYPE_RE.test(type))
    return { why: `the body is ${type.split(';')[0] ?? type}, not text` };
  const encoding = headerValue(headers, 'content-encoding');
  const codec = codecOf(encoding);
  if (!codec)
    return { why: `the body is encoded as "${encoding ?? ''}", which the proxy cannot re-encode` };
  let plain: Buffer;
  try {
    plain = decode(body, codec);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return {
      why:
        e.code === 'ERR_BUFFER_TOO_LARGE'
          ? `the body decodes to more than ${TAMPER_MAX_BYTES} bytes`
          : `the ${codec} body does not decode (${e.message})`,
    };
  }
  let text = plain.toString('latin1');
  const applied: string[] = [];
  const skipped: string[] = [];
  for (const r of rules) {
    let result: { text: string; count: number };
    if (r.field !== undefined) {
      result = setField(text, r.field, r.set ?? '');
    } else {
      let missing: string | null = null;
      const by = (r.with ?? '').replace(/\{request\.([^}]+)\}/g, (_m, name: string) => {
        const v = requestFields.get(name);
        if (v === null) missing = name;
        return v ?? '';
      });
      if (missing !== null) {
        skipped.push(`${r.name}: the client's request has no form field "${missing}"`);
        continue;
      }
      result = replaceAll(text, r.replace ?? '', by);
    }
    if (result.count > 0) {
      text = result.text;
      applied.push(r.name);
    }
  }
  const after = Buffer.from(text, 'latin1');
  return {
    body: applied.length ? encode(after, codec) : body,
    applied,
    skipped,
    before: plain,
    after,
  };
}

/** The event's mark: which rules, and the decoded body before and after (bounded). */
export function tamperMark(
  r: Rewritten,
  headers: readonly Header[],
  captureLimit: number,
): TamperMark {
  const plainHeaders = headers.filter(([n]) => n.toLowerCase() !== 'content-encoding');
  const capture = (b: Buffer): BodyCapture => {
    const c = new BodyCapturer(captureLimit);
    c.push(b);
    return c.result(plainHeaders);
  };
  return {
    rules: r.applied,
    before: capture(r.before),
    after: capture(r.after),
    encoding: headerValue(headers, 'content-encoding'),
  };
}

// ---- streams ---------------------------------------------------------------------------

/** What the engine hears about a tampered body. */
export interface TamperOutcome {
  /** The mark for the event, when a rule changed something. */
  mark: TamperMark | null;
  /** One sentence per skipped rule (for a diag), when any was skipped. */
  skipped: string[];
}

/**
 * A request filter for the library's pipe: holds the client's body (up to the bound), rewrites
 * it at its end, sets the upstream request's Content-Length before the first byte goes out, and
 * passes it on. Over the bound it turns into a plain pass-through and says so.
 */
export function requestTamperFilter(opts: {
  rules: readonly TamperRule[];
  headers: Header[];
  captureLimit: number;
  upstream: () => http.ClientRequest | undefined;
  done: (o: TamperOutcome) => void;
}): Transform {
  const held: Buffer[] = [];
  let size = 0;
  let passing = false;
  const names = opts.rules.map((r) => r.name).join(', ');
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (passing) return cb(null, chunk);
      size += chunk.length;
      if (size > TAMPER_MAX_BYTES) {
        passing = true;
        for (const c of held.splice(0)) this.push(c);
        return cb(null, chunk);
      }
      held.push(chunk);
      cb();
    },
    flush(cb: TransformCallback) {
      if (passing) {
        opts.done({
          mark: null,
          skipped: [`${names}: the request body is over ${TAMPER_MAX_BYTES} bytes`],
        });
        return cb();
      }
      const body = Buffer.concat(held);
      const r = rewriteBody(body, opts.headers, opts.rules, new URLSearchParams());
      if ('why' in r) {
        opts.done({ mark: null, skipped: [`${names}: ${r.why}`] });
        return cb(null, body);
      }
      const up = opts.upstream();
      if (r.applied.length && up && !up.headersSent) {
        up.removeHeader('transfer-encoding');
        up.setHeader('content-length', r.body.length);
      }
      opts.done({
        mark: r.applied.length ? tamperMark(r, opts.headers, opts.captureLimit) : null,
        skipped: r.skipped,
      });
      cb(null, r.applied.length ? r.body : body);
    },
  });
}

/** A stand-in for the server's response: the same status and headers, a new body. */
function standIn(res: http.IncomingMessage, headers: http.IncomingHttpHeaders): PassThrough {
  const out = new PassThrough();
  return Object.assign(out, {
    statusCode: res.statusCode,
    statusMessage: res.statusMessage,
    httpVersion: res.httpVersion,
    headers,
    rawHeaders: res.rawHeaders,
  });
}

/**
 * Hold the server's response body (up to the bound), rewrite it, and hand the library a
 * stand-in stream to relay instead, with its Content-Length set to the new size. `done` runs
 * when the stand-in is ready — at the body's end, before any other 'end' listener added after
 * this call (the exchange recorder's: its event then carries the mark). Over the bound, the
 * stand-in relays what was held and then the rest as it comes, untouched.
 */
export function tamperResponse(opts: {
  res: http.IncomingMessage;
  rules: readonly TamperRule[];
  requestFields: URLSearchParams;
  captureLimit: number;
  done: (standIn: Readable, o: TamperOutcome) => void;
}): void {
  const { res } = opts;
  const headers = headerPairs(res.rawHeaders);
  const names = opts.rules.map((r) => r.name).join(', ');
  const held: Buffer[] = [];
  let size = 0;
  let gaveUp = false;
  const onData = (c: Buffer): void => {
    size += c.length;
    held.push(c);
    if (size <= TAMPER_MAX_BYTES) return;
    gaveUp = true;
    res.off('data', onData);
    res.off('end', onEnd);
    res.pause();
    const out = standIn(res, res.headers);
    for (const h of held.splice(0)) out.write(h);
    res.pipe(out);
    opts.done(out, {
      mark: null,
      skipped: [`${names}: the response body is over ${TAMPER_MAX_BYTES} bytes`],
    });
  };
  const onEnd = (): void => {
    if (gaveUp) return;
    const body = Buffer.concat(held);
    const r = rewriteBody(body, headers, opts.rules, opts.requestFields);
    if ('why' in r || r.applied.length === 0) {
      const out = standIn(res, res.headers);
      out.end(body);
      opts.done(out, { mark: null, skipped: 'why' in r ? [`${names}: ${r.why}`] : r.skipped });
      return;
    }
    const next: http.IncomingHttpHeaders = { ...res.headers };
    delete next['transfer-encoding'];
    next['content-length'] = String(r.body.length);
    const out = standIn(res, next);
    out.end(r.body);
    opts.done(out, {
      mark: tamperMark(r, headers, opts.captureLimit),
      skipped: r.skipped,
    });
  };
  res.on('data', onData);
  res.once('end', onEnd);
  res.resume();
}
