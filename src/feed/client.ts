// The attach side of the feed: connect to a proxy's feed URL, hand each event to a callback
// (attach folds them into its own FlowStore), and turn connection trouble into clear errors:
// a malformed URL is a usage error (exit 2); a refused connection or a wrong token is a
// runtime error (exit 1) that says what to check.
import type { ProxyEvent } from '../events/types.ts';
import { LabError } from '../util/lab-error.ts';
import { WebSocket } from '../util/ws.ts';
import { CLOSE_TOO_SLOW, parseFeedMessage, type FeedHello } from './protocol.ts';

export interface FeedClientOptions {
  /** Called for every event, history first, then live. */
  onEvent: (e: ProxyEvent) => void;
  /** Called when the server skipped events because this viewer fell behind. */
  onSkipped?: (count: number) => void;
  /** Give up connecting after this long (default 5000 ms). */
  timeoutMs?: number;
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
      const msg = parseFeedMessage(data.toString());
      if (!msg) {
        garbage++;
        return;
      }
      if ('feed' in msg) {
        if (msg.feed === 'hello' && !hello) {
          hello = msg;
          settled = true;
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
    });
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
              : reason || `connection closed (${code})`,
        normal,
      });
    });
  });
}
