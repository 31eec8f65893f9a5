// The feed's wire protocol: JSON text, one message per line; a WebSocket message carries one or
// more lines (events emitted in the same turn of the proxy's event loop travel together; JSON
// text never holds a raw newline). The server first sends a `hello` (alone), then the recent
// history, then live events; each event in its JSON form (the ProxyEvent objects of
// src/events/types.ts with captured bytes as base64, ../events/json.ts; docs/events.md). When a
// viewer falls behind, the server skips events for it and says how many with a `skipped` notice.
import { eventFromJson } from '../events/json.ts';
import type { ProxyEvent, ProxyListeningEvent } from '../events/types.ts';

/** Bumped on an incompatible change to this protocol (2: several lines per WebSocket message). */
export const FEED_PROTOCOL = 2;

// Control messages carry a `feed` field and no `type`; events carry `type` (and may have a
// `kind` of their own, e.g. ws.message), so the two never collide.

export interface FeedHello {
  feed: 'hello';
  protocol: number;
  /** The proxy's announcement, kept apart from the history so it is never evicted. */
  listening: ProxyListeningEvent | null;
  /** How many history events follow before the live stream. */
  history: number;
  /** Events older than the history window that a viewer will never see. */
  evicted: number;
}

export interface FeedSkipped {
  feed: 'skipped';
  /** Events this viewer missed because it could not keep up. */
  count: number;
}

export type FeedMessage = FeedHello | FeedSkipped | ProxyEvent;

/** Close codes the server uses (4000-4999 are for applications, RFC 6455 §7.4.2). */
export const CLOSE_TOO_SLOW = 4001;
export const CLOSE_SHUTDOWN = 1001;

/** The byte of the line separator. */
const NEWLINE = 0x0a;

/**
 * The lines of one WebSocket message (protocol 1 sent one per message; 2, one or more), each
 * decoded on its own: one 256 KiB string made and then split cost ~0.9 ms, the same bytes as
 * a string per line ~0.1 ms (a large string goes to V8's large-object space; issue 12).
 */
export function feedLines(data: Buffer): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const end = data.indexOf(NEWLINE, start);
    lines.push(data.toString('utf8', start, end < 0 ? data.length : end));
    if (end < 0) return lines;
    start = end + 1;
  }
}

/** Parse one message; null for anything that is not a well-formed feed message. */
export function parseFeedMessage(data: string): FeedMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    // Not JSON: the caller counts it as garbage and carries on.
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v['type'] === 'string') {
    return typeof v['id'] === 'string' && typeof v['at'] === 'string'
      ? eventFromJson(v as { type: string })
      : null;
  }
  if (v['feed'] === 'hello' && typeof v['protocol'] === 'number') return v as unknown as FeedHello;
  if (v['feed'] === 'skipped' && typeof v['count'] === 'number') return v as unknown as FeedSkipped;
  return null;
}
