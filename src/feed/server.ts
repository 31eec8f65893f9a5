// The event feed: serves the proxy's events over WebSocket so `mitm-lab attach` can show the
// same UI on another terminal (a projector). Loopback only, a random token in the URL (a web
// page in the instructor's browser must not be able to read the traffic through it), bounded
// history replayed to each new viewer, then live events. A viewer that cannot keep up is
// skipped ahead, then dropped if it stays stuck: the proxy is never slowed by a viewer.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { EventBus } from '../events/bus.ts';
import { eventJson } from '../events/json.ts';
import type { ProxyEvent, ProxyListeningEvent } from '../events/types.ts';
import { coalesceFlushes } from '../util/coalesce.ts';
import { LabError } from '../util/lab-error.ts';
import { WebSocketServer, type WebSocket } from '../util/ws.ts';
import {
  CLOSE_SHUTDOWN,
  CLOSE_TOO_SLOW,
  FEED_PROTOCOL,
  type FeedHello,
  type FeedSkipped,
} from './protocol.ts';

export interface FeedServerOptions {
  bus: EventBus;
  /** Loopback only: 127.0.0.1 (default), ::1 or localhost. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Events kept for replay to a new viewer (default 5000). */
  historyEvents?: number;
  /** Bytes of serialized events kept for replay (default 16 MiB). */
  historyBytes?: number;
  /** A viewer with more than this queued is skipped ahead (default 4 MiB). */
  maxBufferedBytes?: number;
  /** A viewer still over the limit after this long is dropped (default 5000 ms). */
  stallMs?: number;
  /** At most one message of live events per this many ms (default FEED_FLUSH_INTERVAL_MS). */
  flushIntervalMs?: number;
}

export interface FeedServer {
  /** What `mitm-lab attach` wants: `ws://127.0.0.1:PORT/?token=…`. */
  url: string;
  host: string;
  port: number;
  /** Viewers connected now. */
  readonly viewers: number;
  /** Viewers dropped for being too slow, since start. */
  readonly dropped: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
/** Largest WebSocket message of batched events (a batch reaching it goes out at once). */
const BATCH_BYTES = 256 * 1024;
/**
 * At most one message of live events per this many ms. After a quiet spell events go out at the
 * end of their turn of the event loop; under load, those of the next 50 ms go out together. A
 * message per turn meant a write and a wake-up of the viewer for every few events; with this,
 * the viewer's CPU per request fell by 0-17 % in three replay pairs, and sending took 1.8 % of
 * the proxy's CPU instead of 6 % (issue 12). The UI draws at most 20 times a second, so a viewer
 * shows nothing later than it did.
 */
export const FEED_FLUSH_INTERVAL_MS = 50;

interface Viewer {
  ws: WebSocket;
  skipped: number;
  /** When it went over the buffer limit (ms since epoch), or null while it keeps up. */
  overSince: number | null;
}

export async function startFeedServer(opts: FeedServerOptions): Promise<FeedServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !/^127\.\d+\.\d+\.\d+$/.test(host)) {
    throw new LabError(
      'usage',
      `the event feed listens on loopback only, not on ${host}`,
      'use 127.0.0.1 (attach from another terminal on the same machine)',
    );
  }
  const historyEvents = opts.historyEvents ?? 5000;
  const historyBytes = opts.historyBytes ?? 16 * 1024 * 1024;
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const stallMs = opts.stallMs ?? 5000;
  const token = randomBytes(18).toString('base64url');
  const tokenBuf = Buffer.from(token);

  // History: serialized once, shared by every viewer. A queue with a moving head: dropping the
  // oldest is O(1) (Array#shift copied all 5,000 lines on every event once it was full).
  let history: string[] = [];
  let historyHead = 0;
  let historySize = 0;
  const historyLength = (): number => history.length - historyHead;
  // Events since the last delivery, sent together at the end of this turn of the event loop:
  // one WebSocket message (and one write) per batch instead of one per event.
  let batch: string[] = [];
  let batchBytes = 0;
  let evicted = 0;
  let listening: ProxyListeningEvent | null = null;
  const viewers = new Set<Viewer>();
  let dropped = 0;

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('mitm-lab event feed: connect with `mitm-lab attach URL`\n');
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'ws://feed');
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const ok = given.length === tokenBuf.length && timingSafeEqual(given, tokenBuf);
    if (!ok || url.pathname !== '/') {
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' +
          'wrong or missing token\n',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => welcome(ws));
  });

  function welcome(ws: WebSocket): void {
    // Lines still batched are in the history this viewer is about to get: send them to the
    // others first, so none reaches anyone twice.
    flushBatch();
    const viewer: Viewer = { ws, skipped: 0, overSince: null };
    const hello: FeedHello = {
      feed: 'hello',
      protocol: FEED_PROTOCOL,
      listening,
      history: historyLength(),
      evicted,
    };
    ws.send(JSON.stringify(hello));
    // The replay is bounded by historyBytes, so it may go over maxBuffered once: that is the
    // price of a complete picture, paid once per viewer. In messages of up to BATCH_BYTES.
    let lines: string[] = [];
    let bytes = 0;
    for (let i = historyHead; i < history.length; i++) {
      const line = history[i]!;
      lines.push(line);
      bytes += line.length + 1;
      if (bytes >= BATCH_BYTES) {
        ws.send(lines.join('\n'));
        lines = [];
        bytes = 0;
      }
    }
    if (lines.length) ws.send(lines.join('\n'));
    viewers.add(viewer);
    ws.on('close', () => viewers.delete(viewer));
    ws.on('error', () => viewers.delete(viewer));
    // Viewers only listen; anything they send is ignored.
  }

  /** Send the batch to every viewer (the history already holds it). */
  function flushBatch(): void {
    if (batch.length === 0) return;
    const lines = batch;
    batch = [];
    batchBytes = 0;
    deliver(lines.length === 1 ? lines[0]! : lines.join('\n'), lines.length);
  }

  function deliver(message: string, count: number): void {
    const now = Date.now();
    for (const v of viewers) {
      if (v.ws.readyState !== v.ws.OPEN) continue;
      if (v.ws.bufferedAmount > maxBuffered) {
        v.skipped += count;
        v.overSince ??= now;
        if (now - v.overSince > stallMs) {
          viewers.delete(v);
          dropped++;
          v.ws.close(CLOSE_TOO_SLOW, 'viewer too slow: reconnect to catch up');
          // A stuck peer may never complete the close handshake: cut it.
          setTimeout(() => v.ws.terminate(), 1000).unref();
        }
        continue;
      }
      if (v.skipped) {
        const note: FeedSkipped = { feed: 'skipped', count: v.skipped };
        v.ws.send(JSON.stringify(note));
        v.skipped = 0;
      }
      v.overSince = null;
      v.ws.send(message);
    }
  }

  const scheduled = coalesceFlushes(opts.flushIntervalMs ?? FEED_FLUSH_INTERVAL_MS, flushBatch);
  const off = opts.bus.on((e: ProxyEvent) => {
    if (e.type === 'proxy.listening') listening = e;
    const line = eventJson(e);
    history.push(line);
    historySize += line.length;
    while (historyLength() > historyEvents || (historySize > historyBytes && historyLength() > 1)) {
      historySize -= history[historyHead]!.length;
      history[historyHead] = '';
      historyHead++;
      evicted++;
    }
    // Compact once the dropped head is as long as what is kept.
    if (historyHead > 1024 && historyHead * 2 > history.length) {
      history = history.slice(historyHead);
      historyHead = 0;
    }
    if (viewers.size === 0) return; // the history has it; nobody to send it to now
    batch.push(line);
    batchBytes += line.length + 1;
    if (batchBytes >= BATCH_BYTES) flushBatch();
    else scheduled.request();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new LabError(
          'runtime',
          `the event feed could not listen on ${host}:${opts.port ?? 0}: ${err.code ?? err.message}`,
        ),
      ),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `ws://${urlHost}:${port}/?token=${token}`,
    host,
    port,
    get viewers() {
      return viewers.size;
    },
    get dropped() {
      return dropped;
    },
    async close() {
      off();
      // The last events reach the viewers before the goodbye.
      scheduled.cancel();
      flushBatch();
      viewers.clear();
      // Say goodbye properly (attach tells the user the proxy stopped), but do not wait long
      // for viewers that never answer.
      const closing = [...wss.clients].map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.once('close', () => resolve());
            ws.close(CLOSE_SHUTDOWN, 'the proxy stopped');
          }),
      );
      await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 500).unref())]);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
