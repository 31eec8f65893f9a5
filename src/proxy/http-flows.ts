// What the proxy decides for each HTTP request the relay (./http-relay.ts) carries: refuse it
// here (503 while descriptors are short, 407 without the proxy password, 400 for a request
// sent to the proxy as if it were the web server or with a port out of range, 403 for a
// forbidden target) or send it upstream, recording it as an exchange (./exchanges.ts), with
// the `--tamper` rules that match it; then each error of the exchange: a 502/504 the client
// can read, a response cut mid-body, or a diag. The parts it needs come as narrow
// dependencies; the library is not seen here.
import type http from 'node:http';
import type net from 'node:net';
import type { AuthThrottle } from './auth-throttle.ts';
import { headerPairs } from './body-capture.ts';
import type { Conn, ConnRegistry } from './conn.ts';
import type { EngineCore } from './engine-core.ts';
import {
  checkProxyAuth,
  isAbsoluteForm,
  NOT_A_WEB_SERVER_TEXT,
  OUT_OF_DESCRIPTORS_TEXT,
} from './connect.ts';
import type { Exchange, ExchangeRecorder } from './exchanges.ts';
import type { RelayContext, RelayErrorKind } from './http-relay.ts';
import type { ProxyOptions } from './options.ts';
import { targetWithoutUserinfo } from './resolve.ts';
import {
  formFields,
  requestTamperFilter,
  rulesFor,
  tamperResponse,
  type TamperRule,
} from './tamper.ts';
import type { TargetGuard } from './target-guard.ts';
import type { TlsOutcomes } from './tls-outcomes.ts';
import { isDescriptorShortage } from './descriptors.ts';
import type { UpstreamWire } from './upstream-wire.ts';

export interface HttpFlowsDeps extends Pick<
  EngineCore,
  'outOfDescriptors' | 'descriptorShortage' | 'later' | 'diag'
> {
  registry: Pick<ConnRegistry, 'ofSocket' | 'ofConnectRequest'>;
  /** `--auth`: the proxy's own password for plain requests (CONNECT checks its own). */
  auth: ProxyOptions['auth'];
  authThrottle: AuthThrottle;
  targetGuard: Pick<TargetGuard, 'check'>;
  tlsOutcomes: Pick<TlsOutcomes, 'requestArrived'>;
  exchangeRecorder: ExchangeRecorder;
  /** The upstream leg's capture (`--pcap`), else null. */
  upstreamWire: UpstreamWire | null;
  tamperRules: readonly TamperRule[];
  /** Body capture per HTTP message, bytes. */
  bodyLimit: number;
}

export class HttpFlows {
  constructor(private readonly deps: HttpFlowsDeps) {}

  private connOfRequest(ctx: RelayContext): Conn | null {
    if (ctx.isSSL)
      return ctx.connectRequest ? this.deps.registry.ofConnectRequest(ctx.connectRequest) : null;
    return this.deps.registry.ofSocket(ctx.clientToProxyRequest.socket);
  }

  onRequest(ctx: RelayContext, cb: () => void): void {
    const conn = this.connOfRequest(ctx);
    const req = ctx.clientToProxyRequest;
    const res = ctx.proxyToClientResponse;
    const options = ctx.proxyToServerRequestOptions;
    if (ctx.isSSL && !conn) {
      // Decrypted, yet no CONNECT behind it: not a connection the engine handed over (the
      // internal server's door check closes those first; this is the second lock).
      this.deps.diag('warn', 'http', 'a decrypted request with no CONNECT behind it: closed');
      req.socket.destroy();
      return;
    }
    if (this.deps.outOfDescriptors()) {
      req.resume();
      res.writeHead(503, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(OUT_OF_DESCRIPTORS_TEXT),
        Connection: 'close',
      });
      res.end(OUT_OF_DESCRIPTORS_TEXT);
      this.deps.diag(
        'warn',
        'http',
        `${req.method ?? ''} ${ctx.originalUrl ?? ''}: refused (503), the proxy is out of file descriptors`,
        conn?.id ?? null,
      );
      return;
    }
    if (!ctx.isSSL && !conn?.connect) {
      const address = conn?.clientAddress ?? req.socket.remoteAddress ?? '';
      if (this.deps.auth && !checkProxyAuth(req.headers['proxy-authorization'], this.deps.auth)) {
        req.resume();
        const wait = this.deps.authThrottle.failed(address);
        const answer = (): void => {
          if (res.destroyed || res.writableEnded) return;
          res.writeHead(407, {
            'Proxy-Authenticate': 'Basic realm="mitm-lab"',
            'Content-Type': 'text/plain; charset=utf-8',
          });
          res.end('mitm-lab: proxy authentication required.\n');
        };
        if (wait > 0) this.deps.later(wait, answer);
        else answer();
        this.deps.diag(
          'info',
          'http',
          `${req.method ?? ''} ${ctx.originalUrl ?? ''}: proxy authentication required (407)` +
            (wait > 0 ? `, answered after ${wait} ms (repeated wrong passwords)` : ''),
          conn?.id ?? null,
        );
        return;
      }
      if (this.deps.auth) this.deps.authThrottle.succeeded(address);
      if (!isAbsoluteForm(ctx.originalUrl)) {
        // An origin-form request sent to the proxy itself: forwarding it would loop.
        req.resume();
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(NOT_A_WEB_SERVER_TEXT);
        return;
      }
    }
    if (!options) {
      cb();
      return;
    }
    const credentialsFree = ctx.isSSL ? null : targetWithoutUserinfo(ctx.originalUrl ?? '');
    if (credentialsFree) Object.assign(options, credentialsFree); // never look up `user` as a host
    if (
      !conn?.connect &&
      !(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65535)
    ) {
      // Node would throw inside the library, and the client would wait forever.
      const text = `mitm-lab: bad request target ${ctx.originalUrl ?? ''}: the port is outside 1-65535\n`;
      req.resume();
      res.writeHead(400, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
      this.deps.diag('warn', 'http', text.trim(), conn?.id ?? null);
      return;
    }
    if (!conn?.connect) {
      const forbidden = this.deps.targetGuard.check(options.host ?? '', options.port);
      if (forbidden) {
        const text = `mitm-lab: refused: ${forbidden}\n`;
        req.resume();
        res.writeHead(403, {
          'Content-Type': 'text/plain; charset=utf-8',
          'Content-Length': Buffer.byteLength(text),
        });
        res.end(text);
        this.deps.diag(
          'warn',
          'http',
          `${req.method ?? ''} ${ctx.originalUrl ?? ''}: refused (403): ${forbidden}`,
          conn?.id ?? null,
        );
        return;
      }
    }
    let shownHost = options.host;
    let urlPort = options.port;
    if (conn?.connect) {
      // The library aims at the Host header (port 443/80 unless it names one). The client's
      // CONNECT said where it meant to go: connect there; SNI and Host keep naming the site
      // (Node's agent takes the TLS server name from the Host header).
      const explicit = /:(\d+)$/.exec((req.headers.host ?? '').replace(/^\[[^\]]*\]/, ''));
      urlPort = explicit ? Number(explicit[1]) : conn.connect.port;
      shownHost = options.host;
      options.host = conn.connect.host;
      options.port = conn.connect.port;
    }
    this.deps.tlsOutcomes.requestArrived(conn, req.socket);
    const requestRules = this.deps.tamperRules.length
      ? rulesFor(this.deps.tamperRules, 'request', {
          method: req.method ?? 'GET',
          host: shownHost,
          path: options.path,
        })
      : [];
    const exchange = this.deps.exchangeRecorder.begin(req, {
      connId: conn?.id ?? 'c0',
      secure: ctx.isSSL,
      host: shownHost,
      port: options.port,
      urlPort,
      path: options.path,
      holdRequest: requestRules.length > 0,
    });
    ctx.exchange = exchange;
    if (requestRules.length)
      ctx.addRequestFilter(
        requestTamperFilter({
          rules: requestRules,
          headers: headerPairs(req.rawHeaders),
          captureLimit: this.deps.bodyLimit,
          upstream: () => ctx.proxyToServerRequest,
          done: (o) => {
            exchange.requestTamper = o.mark;
            this.tamperSkipped(exchange, o.skipped);
            this.deps.exchangeRecorder.emitRequest(exchange);
          },
        }),
      );
    cb();
    const upstreamRequest = ctx.proxyToServerRequest;
    if (upstreamRequest) {
      this.deps.exchangeRecorder.watch(exchange, upstreamRequest);
      const wire = this.deps.upstreamWire;
      if (wire && conn) upstreamRequest.once('socket', (s: net.Socket) => wire.use(s, conn.id));
    }
  }

  onResponse(ctx: RelayContext, cb: () => void): void {
    const exchange = ctx.exchange;
    const res = ctx.serverToProxyResponse;
    if (!exchange || !res) return cb();
    const method = exchange.req.method ?? 'GET';
    const rules =
      this.deps.tamperRules.length &&
      method !== 'HEAD' &&
      res.statusCode !== 204 &&
      res.statusCode !== 304
        ? rulesFor(this.deps.tamperRules, 'response', {
            method,
            host: exchange.host,
            path: exchange.path,
          })
        : [];
    if (rules.length === 0) {
      this.deps.exchangeRecorder.response(exchange, res, ctx.proxyToClientResponse);
      return cb();
    }
    // Before the recorder: the stand-in (and the mark) must be ready when its 'end' fires.
    tamperResponse({
      res,
      rules,
      requestFields: formFields(exchange.requestBody.result(headerPairs(exchange.req.rawHeaders))),
      captureLimit: this.deps.bodyLimit,
      done: (standIn, o) => {
        exchange.responseTamper = o.mark;
        this.tamperSkipped(exchange, o.skipped);
        ctx.serverToProxyResponse = standIn as http.IncomingMessage;
        cb();
      },
    });
    this.deps.exchangeRecorder.response(exchange, res, ctx.proxyToClientResponse);
  }

  /** One diag per tamper rule that matched an exchange but could not change it. */
  private tamperSkipped(exchange: Exchange, skipped: readonly string[]): void {
    for (const s of skipped)
      this.deps.diag(
        'warn',
        'tamper',
        `${exchange.url}: rule skipped, relayed unchanged: ${s}`,
        exchange.connId,
      );
  }

  /** An error of one request through the relay. */
  onError(ctx: RelayContext, err: Error, kind: RelayErrorKind): void {
    const e = err as NodeJS.ErrnoException;
    if (isDescriptorShortage(e)) this.deps.descriptorShortage();
    const exchange = ctx.exchange;
    const res = ctx.proxyToClientResponse;
    const connId = exchange?.connId ?? this.connOfRequest(ctx)?.id ?? 'c0';
    if (
      exchange &&
      (kind === 'PROXY_TO_SERVER_REQUEST_ERROR' || kind === 'SERVER_TO_PROXY_RESPONSE_ERROR')
    ) {
      // Before the response began: 502 with a sentence. After: the client's response is cut
      // too (never ended cleanly, which would look complete).
      if (exchange.client) this.deps.exchangeRecorder.cutMidBody(exchange, e);
      else this.deps.exchangeRecorder.upstreamError(exchange, res, e);
      return;
    }
    const clientGone =
      e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ERR_STREAM_PREMATURE_CLOSE';
    this.deps.diag(
      clientGone ? 'info' : 'warn',
      'http',
      `${kind}: ${e.code ? `${e.code}: ` : ''}${e.message}`,
      connId,
    );
    if (!res.headersSent && !res.writableEnded && !res.destroyed) {
      const text = `mitm-lab: proxy error ${kind}: ${e.message}\n`;
      res.writeHead(502, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
    }
  }
}
