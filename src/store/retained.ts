// What the flow store really keeps, in bytes, and copies that keep nothing else alive.
//
// The store's byte budget (FlowStoreOptions.maxBytes) is only as good as this count. It counts
// the captured content — bodies, wire bytes, WebSocket previews, headers, certificates, TLS
// records — at what V8 and Node hold for it, plus a fixed allowance per object for the fields
// around it. Two traps it avoids (issue 13, item 9):
// - `string.slice` in V8 makes a *sliced* string that keeps its whole parent alive: a body cut
//   to 64 Ki characters out of a 256 KiB capture kept all 256 KiB. `ownString` copies.
// - `Buffer.from(small)` is carved out of Node's shared 8 KiB pool; keeping a small piece keeps
//   the whole slab. The live wire capture copies into buffers of its own (wire-capture.ts).
//
// Every function here takes events as they come, possibly malformed (an attach feed from a
// newer or broken producer): a missing field counts as empty, never as a throw.
import type {
  BodyCapture,
  CertSummary,
  Header,
  HttpRequestEvent,
  TamperMark,
  HttpResponseEvent,
  TlsClientHelloEvent,
  TlsRecord,
  UpstreamErrorEvent,
  WireBytes,
  WsHandshakeEvent,
  WsMessageEvent,
} from '../events/types.ts';

/**
 * Fixed allowance for one small object with its fields (an event, a flow, a connection), in
 * bytes: V8 spends ~12 bytes a field plus the short strings (ids, times, names) around the
 * content. Measured from heap snapshots of folded events: 300-600 bytes each.
 */
export const OBJECT_BYTES = 512;
/** One certificate summary (subject, issuer, SANs, fingerprints): about 1 KiB as kept. */
export const CERT_BYTES = 1024;
/** One parsed TLS record ({dir, t, contentType, version, length, handshake?}). */
export const RECORD_BYTES = 160;
/** One header pair beyond its characters (the tuple and two string headers). */
const HEADER_BYTES = 48;
/** Strings shorter than this are charged at two bytes a character without looking. */
const SCAN_FROM = 256;

const TWO_BYTE_RE = /[\u0100-\uffff]/;

/** True when V8 can store `s` at one byte a character (Latin-1 only). */
function isOneByte(s: string): boolean {
  return !TWO_BYTE_RE.test(s);
}

/** Bytes V8 holds for the characters of `s` (one or two a character). */
export function stringBytes(s: string): number {
  if (s.length < SCAN_FROM) return s.length * 2;
  return isOneByte(s) ? s.length : s.length * 2;
}

/**
 * A copy of `s` that shares no memory with it: what to keep from a slice of a larger string.
 * Latin-1 text stays one byte a character; anything else goes through UTF-16 unchanged (lone
 * surrogates too).
 */
export function ownString(s: string): string {
  if (s.length === 0) return '';
  return isOneByte(s)
    ? Buffer.from(s, 'latin1').toString('latin1')
    : Buffer.from(s, 'utf16le').toString('utf16le');
}

/** Characters of a string field that may be missing. */
function len(s: unknown): number {
  return typeof s === 'string' ? s.length : 0;
}

/** Bytes of a Buffer field that may be missing. */
export function bufLen(b: unknown): number {
  return Buffer.isBuffer(b) ? b.length : 0;
}

export function bodyBytes(b: BodyCapture | undefined): number {
  const body = b as { text?: unknown; bytes?: unknown } | undefined;
  if (typeof body?.text === 'string') return stringBytes(body.text);
  return bufLen(body?.bytes);
}

export function headerBytes(headers: readonly Header[] | undefined): number {
  if (!Array.isArray(headers)) return 0;
  let n = 0;
  for (const h of headers) n += HEADER_BYTES + 2 * (len(h?.[0]) + len(h?.[1]));
  return n;
}

export function certsBytes(certs: readonly CertSummary[] | null | undefined): number {
  return count(certs ?? undefined) * CERT_BYTES;
}

/** A `--tamper` mark: both bodies it holds. */
function tamperedBytes(t: TamperMark | null | undefined): number {
  return t ? OBJECT_BYTES + bodyBytes(t.before) + bodyBytes(t.after) : 0;
}

export function requestBytes(
  e: Pick<HttpRequestEvent, 'url' | 'headers' | 'body' | 'tampered'>,
): number {
  return (
    OBJECT_BYTES +
    2 * len(e.url) +
    headerBytes(e.headers) +
    bodyBytes(e.body) +
    tamperedBytes(e.tampered)
  );
}

export function responseBytes(
  e: Pick<HttpResponseEvent, 'headers' | 'body' | 'upstreamCertificate' | 'tampered'>,
): number {
  return (
    OBJECT_BYTES +
    headerBytes(e.headers) +
    bodyBytes(e.body) +
    tamperedBytes(e.tampered) +
    (e.upstreamCertificate ? CERT_BYTES : 0)
  );
}

export function wsMessageBytes(e: WsMessageEvent): number {
  return OBJECT_BYTES + (typeof e.preview === 'string' ? stringBytes(e.preview) : 0);
}

export function wsHandshakeBytes(
  e: Pick<WsHandshakeEvent, 'toServerPath' | 'toServerHeaders' | 'toClientHeaders'>,
): number {
  return (
    OBJECT_BYTES +
    2 * len(e.toServerPath) +
    headerBytes(e.toServerHeaders) +
    headerBytes(e.toClientHeaders)
  );
}

export function upstreamErrorBytes(e: UpstreamErrorEvent): number {
  return OBJECT_BYTES + 2 * len(e.message);
}

export function helloBytes(e: TlsClientHelloEvent): number {
  // Cipher suite and ALPN names are short strings: ~40 bytes each as kept.
  return OBJECT_BYTES + 40 * (count(e.cipherSuites) + count(e.alpn) + count(e.versions));
}

/** A final capture direction (from `conn.close`): its bytes, in memory of the store's own. */
export function finalWireBytes(b: WireBytes | undefined): number {
  return bufLen(b?.bytes);
}

export function recordsBytes(records: readonly TlsRecord[] | undefined): number {
  return count(records) * RECORD_BYTES;
}

function count(list: readonly unknown[] | undefined): number {
  return Array.isArray(list) ? list.length : 0;
}
