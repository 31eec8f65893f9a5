// Finding secrets in what crossed the wire, to highlight them (the lesson: "your password is
// right there") or mask them (projector-safe mode, the default: a workshop screen must not
// show an attendee's real cookie). One finder serves both, so what is highlighted is exactly
// what is masked.
import { esc } from './text.ts';

/** Names of fields and headers whose values are secrets (passwords, cookies, tokens, keys). */
const SECRET_NAME =
  /pass(word|wd)?|pwd|secret|token|session|sess_?id|auth|api[_-]?key|access[_-]?key|otp|pin$|card|cvv|ssn|csrf|jwt|credential/i;

/** Header names whose whole value is a secret. */
const SECRET_HEADERS =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token|x-csrf-token|x-xsrf-token)$/i;

export interface SecretRange {
  start: number;
  end: number;
}

/** True when a header's value should be masked. */
export function isSecretHeader(name: string): boolean {
  return SECRET_HEADERS.test(name) || SECRET_NAME.test(name);
}

/** True when a form/JSON/query field's value should be masked. */
export function isSecretField(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Where the secrets are in a piece of text: header values of secret headers, `name=value`
 * pairs (forms, query strings, cookies) and `"name": "value"` JSON pairs with a secret-looking
 * name, `Bearer`/`Basic` credentials, and JWTs. Ranges are sorted and do not overlap.
 */
export function findSecrets(text: string): SecretRange[] {
  const ranges: SecretRange[] = [];
  const add = (start: number, end: number) => {
    if (end > start) ranges.push({ start, end });
  };
  // Header lines: `Name: value` at the start of a line.
  for (const m of text.matchAll(/^([A-Za-z0-9-]+):[ \t]*([^\r\n]*)/gm)) {
    const name = m[1] ?? '';
    const value = m[2] ?? '';
    if (value && isSecretHeader(name))
      add(m.index + m[0].length - value.length, m.index + m[0].length);
  }
  // name=value pairs (forms, query strings, cookies).
  for (const m of text.matchAll(/(^|[?&;,\s])([\w.[\]-]+)=([^&;,\s"]*)/g)) {
    const name = m[2] ?? '';
    const value = m[3] ?? '';
    if (value && isSecretField(name))
      add(m.index + m[0].length - value.length, m.index + m[0].length);
  }
  // "name": "value" in JSON.
  for (const m of text.matchAll(/"([^"\\\n]{1,64})"\s*:\s*"((?:[^"\\\n]|\\.)*)"/g)) {
    const name = m[1] ?? '';
    const value = m[2] ?? '';
    if (value && isSecretField(name))
      add(m.index + m[0].length - value.length - 1, m.index + m[0].length - 1);
  }
  // Said in words, e.g. a chat message "my card PIN is 4321" or "password: hunter2".
  for (const m of text.matchAll(
    /\b(?:pin|password|passcode|passphrase)\s*(?:is|:|=)\s*([^\s"',;.&?]{2,})/gi,
  )) {
    const value = m[1] ?? '';
    add(m.index + m[0].length - value.length, m.index + m[0].length);
  }
  // Credentials anywhere.
  for (const m of text.matchAll(/\b(?:Bearer|Basic|Digest)[ \t]+([A-Za-z0-9._~+/=-]{4,})/g)) {
    const value = m[1] ?? '';
    add(m.index + m[0].length - value.length, m.index + m[0].length);
  }
  for (const m of text.matchAll(/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g)) {
    add(m.index, m.index + m[0].length);
  }
  return merge(ranges);
}

function merge(ranges: SecretRange[]): SecretRange[] {
  ranges.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SecretRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** What a masked secret looks like: its length only, never its content. */
export function mask(value: string): string {
  return `[hidden ${value.length}]`;
}

/**
 * Escape `text` for blessed and mark its secrets: masked (redact on) or highlighted
 * (redact off). Plain text in, tagged text out.
 */
export function markSecrets(text: string, redact: boolean): string {
  const ranges = findSecrets(text);
  let out = '';
  let at = 0;
  for (const r of ranges) {
    out += esc(text.slice(at, r.start));
    const secret = text.slice(r.start, r.end);
    out += redact
      ? `{black-fg}{yellow-bg}${esc(mask(secret))}{/yellow-bg}{/black-fg}`
      : `{white-fg}{red-bg}${esc(secret)}{/red-bg}{/white-fg}`;
    at = r.end;
  }
  return out + esc(text.slice(at));
}

/** Mask secrets in plain text (no tags), e.g. for the flow list's path column. */
export function maskPlain(text: string): string {
  const ranges = findSecrets(text);
  let out = '';
  let at = 0;
  for (const r of ranges) {
    out += text.slice(at, r.start) + mask(text.slice(r.start, r.end));
    at = r.end;
  }
  return out + text.slice(at);
}
