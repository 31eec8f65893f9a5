// HTTP exchanges as events. An `Exchange` is one request in flight through the proxy (its
// sockets, timers, body capture and tamper marks), named apart from the store's `Flow`, the
// display row its events become; the two share the id (`flowId` in events). For each
// exchange: one `http.request` when the client's request has been read (body captured
// read-only as it streams past), one `http.response` when the server's response has ended
// (with timings, and the real server's certificate and TLS parameters), and `upstream.error`
// plus a 502 the client can read when the server could not be reached or failed validation.
// Plain Node objects only: the library's callbacks stay in engine.ts.
import type http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { EventBus } from '../events/bus.ts';
import type { BodyCapture, TamperMark, Visibility } from '../events/types.ts';
import { BodyCapturer, headerPairs } from './body-capture.ts';
import {
  formatMs,
  timeoutError,
  UPSTREAM_FIRST_BYTE_TIMEOUT,
  UPSTREAM_IDLE_TIMEOUT,
  UPSTREAM_TIMEOUT_CODES,
  type Timeouts,
} from './timeouts.ts';
import { TARGET_REFUSED } from './resolve.ts';
import type { Upstream } from './upstream.ts';

/** One HTTP request in flight through the proxy, from its headers to its response's end. */
export interface Exchange {
  id: string;
  connId: string;
  req: http.IncomingMessage;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  url: string;
  path: string;
  visibility: Visibility;
  /** performance.now() when the request was handed on upstream. */
  start: number;
  firstByte: number | null;
  requestBody: BodyCapturer;
  requestEmitted: boolean;
  responseEmitted: boolean;
  upstreamSocket: net.Socket | null;
  reused: boolean;
  /** Why the server's response stopped before its end, once that happened. */
  cut: { code: string; message: string } | null;
  /** The client's response, to cut it when the server's is cut. */
  client: http.ServerResponse | null;
  /**
   * A tamper rule will change the request (./tamper.ts): `http.request` waits for it to say
   * what it did instead of going out at the request's end.
   */
  holdRequest: boolean;
  /** What `--tamper` changed, per direction (null: nothing). */
  requestTamper: TamperMark | null;
  responseTamper: TamperMark | null;
}

/** Node error codes that mean the real server's certificate failed validation. */
const CERT_CODE_RE = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO|ERR_TLS/;
/** Validation failures that trusting another root can cure (not expiry, not a wrong name). */
const UNKNOWN_ISSUER_RE = /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF/;

export class ExchangeRecorder {
  private seq = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly upstream: Upstream,
    private readonly bodyLimit: number,
    /** The upstream limits (connect, first byte, idle mid-body). */
    private readonly timeouts: Pick<
      Timeouts,
      'upstreamConnectMs' | 'upstreamFirstByteMs' | 'upstreamIdleMs'
    >,
    /** Called right after each `http.response` (the engine sends the connection's wire soon). */
    private readonly afterResponse: (connId: string) => void = () => {},
  ) {}

  /** A new flow id (`f1`, `f2`, …), shared with WebSocket flows. */
  nextId(): string {
    return `f${++this.seq}`;
  }

  /** Start recording a request about to go upstream to `host:port`. */
  begin(
    req: http.IncomingMessage,
    target: {
      connId: string;
      secure: boolean;
      /** The host name the client asked for (URL, events). */
      host: string;
      /** The port the proxy connects to. */
      port: number;
      /** The port the URL shows, when it differs (Host header versus CONNECT). */
      urlPort?: number;
      path: string;
      /** A tamper rule applies to the request: its event waits (see Exchange.holdRequest). */
      holdRequest?: boolean;
    },
  ): Exchange {
    const scheme = target.secure ? 'https' : 'http';
    const defaultPort = target.secure ? 443 : 80;
    const urlHost = net.isIPv6(target.host) ? `[${target.host}]` : target.host;
    const path = target.path || '/';
    const urlPort = target.urlPort ?? target.port;
    const exchange: Exchange = {
      id: this.nextId(),
      connId: target.connId,
      req,
      scheme,
      host: target.host,
      port: target.port,
      url: `${scheme}://${urlHost}${urlPort === defaultPort ? '' : `:${urlPort}`}${path}`,
      path,
      visibility: target.secure ? 'proxy-only' : 'wire',
      start: performance.now(),
      firstByte: null,
      requestBody: new BodyCapturer(this.bodyLimit),
      requestEmitted: false,
      responseEmitted: false,
      upstreamSocket: null,
      reused: false,
      cut: null,
      client: null,
      holdRequest: target.holdRequest === true,
      requestTamper: null,
      responseTamper: null,
    };
    // The library paused the request: listening does not make it flow, its pipe will.
    req.on('data', (c: Buffer) => exchange.requestBody.push(c));
    req.once('end', () => {
      if (!exchange.holdRequest) this.emitRequest(exchange);
    });
    return exchange;
  }

  /**
   * Note which upstream socket carries the request (timings, certificate), and hold the server
   * to its limits until the response begins: connecting (TCP, and TLS for HTTPS), then the
   * first byte once the request is sent. Past a limit the request is destroyed with a timeout
   * code, which ends in a 504 (`upstreamError`).
   */
  watch(exchange: Exchange, upstreamRequest: http.ClientRequest): void {
    const t = this.timeouts;
    const where = `${exchange.host}:${exchange.port}`;
    let timer: NodeJS.Timeout | null = null;
    let connecting = false;
    let sent = false;
    const clear = (): void => {
      if (timer) clearTimeout(timer);
      timer = null;
    };
    const arm = (ms: number, err: () => NodeJS.ErrnoException): void => {
      clear();
      timer = setTimeout(() => upstreamRequest.destroy(err()), ms);
      timer.unref();
    };
    const armFirstByte = (): void =>
      arm(t.upstreamFirstByteMs, () =>
        timeoutError(
          UPSTREAM_FIRST_BYTE_TIMEOUT,
          `${where} accepted the request but sent no response within ${formatMs(t.upstreamFirstByteMs)}`,
        ),
      );
    upstreamRequest.once('socket', (s: net.Socket) => {
      exchange.upstreamSocket = s;
      exchange.reused = upstreamRequest.reusedSocket;
      // Reused, or opened ahead and connected already (Upstream.preconnect): nothing to wait for.
      if (upstreamRequest.reusedSocket || this.upstream.connected(s)) return;
      connecting = true;
      const secure = s instanceof tls.TLSSocket;
      let tcp = this.upstream.tcpConnected(s); // a connection opened ahead may be
      s.once('connect', () => (tcp = true));
      arm(t.upstreamConnectMs, () =>
        timeoutError(
          'ETIMEDOUT',
          tcp && secure
            ? `${where} took the connection but did not complete a TLS handshake within ${formatMs(t.upstreamConnectMs)}`
            : `no connection to ${where} within ${formatMs(t.upstreamConnectMs)}`,
        ),
      );
      s.once(secure ? 'secureConnect' : 'connect', () => {
        connecting = false;
        if (sent) armFirstByte();
        else clear();
      });
    });
    upstreamRequest.once('finish', () => {
      sent = true;
      if (!connecting) armFirstByte();
    });
    upstreamRequest.once('response', clear);
    upstreamRequest.once('close', clear);
  }

  /** Emit `http.request` (once), with the body read so far. */
  emitRequest(exchange: Exchange): void {
    if (exchange.requestEmitted) return;
    exchange.requestEmitted = true;
    const headers = headerPairs(exchange.req.rawHeaders);
    this.bus.emit({
      type: 'http.request',
      connId: exchange.connId,
      flowId: exchange.id,
      scheme: exchange.scheme,
      method: exchange.req.method ?? 'GET',
      url: exchange.url,
      host: exchange.host,
      path: exchange.path,
      httpVersion: exchange.req.httpVersion,
      headers,
      body: exchange.requestBody.result(headers),
      visibility: exchange.visibility,
      tampered: exchange.requestTamper,
    });
  }

  /**
   * The server's response has started (still paused): record it as it streams past, to
   * `client` (the proxy's response to the client).
   */
  response(exchange: Exchange, res: http.IncomingMessage, client: http.ServerResponse): void {
    exchange.firstByte = performance.now();
    exchange.upstreamSocket ??= res.socket;
    exchange.client = client;
    const body = new BodyCapturer(this.bodyLimit);
    // Silent mid-body: cut (as a reset would be). Waiting on a slow client — the relay paused
    // the response for backpressure — is not the server's silence.
    const idleMs = this.timeouts.upstreamIdleMs;
    let idle: NodeJS.Timeout | null = null;
    // One timer per response, pushed back with refresh() on each chunk (a new Timeout per
    // chunk was garbage on every read).
    const rearm = (): void => {
      if (idle) {
        idle.refresh();
        return;
      }
      idle = setTimeout(() => {
        if (res.readableFlowing === false) {
          idle?.refresh();
          return;
        }
        res.destroy(
          timeoutError(
            UPSTREAM_IDLE_TIMEOUT,
            `${exchange.host}:${exchange.port} sent no byte of its response for ${formatMs(idleMs)}`,
          ),
        );
      }, idleMs);
      idle.unref();
    };
    rearm();
    res.on('data', (c: Buffer) => {
      body.push(c);
      rearm();
    });
    res.once('close', () => {
      if (idle) clearTimeout(idle);
    });
    const done = (): void => {
      if (exchange.responseEmitted) return;
      exchange.responseEmitted = true;
      // A response that closed before its end without an error of its own (Node saw the
      // connection close early) is cut all the same.
      if (!res.complete && !exchange.cut) {
        this.cutMidBody(exchange, {
          code: 'ECONNRESET',
          message: 'the server closed the connection before the end of its response',
        });
      }
      this.emitRequest(exchange);
      const headers = headerPairs(res.rawHeaders);
      const tlsInfo = this.upstream.tlsDetails(exchange.upstreamSocket);
      this.bus.emit({
        type: 'http.response',
        connId: exchange.connId,
        flowId: exchange.id,
        status: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        httpVersion: res.httpVersion,
        headers,
        body: body.result(headers),
        visibility: exchange.visibility,
        timings: this.upstream.timings(
          exchange.upstreamSocket,
          exchange.reused,
          exchange.start,
          exchange.firstByte,
          performance.now(),
        ),
        upstreamCertificate: tlsInfo.certificate,
        upstreamProtocol: tlsInfo.protocol,
        upstreamCipher: tlsInfo.cipher,
        incomplete: exchange.cut,
        tampered: exchange.responseTamper,
      });
      if (exchange.cut) this.emitCut(exchange);
      this.afterResponse(exchange.connId);
    };
    res.once('end', done);
    res.once('close', done);
  }

  /** A WebSocket upgrade answered `101 Switching Protocols` by the server. */
  switched(
    exchange: { id: string; connId: string; visibility: Visibility },
    res: http.IncomingMessage,
    start: number,
  ): void {
    this.answered(exchange, res, start, { text: '', size: 0, truncated: false });
  }

  /** A WebSocket upgrade answered by the server: 101, or what it said instead (`body`). */
  answered(
    exchange: { id: string; connId: string; visibility: Visibility },
    res: http.IncomingMessage,
    start: number,
    body: BodyCapture,
  ): void {
    const tlsInfo = this.upstream.tlsDetails(res.socket);
    const now = performance.now();
    this.bus.emit({
      type: 'http.response',
      connId: exchange.connId,
      flowId: exchange.id,
      status: res.statusCode ?? 101,
      statusMessage: res.statusMessage ?? '',
      httpVersion: res.httpVersion,
      headers: headerPairs(res.rawHeaders),
      body,
      visibility: exchange.visibility,
      timings: this.upstream.timings(res.socket, false, start, now, now),
      upstreamCertificate: tlsInfo.certificate,
      upstreamProtocol: tlsInfo.protocol,
      upstreamCipher: tlsInfo.cipher,
      incomplete: null,
      tampered: null,
    });
    this.afterResponse(exchange.connId);
  }

  /**
   * The server's connection failed after its response had begun (the client already has the
   * status and headers). The client's response is cut too — destroyed, so it never sees a
   * clean end (http-mitm-proxy would write the error text into the body and end it cleanly:
   * a complete-looking 200). `http.response` then says `incomplete`, and `upstream.error`
   * follows it. Once per exchange.
   */
  cutMidBody(exchange: Exchange, err: { code?: string | undefined; message: string }): void {
    if (exchange.cut) return;
    exchange.cut = { code: err.code ?? 'ERROR', message: err.message };
    exchange.client?.destroy();
    if (exchange.responseEmitted) this.emitCut(exchange);
  }

  private emitCut(exchange: Exchange): void {
    if (!exchange.cut) return;
    this.bus.emit({
      type: 'upstream.error',
      connId: exchange.connId,
      flowId: exchange.id,
      host: exchange.host,
      port: exchange.port,
      code: exchange.cut.code,
      message: exchange.cut.message,
      status: null,
    });
  }

  /**
   * The server could not be reached or failed validation: answer 502 with a sentence naming
   * the code (http-mitm-proxy would answer 504 with its internal error name), and emit
   * `upstream.error`. A server the security policy refused gets its stable code and a
   * sentence saying what was found (./upstream-policy.ts).
   */
  upstreamError(exchange: Exchange, client: http.ServerResponse, err: NodeJS.ErrnoException): void {
    const refusal = this.upstream.refusal(err);
    const code = refusal?.code ?? err.code ?? 'ERROR';
    const message = refusal?.message ?? err.message;
    const answered = !client.headersSent && !client.writableEnded && !client.destroyed;
    // A name that resolved to the proxy's own machine is refused (./target-guard.ts); too slow
    // is a gateway timeout; anything else a bad gateway.
    const refused = code === TARGET_REFUSED;
    const status = refused ? 403 : UPSTREAM_TIMEOUT_CODES.has(code) ? 504 : 502;
    if (answered) {
      const failed =
        `mitm-lab: could not get ${exchange.url} from ${exchange.host}:${exchange.port}: ${code}\n` +
        `${message}\n` +
        (status === 504
          ? 'The real server was too slow, so the proxy gave up instead of keeping you waiting.\n'
          : '') +
        (refusal
          ? 'The proxy holds real servers to OpenSSL security level 2, as curl and Python do, so it refused\n' +
            'this one: a man in the middle must not hide a weak server behind its own strong certificate.\n' +
            '(--insecure-upstream turns this check off, with certificate validation.)\n'
          : CERT_CODE_RE.test(code)
            ? "The real server's certificate failed validation, so the proxy refused to talk to it\n" +
              '(a man in the middle must not make you less safe).\n' +
              (UNKNOWN_ISSUER_RE.test(code)
                ? 'If you do trust the root that issued it, give it to the proxy with --upstream-ca FILE.\n'
                : '')
            : '') +
        (code === 'EMFILE' || code === 'ENFILE'
          ? 'The proxy is out of file descriptors (too many open connections): try again in a moment.\n'
          : '');
      const text = refused ? `mitm-lab: refused: ${message}\n` : failed;
      client.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
      });
      client.end(text);
    }
    this.emitRequest(exchange);
    this.bus.emit({
      type: 'upstream.error',
      connId: exchange.connId,
      flowId: exchange.id,
      host: exchange.host,
      port: exchange.port,
      code,
      message,
      status: answered ? status : null,
    });
  }
}
