// `--har FILE`: the HTTP flows as a HAR 1.2 archive (http://www.softwareishard.com/blog/har-12-spec/),
// readable by browser devtools, Charles, Fiddler, har-analyzer… Built from events only:
// http.request and http.response paired by flowId. A request the server never answered is
// recorded with what the client really got: the proxy's own 502 when the upstream failed and
// the proxy answered (upstream.error with status 502: status 502, the reason in `_error` and
// the response's `comment`); otherwise (client gone, still running at exit) status 0 and an
// `_error`, as Chromium exports failed requests.
//
// Custom fields start with `_` as the spec allows: `_visibility` (`wire` / `proxy-only`, the
// lesson of the flow), `_connId`, `_error`, and `_truncated` on a body the capture cut.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { EventBus } from '../events/bus.ts';
import {
  DEFAULT_MAX_BYTES,
  requestBytes,
  responseBytes,
  upstreamErrorBytes,
} from '../store/index.ts';
import { shiftOldest } from '../util/bounded.ts';
import type {
  BodyCapture,
  Header,
  HttpRequestEvent,
  HttpResponseEvent,
  ProxyEvent,
  UpstreamErrorEvent,
} from '../events/types.ts';

/** Entries kept (oldest dropped first, counted in log.comment). */
export const DEFAULT_MAX_HAR_ENTRIES = 5000;
/**
 * What the kept entries may hold, in bytes as the flow store counts them (bodies, headers, URLs,
 * a fixed allowance per event): the flow store's own budget. Each body is capped (256 KiB), but
 * 5000 of them were up to 1.25 GB: the terminal UI records a HAR for its `e` key, and 3,000
 * downloads of 100 KB through it kept ~280 MB of bodies alive that its flow store had long let go.
 */
export const DEFAULT_MAX_HAR_BYTES = DEFAULT_MAX_BYTES;

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarCookie extends HarNameValue {
  path?: string;
  domain?: string;
  expires?: string;
  httpOnly?: boolean;
  secure?: boolean;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    headers: HarNameValue[];
    queryString: HarNameValue[];
    cookies: HarCookie[];
    postData?: {
      mimeType: string;
      text: string;
      params: HarNameValue[];
      _encoding?: 'base64';
      _truncated?: boolean;
    };
    headersSize: number;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    headers: HarNameValue[];
    cookies: HarCookie[];
    content: {
      size: number;
      mimeType: string;
      text?: string;
      encoding?: 'base64';
      _truncated?: boolean;
    };
    redirectURL: string;
    headersSize: number;
    bodySize: number;
    comment?: string;
    _error?: string;
  };
  cache: Record<string, never>;
  timings: {
    blocked: number;
    dns: number;
    connect: number;
    send: number;
    wait: number;
    receive: number;
    ssl: number;
  };
  connection?: string;
  _visibility: string;
  _connId: string;
}

export interface Har {
  log: {
    version: '1.2';
    creator: { name: string; version: string };
    pages: [];
    entries: HarEntry[];
    comment?: string;
  };
}

interface Pending {
  request: HttpRequestEvent;
  response: HttpResponseEvent | null;
  error: UpstreamErrorEvent | null;
  /** What its events hold, as counted against `maxBytes`. */
  bytes: number;
}

function creatorVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown'; // the HAR is still valid without our version number
  }
}

const header = (headers: Header[], name: string): string | undefined =>
  headers.find(([n]) => n.toLowerCase() === name)?.[1];

const nameValues = (headers: Header[]): HarNameValue[] =>
  headers.map(([name, value]) => ({ name, value }));

/** `1.1` → `HTTP/1.1` (HAR writes the protocol name). */
function httpVersion(v: string): string {
  return /^HTTP\//i.test(v) ? v.toUpperCase() : `HTTP/${v}`;
}

function queryString(url: string): HarNameValue[] {
  try {
    return [...new URL(url).searchParams].map(([name, value]) => ({ name, value }));
  } catch {
    return []; // not an absolute URL: nothing to split
  }
}

function requestCookies(headers: Header[]): HarCookie[] {
  const out: HarCookie[] = [];
  for (const [n, v] of headers) {
    if (n.toLowerCase() !== 'cookie') continue;
    for (const part of v.split(';')) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      out.push({ name: part.slice(0, eq).trim(), value: part.slice(eq + 1).trim() });
    }
  }
  return out;
}

function responseCookies(headers: Header[]): HarCookie[] {
  const out: HarCookie[] = [];
  for (const [n, v] of headers) {
    if (n.toLowerCase() !== 'set-cookie') continue;
    const [pair = '', ...attrs] = v.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const cookie: HarCookie = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim() };
    for (const attr of attrs) {
      const [k = '', ...rest] = attr.split('=');
      const key = k.trim().toLowerCase();
      const val = rest.join('=').trim();
      if (key === 'path') cookie.path = val;
      else if (key === 'domain') cookie.domain = val;
      else if (key === 'expires') {
        const d = new Date(val);
        if (!Number.isNaN(d.getTime())) cookie.expires = d.toISOString();
      } else if (key === 'httponly') cookie.httpOnly = true;
      else if (key === 'secure') cookie.secure = true;
    }
    out.push(cookie);
  }
  return out;
}

function bodyText(body: BodyCapture): { text: string; base64: boolean } {
  return 'text' in body
    ? { text: body.text, base64: false }
    : { text: body.bytes.toString('base64'), base64: true };
}

const ms = (v: number | null): number => (v === null || !Number.isFinite(v) ? -1 : Math.max(0, v));

function toEntry(p: Pending): HarEntry {
  const req = p.request;
  const res = p.response;
  const reqHeaders = req.headers;
  const entry: HarEntry = {
    startedDateTime: req.at,
    time: 0,
    request: {
      method: req.method,
      url: req.url,
      httpVersion: httpVersion(req.httpVersion),
      headers: nameValues(reqHeaders),
      queryString: queryString(req.url),
      cookies: requestCookies(reqHeaders),
      // The exact header bytes are not captured per request: -1 is HAR's "unknown".
      headersSize: -1,
      bodySize: req.body.size,
    },
    response: {
      status: res?.status ?? 0,
      statusText: res?.statusMessage ?? '',
      httpVersion: res ? httpVersion(res.httpVersion) : '',
      headers: res ? nameValues(res.headers) : [],
      cookies: res ? responseCookies(res.headers) : [],
      content: { size: res?.body.size ?? 0, mimeType: 'x-unknown' },
      redirectURL: (res && header(res.headers, 'location')) ?? '',
      headersSize: -1,
      bodySize: res ? res.body.size : -1,
    },
    cache: {},
    timings: { blocked: -1, dns: -1, connect: -1, send: 0, wait: 0, receive: 0, ssl: -1 },
    connection: req.connId,
    _visibility: req.visibility,
    _connId: req.connId,
  };
  if (req.body.size > 0) {
    const { text, base64 } = bodyText(req.body);
    entry.request.postData = {
      mimeType: header(reqHeaders, 'content-type') ?? '',
      text,
      params: [],
      ...(base64 ? { _encoding: 'base64' as const } : {}),
      ...(req.body.truncated ? { _truncated: true } : {}),
    };
  }
  if (res) {
    const { text, base64 } = bodyText(res.body);
    entry.response.content = {
      size: res.body.size,
      mimeType: header(res.headers, 'content-type') ?? 'x-unknown',
      text,
      ...(base64 ? { encoding: 'base64' as const } : {}),
      ...(res.body.truncated ? { _truncated: true } : {}),
    };
    // HAR: `connect` includes `ssl`; wait = time to first byte; receive = the rest.
    const t = res.timings;
    const tls = ms(t.tlsMs);
    const connect = ms(t.connectMs);
    const wait = ms(t.ttfbMs);
    const total = ms(t.totalMs);
    entry.timings = {
      blocked: -1,
      dns: ms(t.dnsMs),
      connect: connect < 0 ? connect : connect + Math.max(0, tls),
      send: 0,
      wait: Math.max(0, wait),
      receive: total < 0 ? 0 : Math.max(0, total - Math.max(0, wait)),
      ssl: tls,
    };
    if (wait < 0 && total < 0) {
      // No engine timings: fall back to the events' own clock.
      entry.timings.wait = Math.max(0, Date.parse(res.at) - Date.parse(req.at));
    }
    if (res.incomplete) {
      entry.response._error =
        `${res.incomplete.code}: ${res.incomplete.message} ` +
        '(the response was cut mid-body; the content is what arrived)';
    }
  } else if (p.error && p.error.status !== null) {
    // The server never answered, but the client did get an answer: the proxy's own, naming
    // the failure. Its headers and body are not in the events (only the status): sizes are
    // HAR's "unknown" (-1), the content empty.
    const status = p.error.status;
    const reason = `${p.error.code}: ${p.error.message}`;
    entry.response = {
      ...entry.response,
      status,
      statusText: STATUS_CODES[status] ?? '',
      httpVersion: 'HTTP/1.1', // Node's ServerResponse always answers in HTTP/1.1
      content: { size: 0, mimeType: 'text/plain; charset=utf-8' },
      comment: `mitm-lab answered ${status} itself: the upstream ${p.error.host}:${p.error.port} failed (${reason})`,
      _error: reason,
    };
    // The client waited from its request to the proxy's answer.
    entry.timings.wait = Math.max(0, Date.parse(p.error.at) - Date.parse(req.at));
  } else {
    entry.response._error = p.error ? `${p.error.code}: ${p.error.message}` : 'no response';
  }
  const tm = entry.timings;
  entry.time = [tm.dns, tm.connect, tm.send, tm.wait, tm.receive]
    .filter((v) => v > 0)
    .reduce((a, b) => a + b, 0);
  entry.time = Math.round(entry.time * 1000) / 1000;
  return entry;
}

export interface HarRecorderOptions {
  /** Entries kept; the oldest are dropped first (default 5000). */
  maxEntries?: number;
  /** Bytes the kept entries may hold; the oldest are dropped first (default 64 MiB). */
  maxBytes?: number;
}

/** Records HTTP flows from the bus and renders them as HAR 1.2. */
export class HarRecorder {
  private readonly flows = new Map<string, Pending>();
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private bytes = 0;
  private dropped = 0;
  private readonly unsubscribe: () => void;
  private readonly version = creatorVersion();

  constructor(bus: EventBus, opts: HarRecorderOptions = {}) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_HAR_ENTRIES;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_HAR_BYTES;
    this.unsubscribe = bus.on((e) => this.apply(e));
  }

  /** Stop recording (what was recorded stays available). */
  detach(): void {
    this.unsubscribe();
  }

  /** Number of entries held. */
  get size(): number {
    return this.flows.size;
  }

  /** Bytes the entries held now, as counted against `maxBytes`. */
  get heldBytes(): number {
    return this.bytes;
  }

  private apply(e: ProxyEvent): void {
    if (e.type === 'http.request') {
      const p: Pending = { request: e, response: null, error: null, bytes: 0 };
      this.flows.set(e.flowId, p);
      this.charge(p, requestBytes(e));
    } else if (e.type === 'http.response') {
      const p = this.flows.get(e.flowId);
      if (!p) return;
      p.response = e;
      this.charge(p, responseBytes(e));
    } else if (e.type === 'upstream.error' && e.flowId !== null) {
      const p = this.flows.get(e.flowId);
      if (!p) return;
      p.error = e;
      this.charge(p, upstreamErrorBytes(e));
    }
  }

  /** Count `bytes` more for `p`, then drop the oldest entries while over a limit (the newest stays). */
  private charge(p: Pending, bytes: number): void {
    p.bytes += bytes;
    this.bytes += bytes;
    while (
      this.flows.size > 1 &&
      (this.flows.size > this.maxEntries || this.bytes > this.maxBytes)
    ) {
      // The oldest in constant time (a fresh iterator walks the holes deleted entries leave).
      const oldest = shiftOldest(this.flows);
      if (!oldest) break;
      this.bytes -= oldest[1].bytes;
      this.dropped++;
    }
  }

  /** The archive so far, as a HAR 1.2 object (entries in request order). */
  toHar(): Har {
    const log: Har['log'] = {
      version: '1.2',
      creator: { name: 'mitm-lab', version: this.version },
      pages: [],
      entries: [...this.flows.values()].map(toEntry),
    };
    if (this.dropped > 0) {
      const mib = Math.round(this.maxBytes / 1024 / 1024);
      log.comment =
        `mitm-lab kept the last ${this.flows.size} entries (at most ${this.maxEntries}, ` +
        `holding at most ${mib} MiB); ${this.dropped} older ones were dropped`;
    }
    return { log };
  }

  /**
   * `writeTo`, synchronously: for a process that must stop now (a second Ctrl-C while it was
   * stopping), where an await might never come back.
   */
  writeToSync(path: string): void {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(this.toHar(), null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Write the archive to `path` atomically (temporary file + rename): never a half file, and
   * always a new file of mode 0600 (it holds what crossed in clear), whatever `path` was before.
   */
  async writeTo(path: string): Promise<void> {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify(this.toHar(), null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
