// The attach side of the feed: connect to a proxy's feed URL, hand each event to a callback
// (attach folds them into its own FlowStore), and turn connection trouble into clear errors:
// a malformed URL is a usage error (exit 2); a refused connection or a wrong token is a
// runtime error (exit 1) that says what to check.
import type { ProxyEvent } from '../events/types.ts';
import { LabError } from '../util/lab-error.ts';
import { WebSocket } from '../util/ws.ts';
import {
  CLOSE_TOO_SLOW,
  FEED_PROTOCOL,
  feedLines,
  parseFeedMessage,
  type FeedHello,
} from './protocol.ts';

export interface FeedClientOptions {
  /** Called for every event, history first, then live. */
  onEvent: (e: ProxyEvent) => void;
  /** Called when the server skipped events because this viewer fell behind. */
  onSkipped?: (count: number) => void;
  /** Give up connecting after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Called with the server's hello, before any event of this connection is delivered. */
  onHello?: (hello: FeedHello) => void;
}

export interface FeedClient {
  hello: FeedHello;
  /** Resolves when the feed ends, with a sentence saying why. */
  closed: Promise<{ code: number; reason: string; normal: boolean }>;
  /** Messages that were not feed messages (ignored). */
  readonly garbage: number;
  close(): void;
}

/** Check a feed URL; throws a usage LabError naming what is wrong. */
export function parseFeedUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LabError(
      'usage',
      `"${text}" is not a URL`,
      'expected ws://127.0.0.1:PORT/?token=..., as printed by the proxy',
    );
  }
  if (url.protocol !== 'ws:')
    throw new LabError(
      'usage',
      `the feed URL must start with ws:// (got ${url.protocol}//)`,
      'copy the URL the proxy printed',
    );
  if (!url.port)
    throw new LabError('usage', 'the feed URL has no port', 'copy the URL the proxy printed');
  if (!url.searchParams.get('token'))
    throw new LabError(
      'usage',
      'the feed URL has no ?token=',
      'copy the whole URL the proxy printed, token included',
    );
  return url;
}

export function connectFeed(urlText: string, opts: FeedClientOptions): Promise<FeedClient> {
  const url = parseFeedUrl(urlText);
  const where = `${url.hostname}:${url.port}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      handshakeTimeout: opts.timeoutMs ?? 5000,
      maxPayload: 256 * 1024 * 1024,
    });
    let hello: FeedHello | null = null;
    let garbage = 0;
    let settled = false;
    let resolveClosed: (v: { code: number; reason: string; normal: boolean }) => void = () => {};
    const closed = new Promise<{ code: number; reason: string; normal: boolean }>(
      (r) => (resolveClosed = r),
    );
    const fail = (err: LabError) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(err);
    };

    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      fail(
        status === 401
          ? new LabError(
              'runtime',
              `the feed at ${where} refused the token`,
              'copy the whole URL the proxy printed: the token changes every run',
            )
          : new LabError(
              'runtime',
              `the server at ${where} answered HTTP ${status}, not a mitm-lab feed`,
            ),
      );
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      const code = err.code ?? '';
      fail(
        code === 'ECONNREFUSED'
          ? new LabError(
              'runtime',
              `cannot connect to the feed at ${where}: connection refused`,
              'is the proxy still running, with --feed? The port changes every run.',
            )
          : new LabError('runtime', `cannot connect to the feed at ${where}: ${err.message}`),
      );
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        garbage++;
        return;
      }
      // One Buffer with ws's default binaryType ('nodebuffer', fragments joined).
      const bytes = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      for (const line of feedLines(bytes)) onLine(line);
    });
    const onLine = (line: string): void => {
      const msg = parseFeedMessage(line);
      if (!msg) {
        garbage++;
        return;
      }
      if ('feed' in msg) {
        if (msg.feed === 'hello' && !hello) {
          if (msg.protocol > FEED_PROTOCOL) {
            fail(
              new LabError(
                'runtime',
                `the feed at ${where} speaks protocol ${msg.protocol}, this mitm-lab only ${FEED_PROTOCOL}`,
                'attach with the same mitm-lab version as the proxy',
              ),
            );
            ws.close(1000, 'protocol too new');
            return;
          }
          hello = msg;
          settled = true;
          opts.onHello?.(msg);
          resolve({
            hello: msg,
            closed,
            get garbage() {
              return garbage;
            },
            close: () => ws.close(1000, 'viewer quit'),
          });
        } else if (msg.feed === 'skipped') opts.onSkipped?.(msg.count);
        return;
      }
      if (!hello) return;
      try {
        opts.onEvent(msg);
      } catch {
        // An event this viewer cannot fold (a newer or broken producer): count it, keep going.
        garbage++;
      }
    };
    ws.on('close', (code, reasonBuf) => {
      const reason = reasonBuf.toString();
      if (!settled) {
        fail(
          new LabError(
            'runtime',
            `the feed at ${where} closed before saying hello (${code} ${reason})`.trim(),
          ),
        );
      }
      const normal = code === 1000 || code === 1001;
      resolveClosed({
        code,
        reason:
          code === CLOSE_TOO_SLOW
            ? 'the feed dropped this viewer: it could not keep up'
            : code === 1001
              ? 'the proxy stopped'
              : code === 1006
                ? 'the connection to the feed broke'
                : reason || `connection closed (${code})`,
        normal,
      });
    });
  });
}

export interface FollowOptions extends FeedClientOptions {
  /**
   * A reconnected feed is about to replay its history: drop what the viewer holds, it comes
   * again (and what happened while it was away is in it, as far as the history reaches).
   */
  onReset: () => void;
  /** News for the viewer: the feed was lost and is being reconnected, or is back. */
  onStatus: (text: string) => void;
  /** Waits before each reconnect attempt, ms; the last one repeats (default 1, 2, 4, 5 s…). */
  retryDelaysMs?: readonly number[];
  /** Attempts before giving up (default 12: about a minute with the default waits). */
  maxAttempts?: number;
}

export interface FollowedFeed {
  /** The first connection's hello. */
  hello: FeedHello;
  /** Resolves when the feed is over for good: the proxy stopped, `close()`, or it gave up. */
  ended: Promise<{ reason: string; normal: boolean }>;
  close(): void;
}

/**
 * Connect like `connectFeed` (its errors, for the first connection), then stay connected: when
 * the feed drops this viewer (too slow: the server's advice is to reconnect) or the connection
 * breaks, connect again with growing waits, and replay the history to a reset viewer. A proxy
 * that stopped (close code 1001) or a token it no longer accepts (it restarted: a new token and
 * usually a new port) ends the feed for good, with a sentence saying so.
 */
export async function followFeed(urlText: string, opts: FollowOptions): Promise<FollowedFeed> {
  const delays = opts.retryDelaysMs ?? [1000, 2000, 4000, 5000];
  const maxAttempts = opts.maxAttempts ?? 12;
  let reconnecting = false;
  const connectOpts: FeedClientOptions = {
    ...opts,
    onHello: (hello) => {
      if (reconnecting) opts.onReset();
      opts.onHello?.(hello);
    },
  };
  let client = await connectFeed(urlText, connectOpts);
  const first = client.hello;
  let quit = false;
  let wake: () => void = () => {};
  const ended = (async (): Promise<{ reason: string; normal: boolean }> => {
    for (;;) {
      const closed = await client.closed;
      if (quit) return { reason: 'viewer quit', normal: true };
      if (closed.normal) return { reason: closed.reason, normal: true };
      let lastError = '';
      let back = false;
      for (let attempt = 1; attempt <= maxAttempts && !quit; attempt++) {
        const wait = delays[Math.min(attempt - 1, delays.length - 1)] ?? 1000;
        opts.onStatus(
          `${closed.reason}; reconnecting in ${formatSeconds(wait)} (attempt ${attempt} of ${maxAttempts})` +
            (lastError ? `: last try said ${lastError}` : ''),
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (quit) break;
        reconnecting = true;
        try {
          client = await connectFeed(urlText, connectOpts);
          back = true;
          break;
        } catch (err) {
          lastError = err instanceof LabError ? err.message : String(err);
          // A token the feed refuses will not become right by waiting: the proxy restarted.
          if (/refused the token/.test(lastError))
            return {
              reason: `${lastError}: the proxy restarted with a new feed URL; attach to the one it prints now`,
              normal: false,
            };
        }
      }
      if (quit) {
        if (back) client.close(); // quit while the new connection was being made
        return { reason: 'viewer quit', normal: true };
      }
      if (!back)
        return {
          reason: `${closed.reason}, and reconnecting failed ${maxAttempts} times (${lastError})`,
          normal: false,
        };
      opts.onStatus(
        `reconnected after "${closed.reason}": showing the proxy's recent history again`,
      );
    }
  })();
  return {
    hello: first,
    ended,
    close() {
      quit = true;
      wake();
      client.close();
    },
  };
}

function formatSeconds(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
