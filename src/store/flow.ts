// What a view shows as one row: a flow. Two kinds exist, because two different things can
// happen on a client connection: an HTTP exchange (request + response, on plain HTTP or inside
// TLS the proxy terminated), or a TLS connection that never carried HTTP the proxy could read
// (the client refused the forged certificate, or the proxy tunnelled it untouched).
import type {
  BodyCapture,
  HttpRequestEvent,
  HttpResponseEvent,
  ProxyListeningEvent,
  TlsClientAcceptedEvent,
  TlsClientHelloEvent,
  TlsClientRejectedEvent,
  TlsForgedEvent,
  TunnelSummaryEvent,
  UpstreamErrorEvent,
  Visibility,
  WireCapture,
  WsHandshakeEvent,
  WsMessageEvent,
} from '../events/types.ts';
import type { HstsSeen } from './hsts.ts';

/** The one-glance lesson of a flow, shown as its badge in the list. */
export type Badge = 'HTTP plaintext' | 'HTTPS decrypted' | 'HTTPS refused' | 'HTTPS tunnelled';
export const BADGES: readonly Badge[] = [
  'HTTP plaintext',
  'HTTPS decrypted',
  'HTTPS refused',
  'HTTPS tunnelled',
];

/**
 * How the flow ended: `pending` (request seen, no response yet), `ok` (a response),
 * `upstream-error` (the proxy could not reach or trust the real server), `refused` (the client
 * refused the forged certificate), `tunnelled` (bytes passed through untouched).
 */
export type FlowOutcome = 'pending' | 'ok' | 'upstream-error' | 'refused' | 'tunnelled';
export const FLOW_OUTCOMES: readonly FlowOutcome[] = [
  'pending',
  'ok',
  'upstream-error',
  'refused',
  'tunnelled',
];

/** A body as the store keeps it: the capture, cut again to the store's limit when needed. */
export type StoredBody = BodyCapture & {
  /** True when the store cut the capture further (the original `truncated` still holds). */
  storeCut?: boolean;
};

/** Everything known about one client connection, folded from its events. */
export interface ConnInfo {
  connId: string;
  /** When `conn.open` arrived (ISO), or the first event seen for it. */
  openedAt: string;
  clientAddress: string | null;
  clientPort: number | null;
  hello: TlsClientHelloEvent | null;
  forged: TlsForgedEvent | null;
  accepted: TlsClientAcceptedEvent | null;
  rejected: TlsClientRejectedEvent | null;
  tunnel: TunnelSummaryEvent | null;
  /** Upstream failures with no flowId (e.g. a tunnel whose target could not be reached). */
  upstreamErrors: UpstreamErrorEvent[];
  /**
   * What crossed the client-side wire so far: folded from `conn.wire` while the connection is
   * open (null before the first one), then the final capture from `conn.close`. The Wire view
   * reads this one, so a kept-alive connection's wire shows while it is still open.
   */
  wire: WireCapture | null;
  /** Set when the connection closed: duration and what crossed the client-side wire. */
  closed: { at: string; durationMs: number; wire: WireCapture } | null;
  /**
   * How many HTTP flows this connection carried (a count, not a list: a keep-alive connection
   * under a load test carries thousands, and the flows themselves are in the ring).
   */
  flowCount: number;
}

/** One row of the flow list. */
export interface Flow {
  /** The engine's flowId for HTTP; `tls:<connId>` for a TLS connection without HTTP. */
  id: string;
  /** Arrival order in the store, increasing. */
  seq: number;
  kind: 'http' | 'tls';
  connId: string;
  /** ISO time of the first event of this flow. */
  at: string;
  badge: Badge;
  outcome: FlowOutcome;
  /** Who could read the content: `wire` (anyone), `proxy-only` (us), null (nobody: refused / tunnelled). */
  visibility: Visibility | null;
  host: string;
  port: number | null;
  method: string | null;
  path: string | null;
  url: string | null;
  status: number | null;
  /** Bytes: the response body size for HTTP, bytes both ways for a tunnel, null when unknown. */
  size: number | null;
  request: (Omit<HttpRequestEvent, 'body'> & { body: StoredBody }) | null;
  response: (Omit<HttpResponseEvent, 'body'> & { body: StoredBody }) | null;
  upstreamError: UpstreamErrorEvent | null;
  /**
   * A WebSocket flow's two handshakes, once both completed: the proxy's own upgrade request to
   * the server and its 101 to the client (`request` and `response` are the other halves).
   * Null for every other flow, and for an upgrade the server refused.
   */
  wsHandshake: WsHandshakeEvent | null;
  /** WebSocket messages on this flow, oldest first (bounded; `wsDropped` counts the rest). */
  ws: WsMessageEvent[];
  wsDropped: number;
  /**
   * A refused TLS connection to a host the proxy saw send Strict-Transport-Security earlier (in
   * a response it decrypted): that header, so the Why view can say the host uses HSTS. Null
   * otherwise, and for every other flow.
   */
  hsts: HstsSeen | null;
  /** The connection this flow rode on (shared by the flows of a keep-alive connection). */
  conn: ConnInfo;
}

/** True when `--tamper` changed the flow's request or its response (events' `tampered`). */
export function isTampered(f: Flow): boolean {
  return Boolean(f.request?.tampered || f.response?.tampered);
}

/** The proxy's own announcement, when the store saw one. */
export type ListeningInfo = ProxyListeningEvent;

/** Per-badge counts, for the header. */
export type BadgeCounts = Record<Badge, number>;
