// The event vocabulary of mitm-lab. Everything downstream of the proxy engine (flow store,
// terminal UI, JSONL log, HAR, ws feed, `attach`) is built from these objects only, so their
// shape is a contract: documented field by field in docs/events.md, and stamped by the bus with
// `id` and `at`. In process, captured bytes travel as Buffers in fields named `bytes` (the
// engine's capture is handed on, not encoded and decoded again); everything else is plain data
// (no sockets or class instances). At the JSON edge (the `--events` file, the feed, replay)
// ./json.ts turns each `bytes` into a base64 string named `base64` and back: that is the form
// docs/events.md documents.
//
// This file imports nothing, by rule (test/architecture.test.ts).

/** How the engine treats CONNECT tunnels. */
export type Mode = 'intercept' | 'eavesdrop' | 'auto';
export const MODES: readonly Mode[] = ['auto', 'intercept', 'eavesdrop'];

/**
 * Who can read a piece of traffic: `wire` = anyone on the path (plain HTTP);
 * `proxy-only` = only this proxy, because it terminated TLS with a forged certificate.
 */
export type Visibility = 'wire' | 'proxy-only';

/** An HTTP header as it crossed: name in its original case, order and duplicates kept. */
export type Header = [name: string, value: string];

/**
 * A captured body, bounded. `size` is the full size seen; `truncated` says the capture was cut.
 * Text when it decodes as such, else the bytes (`base64` in the JSON form, ./json.ts).
 */
export type BodyCapture =
  | { text: string; size: number; truncated: boolean }
  | { bytes: Buffer; size: number; truncated: boolean };

/**
 * A flow the proxy changed (`--tamper`): the rules that changed it and the body before and
 * after, decoded (`encoding` says what both were wrapped in on the wire, e.g. `gzip`). The
 * event's own `body` stays what the sender sent; `after` is what the receiver got instead.
 */
export interface TamperMark {
  /** The names of the rules that changed something. */
  rules: string[];
  /** The body as its sender sent it, decoded, bounded like `body`. */
  before: BodyCapture;
  /** The body the proxy passed on instead, decoded, bounded like `body`. */
  after: BodyCapture;
  /** The Content-Encoding both crossed in (re-encoded after the change), or null. */
  encoding: string | null;
}

/** What one X.509 certificate says, as a person would read it. */
export interface CertSummary {
  /** Subject distinguished name, e.g. `CN=bank.test, O=mitm-lab`. */
  subject: string;
  /** The subject's common name, or null when it has none. */
  subjectCN: string | null;
  /** Issuer distinguished name. */
  issuer: string;
  /** Subject alternative names, prefixed by type: `DNS:bank.test`, `IP:127.0.0.1`. */
  sans: string[];
  /** Validity start, ISO 8601. */
  notBefore: string;
  /** Validity end, ISO 8601. */
  notAfter: string;
  /** Serial number, lower-case hex. */
  serial: string;
  /** SHA-256 of the DER certificate, upper-case hex pairs joined by `:`. */
  sha256: string;
  /** SHA-256 of the SubjectPublicKeyInfo, base64 (the value pinning and Chromium's SPKI list use). */
  spkiSha256: string;
  /** Key algorithm and size, e.g. `RSA 2048`. */
  key: string;
  /** True when subject and issuer are the same and the certificate signs itself. */
  selfSigned: boolean;
}

/** One TLS record as a passive observer parses it off the wire. */
export interface TlsRecord {
  /** Which way it went: `up` = client to server, `down` = server to client. */
  dir: 'up' | 'down';
  /** Milliseconds since the connection opened. */
  t: number;
  /** Record content type: `handshake`, `change_cipher_spec`, `alert`, `application_data`, or `unknown(N)`. */
  contentType: string;
  /** Record-layer version, e.g. `TLS 1.2` (TLS 1.3 records say `TLS 1.2` on the wire). */
  version: string;
  /** Record payload length in bytes. */
  length: number;
  /** For handshake records still in clear: the message types, e.g. `["ClientHello"]`. */
  handshake?: string[];
  /** For an alert in clear: its level and description. */
  alert?: { level: 'warning' | 'fatal'; code: number; name: string };
}

/** Raw bytes of one direction of a connection, as captured on the client side (bounded). */
export interface WireBytes {
  /** The first bytes (at most the capture limit); `base64` in the JSON form. */
  bytes: Buffer;
  /** Total bytes that crossed in this direction. */
  size: number;
  /** True when `size` exceeds what `bytes` holds. */
  truncated: boolean;
}

/** What an eavesdropper on the client's path saw of one connection. */
export interface WireCapture {
  up: WireBytes;
  down: WireBytes;
  /** TLS records in both directions, in order (empty for plain HTTP). */
  records: TlsRecord[];
  /** True when more records crossed than `records` holds. */
  recordsTruncated: boolean;
  /** TLS 1.2 only: the server's certificate chain, which crosses in clear. Null for TLS 1.3 / none. */
  serverCertificates: CertSummary[] | null;
  /** The negotiated version as a passive observer can tell it from the ServerHello, or null. */
  tlsVersion: string | null;
  /**
   * The cipher suite the ServerHello chose (IANA name, e.g. `TLS_AES_128_GCM_SHA256`), in clear
   * in every TLS version; null before a ServerHello or for plain HTTP. Optional: added later.
   */
  cipherSuite?: string | null;
  /**
   * The (EC)DHE key-exchange group (`x25519`, `secp256r1`, …): TLS 1.3 names it in the
   * ServerHello key_share, TLS 1.2 in the ServerKeyExchange, both in clear; null when none was
   * seen (e.g. TLS 1.2 RSA key transport). Optional: added later.
   */
  keyExchangeGroup?: string | null;
}

/** Per-request timings in milliseconds; null where a phase did not happen (reused connection). */
export interface Timings {
  dnsMs: number | null;
  connectMs: number | null;
  tlsMs: number | null;
  ttfbMs: number | null;
  totalMs: number | null;
}

/** How a client's TLS attempt against a forged certificate ended, when no request arrived. */
export type RejectOutcome =
  | 'alert'
  | 'closed-after-handshake'
  | 'reset-during-handshake'
  | 'timeout'
  | 'no-shared-version-or-cipher'
  | 'not-tls'
  | 'unknown';

/**
 * The highest TLS version mitm-lab offers a client on the forged leg (`--client-tls-max`): in
 * TLS 1.2 the forged certificate crosses the wire in clear, in TLS 1.3 it is encrypted.
 */
export type ClientTlsMax = '1.2' | '1.3';
export const CLIENT_TLS_MAXES: readonly ClientTlsMax[] = ['1.3', '1.2'];

/** Why a CONNECT was tunnelled instead of intercepted. */
export type TunnelReason =
  'mode-eavesdrop' | 'auto-refused-before' | 'outside-name-constraints' | 'not-tls' | 'mint-failed';

interface Base {
  /** Unique within a run, increasing: `e1`, `e2`, … */
  id: string;
  /** When it happened, ISO 8601 with milliseconds. */
  at: string;
  /** The client connection it belongs to (`c1`, `c2`, …), or null for proxy-wide events. */
  connId: string | null;
}

export interface ProxyListeningEvent extends Base {
  type: 'proxy.listening';
  host: string;
  port: number;
  mode: Mode;
  caName: string;
  caSha256: string;
  /** False only with --insecure-upstream. */
  upstreamValidation: boolean;
  /** True when the session writes the TLS secrets of both legs to a key log (`--keylog`). */
  keylog: boolean;
  /**
   * True when the session writes both legs as a pcapng capture (`--pcap`; the upstream leg comes
   * as `upstream.wire` events): with the key log, an events file alone tells that the capture
   * of an intercepted connection can be decrypted (exercise 8).
   */
  pcap: boolean;
  /**
   * The names of the tamper rules this session applies (`--tamper`), empty when none: the
   * proxy changes what it relays on plain-HTTP and decrypted flows that match. Optional:
   * added later (the engine always sets it).
   */
  tamper?: string[];
}

export interface ConnOpenEvent extends Base {
  type: 'conn.open';
  connId: string;
  clientAddress: string;
  clientPort: number;
}

export interface ConnCloseEvent extends Base {
  type: 'conn.close';
  connId: string;
  durationMs: number;
  /** What crossed the wire between the client and the proxy. */
  wire: WireCapture;
}

/** New captured bytes of one direction since the previous `conn.wire` of the connection. */
export interface WireDelta {
  /** Where `bytes` starts in this direction's captured bytes: the bytes earlier `conn.wire` events carried. */
  offset: number;
  /**
   * The bytes captured since the previous `conn.wire` (empty when none, or past the capture
   * limit); `base64` in the JSON form.
   */
  bytes: Buffer;
  /** Total bytes that crossed in this direction so far. */
  size: number;
  /** True when `size` exceeds what the capture holds (the capture limit was reached). */
  truncated: boolean;
}

/**
 * The wire capture of a connection that is still open, sent as it grows (at most every
 * ~500 ms per connection when something new crossed, and within 50 ms of an `http.response`).
 * Only what is new since the previous `conn.wire` of the connection: appending the deltas
 * (checking `offset` / `recordsFrom`) rebuilds the capture so far. `conn.close` still carries
 * the whole capture, and replaces it.
 */
export interface ConnWireEvent extends Base {
  type: 'conn.wire';
  connId: string;
  up: WireDelta;
  down: WireDelta;
  /** TLS records parsed since the previous `conn.wire`, in order. */
  records: TlsRecord[];
  /** The index of `records[0]` in the connection's record list (records sent before). */
  recordsFrom: number;
  /** True once more records crossed than the capture keeps (later ones are only counted). */
  recordsTruncated: boolean;
  /** TLS 1.2: the server's certificate chain, in the first `conn.wire` after it crossed; else null. */
  serverCertificates: CertSummary[] | null;
  /** As in WireCapture, so far. */
  tlsVersion: string | null;
  cipherSuite: string | null;
  keyExchangeGroup: string | null;
}

/** One read from or write to a server socket, as the upstream capture keeps it. */
export interface UpstreamChunk {
  /** `up` = the proxy to the server, `down` = the server to the proxy. */
  dir: 'up' | 'down';
  /** Milliseconds since the proxy opened the connection (`openedAt`). */
  t: number;
  /** The bytes (the raw TCP payload: TLS records on an HTTPS connection); `base64` in the JSON form. */
  bytes: Buffer;
}

/**
 * What crossed on one of the proxy's own connections to a server (the upstream leg), sent only
 * when the session writes a pcapng capture (`--pcap`): the raw TCP payload both ways — TLS
 * records for HTTPS, exactly as on the wire — with the socket's real addresses. One upstream
 * connection may carry the requests of several client connections (keep-alive). Only what is
 * new since the previous `upstream.wire` of the same `upstreamId`: sent when a client
 * connection that used it closes (after its `conn.close`), and when it closes itself (`closed`,
 * the last one; held back while a client connection that used it is still open). Bounded like
 * the client side's wire capture.
 */
export interface UpstreamWireEvent extends Base {
  type: 'upstream.wire';
  /** Null: an upstream connection is no client connection's (`conn.close` stays the last event of one). */
  connId: null;
  /** The client connection whose requests it carried last (a tunnel: its client), or null. */
  clientConnId: string | null;
  /** The upstream connection, unique within a run: `u1`, `u2`, … */
  upstreamId: string;
  /** `http` (plain), `https` (TLS to the server, the proxy is its client) or `tunnel` (a CONNECT piped through). */
  kind: 'http' | 'https' | 'tunnel';
  /** The proxy's end of the TCP connection. */
  localAddress: string;
  localPort: number;
  /** The server's end (the real address the name resolved to). */
  remoteAddress: string;
  remotePort: number;
  /** When the proxy opened it, ISO 8601 with milliseconds. */
  openedAt: string;
  /** The reads and writes since the previous `upstream.wire`, in order. */
  chunks: UpstreamChunk[];
  /** Total bytes the proxy sent to the server so far. */
  bytesUp: number;
  /** Total bytes the server sent so far. */
  bytesDown: number;
  /** True once the capture was cut (a direction past the capture limit, or too many chunks): later bytes are only counted. */
  truncated: boolean;
  /** True on the last one: the connection is closed. */
  closed: boolean;
}

export interface TlsClientHelloEvent extends Base {
  type: 'tls.client-hello';
  connId: string;
  /** The CONNECT target host and port. */
  host: string;
  port: number;
  /** Server Name Indication, in clear in the ClientHello; null when the client sent none. */
  sni: string | null;
  alpn: string[];
  /** Versions offered, e.g. `["TLS 1.3", "TLS 1.2"]`. */
  versions: string[];
  /** Cipher suites offered, by IANA name (GREASE removed). */
  cipherSuites: string[];
  ja3: string;
  ja4: string;
  /** A guess at the client from the ClientHello (`curl`, `chromium`, `node`, `python`, …), or null. */
  clientHint: string | null;
}

export interface TlsForgedEvent extends Base {
  type: 'tls.forged';
  connId: string;
  host: string;
  sni: string | null;
  certificate: CertSummary;
  /** True when the certificate came from the cache. */
  cached: boolean;
  mintMs: number;
}

export interface TlsClientAcceptedEvent extends Base {
  type: 'tls.client-accepted';
  connId: string;
  host: string;
  sni: string | null;
  /** Always `intercepted`: a request arrived over the forged certificate. */
  outcome: 'intercepted';
  /** Negotiated with the client, e.g. `TLS 1.3` (every version in events is spelt so). */
  protocol: string | null;
  /** The cipher suite by IANA name (`TLS_AES_128_GCM_SHA256`), as the wire capture names it. */
  cipher: string | null;
  alpn: string | null;
  handshakeMs: number | null;
}

export interface TlsClientRejectedEvent extends Base {
  type: 'tls.client-rejected';
  connId: string;
  host: string;
  sni: string | null;
  outcome: RejectOutcome;
  /** The TLS alert the client sent, when it sent one. */
  alert: { code: number; name: string } | null;
  /** The raw error message or code, kept for honesty. */
  raw: string;
  clientHint: string | null;
  /** In `auto` mode: this client's connections to this host opened after this are tunnelled. */
  willTunnel: boolean;
}

/**
 * What the client made of the real server, read off a tunnel's bytes alone, as a passive
 * observer would (src/proxy/client-verdict.ts): an alert in clear, an encrypted alert told by
 * its size, application data after the handshake, or how the connection ended.
 */
export interface ClientVerdict {
  outcome: 'accepted' | 'alert' | 'encrypted-alert' | 'closed' | 'reset' | 'unknown';
  /** The alert, when it crossed in clear. */
  alert?: { level: 'warning' | 'fatal'; code: number; name: string };
  /** Who sent the alert: the client (its verdict), or the server (it refused the client's offer). */
  sentBy?: 'client' | 'server';
  /** What on the wire shows it, in one sentence (record sizes, the alert, the ending). */
  evidence: string;
}

export interface TunnelSummaryEvent extends Base {
  type: 'tunnel.summary';
  connId: string;
  host: string;
  port: number;
  sni: string | null;
  reason: TunnelReason;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  /** The negotiated version a passive observer could tell, or null. */
  tlsVersion: string | null;
  /** TLS 1.2 only: the certificate chain that crossed in clear. */
  serverCertificates: CertSummary[] | null;
  recordCount: number;
  /** The cipher suite the ServerHello chose (IANA name), or null. Optional: added later. */
  cipherSuite?: string | null;
  /** The key-exchange group (`x25519`…), or null when not visible. Optional: added later. */
  keyExchangeGroup?: string | null;
  /** The client's verdict on the real server, from the bytes alone. Optional: added later. */
  clientVerdict?: ClientVerdict;
}

export interface HttpRequestEvent extends Base {
  type: 'http.request';
  connId: string;
  flowId: string;
  scheme: 'http' | 'https';
  method: string;
  url: string;
  host: string;
  path: string;
  httpVersion: string;
  headers: Header[];
  body: BodyCapture;
  visibility: Visibility;
  /**
   * Set when `--tamper` changed the request on its way to the server: `body` is what the
   * client sent, `tampered.after` what the server received. Null or absent otherwise.
   */
  tampered?: TamperMark | null;
}

export interface HttpResponseEvent extends Base {
  type: 'http.response';
  connId: string;
  flowId: string;
  status: number;
  statusMessage: string;
  httpVersion: string;
  headers: Header[];
  body: BodyCapture;
  visibility: Visibility;
  timings: Timings;
  /** The real server's certificate (HTTPS upstream), next to the forged one. */
  upstreamCertificate: CertSummary | null;
  /** Negotiated with the real server, e.g. `TLS 1.3`, or null for plain HTTP. */
  upstreamProtocol: string | null;
  /** By IANA name, as `cipher` above. */
  upstreamCipher: string | null;
  /**
   * Null when the response arrived whole. Otherwise the upstream connection failed after the
   * response had begun (reset, closed early, or silent too long mid-body): `body` holds what
   * arrived, the client got the response cut the same way (never a clean end), and an
   * `upstream.error` with the same flowId follows. Node's code and message. Optional: added
   * later (the engine always sets it).
   */
  incomplete?: { code: string; message: string } | null;
  /**
   * Set when `--tamper` changed the response on its way to the client: `body` is what the
   * server sent, `tampered.after` what the client received. Null or absent otherwise.
   */
  tampered?: TamperMark | null;
}

/**
 * The two WebSocket handshakes behind one upgrade, once both are complete. The proxy is a client
 * to the server and a server to the client, so there are two separate handshakes, each with its
 * own `Sec-WebSocket-Key` and the `Sec-WebSocket-Accept` computed from that key (RFC 6455
 * §4.2.2). The flow's `http.request` is the client's upgrade request and its `http.response` the
 * server's 101 to the proxy; this event carries the other two halves.
 */
export interface WsHandshakeEvent extends Base {
  type: 'ws.handshake';
  connId: string;
  flowId: string;
  /** The request target of the proxy's own upgrade request to the server (path and query). */
  toServerPath: string;
  /** The headers of that request as the proxy sent them, with the proxy's own `Sec-WebSocket-Key`. */
  toServerHeaders: Header[];
  /** The headers of the proxy's `101 Switching Protocols` to the client, with the Accept for the client's key. */
  toClientHeaders: Header[];
  visibility: Visibility;
}

export interface WsMessageEvent extends Base {
  type: 'ws.message';
  connId: string;
  flowId: string;
  direction: 'client-to-server' | 'server-to-client';
  kind: 'text' | 'binary';
  /** Text messages: the first characters; binary: null. */
  preview: string | null;
  size: number;
  truncated: boolean;
  visibility: Visibility;
}

export interface UpstreamErrorEvent extends Base {
  type: 'upstream.error';
  connId: string;
  flowId: string | null;
  host: string;
  port: number;
  /** Node's error code, e.g. `CERT_HAS_EXPIRED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, `ENOTFOUND`, `ECONNREFUSED`. */
  code: string;
  message: string;
  /**
   * The status mitm-lab answered the client with itself (502, 504), or null when it sent no
   * answer of its own: the client was gone, or the failure came mid-body (the client then got
   * the server's response cut, see `http.response` `incomplete`).
   */
  status: number | null;
}

export interface DiagEvent extends Base {
  type: 'diag';
  level: 'info' | 'warn' | 'error';
  /** Where it came from: `connect`, `engine`, `http-mitm-proxy`, `sink`, … */
  source: string;
  message: string;
}

/**
 * The lab state was reset on request (the UI's `R`): the flow list restarts empty, auto mode
 * forgets every refused host, and lesson progress counts only what comes after this event.
 */
export interface LabResetEvent extends Base {
  type: 'lab.reset';
  connId: null;
  /** The (client address, host) pairs auto mode stopped tunnelling. */
  forgotten: number;
}

export type ProxyEvent =
  | ProxyListeningEvent
  | ConnOpenEvent
  | ConnCloseEvent
  | ConnWireEvent
  | TlsClientHelloEvent
  | TlsForgedEvent
  | TlsClientAcceptedEvent
  | TlsClientRejectedEvent
  | TunnelSummaryEvent
  | HttpRequestEvent
  | HttpResponseEvent
  | WsHandshakeEvent
  | WsMessageEvent
  | UpstreamErrorEvent
  | UpstreamWireEvent
  | LabResetEvent
  | DiagEvent;

export type EventType = ProxyEvent['type'];

/** Every event type, in the order docs/events.md documents them. */
export const EVENT_TYPES = [
  'proxy.listening',
  'conn.open',
  'conn.close',
  'conn.wire',
  'tls.client-hello',
  'tls.forged',
  'tls.client-accepted',
  'tls.client-rejected',
  'tunnel.summary',
  'http.request',
  'http.response',
  'ws.handshake',
  'ws.message',
  'upstream.error',
  'upstream.wire',
  'lab.reset',
  'diag',
] as const satisfies readonly EventType[];

/** An event before the bus stamps it: what emitters pass to `bus.emit`. */
export type NewEvent = ProxyEvent extends infer E
  ? E extends ProxyEvent
    ? Omit<E, 'id' | 'at'>
    : never
  : never;

export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
