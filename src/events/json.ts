// The JSON edge of the events (issue 12, item 2): in process, captured bytes travel as Buffers
// named `bytes`, so the engine's capture reaches the store without being encoded and decoded
// again; the `--events` file and the feed carry them as base64 strings named `base64`, the form
// docs/events.md documents. `eventJson` writes that form (the same text, key for key, as the
// events had when they held base64 themselves); `eventFromJson` reads it back, for `attach`
// and the commands that replay a file.
//
// Like types.ts, this file imports nothing but types (test/architecture.test.ts).
import type {
  BodyCapture,
  ConnCloseEvent,
  ConnWireEvent,
  HttpRequestEvent,
  HttpResponseEvent,
  ProxyEvent,
  TamperMark,
  UpstreamWireEvent,
  WireBytes,
  WireDelta,
} from './types.ts';

/** The last event `eventJson` wrote, and its line (see below). */
let lastEvent: ProxyEvent | null = null;
let lastLine = '';

/**
 * One event as a line of JSON text (no newline): byte fields as base64.
 *
 * The line of the last event asked for is kept and given again for the same event object: the
 * bus hands each event to every listener before it emits the next, so with both an `--events`
 * file and a feed (a viewer attached) the second of them gets the first's line instead of
 * serialising the event again (~7 µs less per HTTPS request over a recorded load, issue 12).
 * Listeners only read the events they are given (./bus.ts), which is what makes this safe.
 */
export function eventJson(e: ProxyEvent): string {
  if (e === lastEvent) return lastLine;
  const line = JSON.stringify(jsonForm(e));
  lastEvent = e;
  lastLine = line;
  return line;
}

/**
 * The event as JSON would carry it: a copy with each `bytes` replaced by `base64`, in the same
 * place among the keys; the event itself when it carries no bytes.
 */
export function jsonForm(e: ProxyEvent): object {
  switch (e.type) {
    case 'http.request':
    case 'http.response':
      return httpJson(e);
    case 'conn.wire':
      return { ...e, up: deltaJson(e.up), down: deltaJson(e.down) } satisfies Json<ConnWireEvent>;
    case 'conn.close':
      return {
        ...e,
        wire: { ...e.wire, up: wireJson(e.wire.up), down: wireJson(e.wire.down) },
      } satisfies Json<ConnCloseEvent>;
    case 'upstream.wire':
      return {
        ...e,
        chunks: e.chunks.map((c) => ({ dir: c.dir, t: c.t, base64: b64(c.bytes) })),
      } satisfies Json<UpstreamWireEvent>;
    default:
      return e;
  }
}

/**
 * An event parsed from JSON text (an events file, the feed) back in its in-process form: each
 * `base64` of a body, a wire capture or an upstream chunk becomes `bytes`. The rest is left as it
 * came: the store and views take malformed events without throwing, and a `base64` that is not a
 * string becomes empty bytes.
 */
export function eventFromJson(parsed: { readonly type: string }): ProxyEvent {
  const v = parsed as Record<string, unknown> & { type: string };
  switch (v.type) {
    case 'http.request':
    case 'http.response': {
      const out: Record<string, unknown> = { ...v, body: bytesIn(v['body']) };
      const t = v['tampered'];
      if (isObject(t))
        out['tampered'] = { ...t, before: bytesIn(t['before']), after: bytesIn(t['after']) };
      return out as unknown as ProxyEvent;
    }
    case 'conn.wire':
      return { ...v, up: bytesIn(v['up']), down: bytesIn(v['down']) } as unknown as ProxyEvent;
    case 'conn.close': {
      const w = v['wire'];
      if (!isObject(w)) return v as unknown as ProxyEvent;
      return {
        ...v,
        wire: { ...w, up: bytesIn(w['up']), down: bytesIn(w['down']) },
      } as unknown as ProxyEvent;
    }
    case 'upstream.wire': {
      const chunks = v['chunks'];
      if (!Array.isArray(chunks)) return v as unknown as ProxyEvent;
      return { ...v, chunks: chunks.map(bytesIn) } as unknown as ProxyEvent;
    }
    default:
      return v as unknown as ProxyEvent;
  }
}

/** `T` with each `bytes: Buffer` field as `base64: string` (what JSON carries). */
type Json<T> = T extends Buffer
  ? string
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T as K extends 'bytes' ? 'base64' : K]: Json<T[K]> }
      : T;

function httpJson(e: HttpRequestEvent | HttpResponseEvent): object {
  const body = bodyJson(e.body); // the same object for a text body
  if (!e.tampered) return body === e.body ? e : { ...e, body };
  return { ...e, body, tampered: tamperJson(e.tampered) };
}

function bodyJson(b: BodyCapture): Json<BodyCapture> {
  return 'bytes' in b ? { base64: b64(b.bytes), size: b.size, truncated: b.truncated } : b;
}

function tamperJson(t: TamperMark): Json<TamperMark> {
  return { ...t, before: bodyJson(t.before), after: bodyJson(t.after) };
}

function deltaJson(d: WireDelta): Json<WireDelta> {
  return { offset: d.offset, base64: b64(d.bytes), size: d.size, truncated: d.truncated };
}

function wireJson(w: WireBytes): Json<WireBytes> {
  return { base64: b64(w.bytes), size: w.size, truncated: w.truncated };
}

function b64(bytes: Buffer): string {
  return bytes.length === 0 ? '' : bytes.toString('base64');
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** An object whose `base64` (when it has one) becomes `bytes`, in the same place. */
function bytesIn(x: unknown): unknown {
  if (!isObject(x) || !('base64' in x)) return x;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(x)) {
    if (k === 'base64')
      out['bytes'] = typeof val === 'string' ? Buffer.from(val, 'base64') : Buffer.alloc(0);
    else out[k] = val;
  }
  return out;
}
