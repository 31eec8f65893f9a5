// Every time limit of the proxy, one per stage of a connection, in one place (issue 13: a
// stalled client or a silent server used to hold its sockets for good). Each default says its
// unit and why; docs/proxy.md lists them. `ProxyOptions.timeouts` overrides any of them (tests
// use short ones); the defaults are what users run.

/** A new client connection that sends nothing at all (TCP silent). */
export const CLIENT_SILENT_MS = 15_000;
// Why: a client sends its request or CONNECT as soon as it connects. Browsers keep
// preconnected sockets unused for at most 10 s themselves (Chromium's unused idle socket
// timeout); a silent connection beyond that only holds a descriptor.

/**
 * A request's headers must be complete within this, counted from the connection (first
 * request) or from the end of the previous response (keep-alive). Covers slow headers
 * (slowloris) and an HTTP/0.9 line (`GET /`), which Node's parser never completes.
 */
export const REQUEST_HEADERS_MS = 30_000;
// Why: long enough to type a request into `nc` by hand in a lab; Node's own default (60 s,
// checked every 30 s) let slow clients hold a descriptor for up to 90 s each.

/**
 * After `CONNECT 200`: the first bytes of the tunnel (a ClientHello) must come within this.
 * Nothing at all: the tunnel is opened anyway (some protocols have the server speak first),
 * and closed if the server stays silent as long again. Half a ClientHello: closed.
 */
export const AFTER_CONNECT_MS = 10_000;
// Why: long enough for a human typing into `openssl s_client`, short enough not to pile up
// sockets; a real client sends its ClientHello within a round trip.

/** A TLS handshake with a forged certificate, from the ClientHello to the client's Finished. */
export const HANDSHAKE_MS = 20_000;
// Why: a real handshake takes a few round trips (milliseconds on a LAN, ~1 s on a bad mobile
// link); a client stalled mid-handshake holds its descriptor and a TLS session in memory.

/** Connecting to the real server: TCP, and the TLS handshake for HTTPS. */
export const UPSTREAM_CONNECT_MS = 10_000;
// Why: servers connect in milliseconds to a few hundred; the OS would retry a silent address
// for about two minutes while the client waits with nothing to show. Answered 504.

/** From the request sent to the first byte of the server's response. Answered 504. */
export const UPSTREAM_FIRST_BYTE_MS = 30_000;
// Why: slow application pages answer within seconds; reverse proxies allow 30-60 s
// (nginx's proxy_read_timeout: 60 s). A server that accepts and never answers is cut here.

/** A response body (or a WebSocket handshake) with no byte from the server for this long. */
export const UPSTREAM_IDLE_MS = 30_000;
// Why: a streaming server sends something every few seconds; a body stalled for 30 s is cut
// (the client sees it cut too, see `http.response` `incomplete`). Waiting on a slow client
// (backpressure) never counts.

/** Every limit, by stage (milliseconds). */
export interface Timeouts {
  /** A new client connection that sends nothing ({@link CLIENT_SILENT_MS}). */
  clientSilentMs: number;
  /** Request headers, slow or HTTP/0.9 ({@link REQUEST_HEADERS_MS}). */
  requestHeadersMs: number;
  /** After `CONNECT 200`, until the ClientHello ({@link AFTER_CONNECT_MS}). */
  afterConnectMs: number;
  /** Mid-handshake with a forged certificate ({@link HANDSHAKE_MS}). */
  handshakeMs: number;
  /** Connecting to the real server ({@link UPSTREAM_CONNECT_MS}). */
  upstreamConnectMs: number;
  /** The server's first byte ({@link UPSTREAM_FIRST_BYTE_MS}). */
  upstreamFirstByteMs: number;
  /** The server silent mid-body ({@link UPSTREAM_IDLE_MS}). */
  upstreamIdleMs: number;
}

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  clientSilentMs: CLIENT_SILENT_MS,
  requestHeadersMs: REQUEST_HEADERS_MS,
  afterConnectMs: AFTER_CONNECT_MS,
  handshakeMs: HANDSHAKE_MS,
  upstreamConnectMs: UPSTREAM_CONNECT_MS,
  upstreamFirstByteMs: UPSTREAM_FIRST_BYTE_MS,
  upstreamIdleMs: UPSTREAM_IDLE_MS,
});

/**
 * `upstream.error` codes of mitm-lab's own upstream limits (Node's `ETIMEDOUT` is used for the
 * connect stage, as the OS would).
 */
export const UPSTREAM_FIRST_BYTE_TIMEOUT = 'UPSTREAM_FIRST_BYTE_TIMEOUT';
export const UPSTREAM_IDLE_TIMEOUT = 'UPSTREAM_IDLE_TIMEOUT';

/** Codes that mean the server was too slow (the client is answered 504, not 502). */
export const UPSTREAM_TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'ETIMEDOUT',
  UPSTREAM_FIRST_BYTE_TIMEOUT,
  UPSTREAM_IDLE_TIMEOUT,
]);

/** An error carrying one of these codes. */
export function timeoutError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** `1500` → `1.5 s`, `200` → `200 ms`: for sentences. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}
