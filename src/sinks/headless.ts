// The headless printer: one readable line per outcome, for a non-TTY stdout or --headless
// (CI logs, a second terminal, `| grep REFUSED`). Built from events only; the teaching titles
// come from the explain catalog, so the line and the UI say the same thing.
//
//   01:02:03 LISTEN   127.0.0.1:8080  mode auto  CA "mitm-lab throwaway CA …" AB:CD:…  upstream validation on
//   01:02:04 HTTP     plaintext  POST http://bank.test/login -> 302 Found (1.2 KB) [password visible on the wire]
//   01:02:05 HTTPS    decrypted  GET https://bank.test/account -> 200 OK (5.3 KB) [decrypted: only the proxy reads it]
//   01:02:06 REFUSED  bank.test  alert 48 unknown_ca  client curl  Refused: unknown CA (alert 48)  [auto: next connections tunnelled]
//   01:02:07 TUNNEL   bank.test:443  TLS 1.3  up 1.9 KB / down 6.1 KB, 15 records, 230 ms  Tunnelled: …
//   01:02:08 UPSTREAM expired.test:443  CERT_HAS_EXPIRED -> 502  The real server's certificate has expired
//
// The first word is fixed per kind (grep-friendly). Times are UTC, from the event.
import type { EventBus } from '../events/bus.ts';
import type { HttpRequestEvent, ProxyEvent, Visibility } from '../events/types.ts';
import { explain } from '../explain/index.ts';
import { coalesceFlushes } from '../util/coalesce.ts';
import { shiftOldest } from '../util/bounded.ts';

/** Requests waiting for their response; beyond this the oldest is printed without one. */
const MAX_PENDING_REQUESTS = 1000;
/**
 * After a connection closes, how long its unanswered requests wait before being printed as
 * "(no response)": the engine may report a response just after the client left.
 */
const NO_RESPONSE_GRACE_MS = 1000;
/** Longest text preview of a WebSocket message in a line. */
const WS_PREVIEW_CHARS = 60;
/**
 * Traffic lines are written together (one write instead of one per request: a write per line was
 * a fifth of the proxy's CPU under load, issue 12); past this many characters at once they go out
 * straight away.
 */
const MAX_BUFFERED_CHARS = 64 * 1024;
/**
 * At most one write of traffic lines per this many ms. Lines after a quiet spell go out at the
 * end of their turn of the event loop; under load, those of the next 50 ms wait and go out
 * together (a write per turn still cost ~3 µs a request in a replay, issue 12).
 */
export const FLUSH_INTERVAL_MS = 50;

export interface HeadlessPrinter {
  /** Lines printed so far. */
  readonly lines: number;
  /** Write the lines still held for this turn of the event loop now. */
  flush(): void;
  /** Stop printing (pending requests are printed first). */
  detach(): void;
}

/** `1234` → `1.2 KB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

const time = (at: string): string => (at.length >= 19 ? at.slice(11, 19) : at);
/** The kind word, padded so the rest of the line lines up (the longest word is 8 letters). */
const pad = (word: string): string => word.padEnd(9);
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;
// eslint-disable-next-line no-control-regex -- the same class, to test without a global's state
const HAS_CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
/** One line, no terminal control characters (a URL or message could carry escape codes). */
function oneLine(s: string): string {
  if (!HAS_CONTROL_CHARS.test(s)) return s; // the usual line: one scan, no copy
  return s.replace(/[\r\n\t]+/g, ' ').replace(CONTROL_CHARS, '?');
}

/** Field names that carry a password in a form, a query string or JSON. */
const PASSWORD_FIELD = /(?:^|[?&;\s"'{,])(?:pass(?:word)?|passwd|pwd|pin|secret)["']?\s*[=:]/i;

function bodyTextOf(r: HttpRequestEvent): string {
  return 'text' in r.body ? r.body.text : '';
}

/** What an eavesdropper (wire) or the proxy (proxy-only) can read in this request. */
function exposure(r: HttpRequestEvent | null, visibility: Visibility): string {
  const who = visibility === 'wire' ? 'visible on the wire' : 'decrypted: only the proxy reads it';
  if (!r) return `[${who}]`;
  let credentials = false;
  let cookies = false;
  for (const [name] of r.headers) {
    const n = name.toLowerCase();
    if (n === 'authorization' || n === 'proxy-authorization') credentials = true;
    else if (n === 'cookie') cookies = true;
  }
  const seen: string[] = [];
  if (PASSWORD_FIELD.test(bodyTextOf(r)) || PASSWORD_FIELD.test(r.url)) seen.push('password');
  if (credentials) seen.push('credentials');
  if (cookies) seen.push('cookies');
  if (seen.length === 0) return `[${who}]`;
  return visibility === 'wire'
    ? `[${seen.join(', ')} visible on the wire]`
    : `[${seen.join(', ')} decrypted: only the proxy reads them]`;
}

function httpWord(visibility: Visibility): string {
  return visibility === 'wire' ? `${pad('HTTP')}plaintext` : `${pad('HTTPS')}decrypted`;
}

export interface HeadlessOptions {
  /** At most one write of traffic lines per this many ms (default FLUSH_INTERVAL_MS). */
  flushIntervalMs?: number;
}

/**
 * Print one line per outcome from `bus` to `out`. A write error on `out` (a closed pipe) stops
 * the printer quietly rather than crashing the proxy.
 */
export function attachHeadlessPrinter(
  bus: EventBus,
  out: NodeJS.WritableStream,
  options: HeadlessOptions = {},
): HeadlessPrinter {
  const interval = options.flushIntervalMs ?? FLUSH_INTERVAL_MS;
  const pending = new Map<string, HttpRequestEvent>();
  /** Flows whose response was cut mid-body: their upstream.error follows at once. */
  const cutFlows = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let lines = 0;
  let broken = false;
  const onError = (): void => {
    broken = true;
  };
  out.on('error', onError);

  let held = '';
  const flush = (): void => {
    if (held === '') return;
    const text = held;
    held = '';
    if (broken) return;
    try {
      out.write(text);
    } catch {
      broken = true; // the stream is gone; the proxy must keep serving
    }
  };
  const scheduled = coalesceFlushes(interval, flush);
  /**
   * One line. Traffic lines wait for the end of this turn of the event loop, or, within
   * `interval` of the last such write, until it has passed (`MAX_BUFFERED_CHARS` at most); the
   * others (`now`: the listening line, warnings) go out at once, after those held.
   */
  const print = (at: string, text: string, now = false): void => {
    if (broken) return;
    held += `${time(at)} ${oneLine(text)}\n`;
    lines++;
    if (now || held.length >= MAX_BUFFERED_CHARS) flush();
    else scheduled.request();
  };

  const printRequestOnly = (r: HttpRequestEvent, ending: string): void => {
    print(
      r.at,
      `${httpWord(r.visibility)}  ${r.method} ${r.url} -> ${ending} ${exposure(r, r.visibility)}`,
    );
  };

  const onEvent = (e: ProxyEvent): void => {
    switch (e.type) {
      case 'proxy.listening':
        print(
          e.at,
          `${pad('LISTEN')}${e.host}:${e.port}  mode ${e.mode}  CA "${e.caName}" ${e.caSha256}  upstream validation ${e.upstreamValidation ? 'on' : 'OFF (--insecure-upstream)'}`,
          true,
        );
        break;
      case 'http.request':
        pending.set(e.flowId, e);
        if (pending.size > MAX_PENDING_REQUESTS) {
          const oldest = shiftOldest(pending);
          if (oldest) printRequestOnly(oldest[1], '(still waiting)');
        }
        break;
      case 'http.response': {
        const r = pending.get(e.flowId) ?? null;
        pending.delete(e.flowId);
        const what = r ? `${r.method} ${r.url}` : `(request ${e.flowId})`;
        const status = `${e.status}${e.statusMessage ? ` ${e.statusMessage}` : ''}`;
        const size = `${formatBytes(e.body.size)}${e.body.truncated ? ', capture cut' : ''}`;
        const cut = e.incomplete ? ` CUT UPSTREAM (${e.incomplete.code}) mid-body` : '';
        if (e.incomplete) cutFlows.add(e.flowId);
        const changed = [
          ...(r?.tampered ? [`request (${r.tampered.rules.join(', ')})`] : []),
          ...(e.tampered ? [`response (${e.tampered.rules.join(', ')})`] : []),
        ];
        const tampered = changed.length ? ` TAMPERED by the proxy: ${changed.join(' and ')}` : '';
        print(
          e.at,
          `${httpWord(e.visibility)}  ${what} -> ${status} (${size})${cut}${tampered} ${exposure(r, e.visibility)}`,
        );
        break;
      }
      case 'upstream.error': {
        const r = e.flowId !== null ? (pending.get(e.flowId) ?? null) : null;
        if (e.flowId !== null) pending.delete(e.flowId);
        const what = r ? `  ${r.method} ${r.url}` : '';
        const answered =
          e.status !== null
            ? String(e.status)
            : e.flowId !== null && cutFlows.delete(e.flowId)
              ? 'response cut'
              : 'client gone';
        print(
          e.at,
          `${pad('UPSTREAM')}${e.host}:${e.port}  ${e.code} -> ${answered}${what}  ${explain(e).title}`,
        );
        break;
      }
      case 'tls.client-accepted':
        print(
          e.at,
          `${pad('TRUSTED')}${e.sni ?? e.host}  ${e.protocol ?? 'TLS'}${e.cipher ? ` ${e.cipher}` : ''}  ${explain(e).title}`,
        );
        break;
      case 'tls.client-rejected': {
        const alert = e.alert ? `alert ${e.alert.code} ${e.alert.name}` : e.outcome;
        const client = e.clientHint ? `  client ${e.clientHint}` : '';
        const next = e.willTunnel ? '  [auto: next connections tunnelled]' : '';
        print(
          e.at,
          `${pad('REFUSED')}${e.sni ?? e.host}  ${alert}${client}  ${explain(e).title}${next}`,
        );
        break;
      }
      case 'tunnel.summary': {
        const version = e.tlsVersion ? `  ${e.tlsVersion}` : '';
        const certs = e.serverCertificates?.length
          ? `  certificate in clear: ${e.serverCertificates[0]?.subject ?? '?'}`
          : '';
        print(
          e.at,
          `${pad('TUNNEL')}${e.sni ?? e.host}:${e.port}${version}  up ${formatBytes(e.bytesUp)} / down ${formatBytes(e.bytesDown)}, ${e.recordCount} records, ${Math.round(e.durationMs)} ms${certs}  ${explain(e).title}`,
        );
        break;
      }
      case 'ws.message': {
        const dir = e.direction === 'client-to-server' ? 'client->server' : 'server->client';
        const body =
          e.kind === 'text' && e.preview !== null
            ? `text ${JSON.stringify(e.preview.length > WS_PREVIEW_CHARS ? `${e.preview.slice(0, WS_PREVIEW_CHARS)}…` : e.preview)}`
            : e.kind;
        const where = e.visibility === 'wire' ? 'plaintext' : 'decrypted';
        print(e.at, `${pad('WS')}${where}  ${dir} ${body} (${formatBytes(e.size)})`);
        break;
      }
      case 'conn.close': {
        // Requests of this connection that never got an answer still get their line, after a
        // grace period in case the response event is on its way.
        const connId = e.connId;
        if (![...pending.values()].some((r) => r.connId === connId)) break;
        const timer = setTimeout(() => {
          timers.delete(timer);
          for (const [id, r] of pending) {
            if (r.connId !== connId) continue;
            pending.delete(id);
            printRequestOnly(r, '(no response)');
          }
        }, NO_RESPONSE_GRACE_MS);
        timer.unref();
        timers.add(timer);
        break;
      }
      case 'lab.reset':
        print(
          e.at,
          `${pad('RESET')}lab state reset: the list restarts; forgot ${e.forgotten} refused host${e.forgotten === 1 ? '' : 's'}`,
        );
        break;
      case 'diag':
        if (e.level === 'warn') print(e.at, `${pad('WARN')}[${e.source}] ${e.message}`, true);
        else if (e.level === 'error')
          print(e.at, `${pad('ERROR')}[${e.source}] ${e.message}`, true);
        break;
      case 'conn.open':
      case 'conn.wire':
      case 'upstream.wire':
      case 'tls.client-hello':
      case 'tls.forged':
      case 'ws.handshake':
        // Steps, not outcomes: the outcome line that follows says what they led to (the
        // upgrade's 101 line; the two handshakes are the Decrypted view's).
        break;
      default: {
        // Compile-time exhaustiveness without a runtime throw: a newer event type (e.g. from
        // an `attach` feed) is simply not printed.
        const unhandled: never = e;
        void unhandled;
      }
    }
  };
  const unsubscribe = bus.on(onEvent);

  return {
    get lines() {
      return lines;
    },
    flush,
    detach() {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      scheduled.cancel();
      for (const r of pending.values()) printRequestOnly(r, '(no response)');
      pending.clear();
      flush();
      out.removeListener('error', onError);
    },
  };
}
