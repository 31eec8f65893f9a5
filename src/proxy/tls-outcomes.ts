// TLS outcomes: each client TLS attempt against a forged certificate ends in exactly one
// `tls.client-accepted` or `tls.client-rejected`. The verdicts come from the library's internal
// TLS server (secureConnection, tlsClientError, clientError — wired up in ./engine.ts), from
// the first decrypted request or WebSocket upgrade, or from the client's connection closing.
// This file alone makes a connection's attempt (`conn.tls`) and decides it: the rest of the
// engine tells it what happened and reads nothing of `decided`.
import type net from 'node:net';
import type tls from 'node:tls';
import type { AutoRefusals } from './auto-refusals.ts';
import type { Conn, ConnRegistry, TlsAttempt } from './conn.ts';
import type { EngineCore } from './engine-core.ts';
import { judgeRefusal } from './refusal.ts';
import type { Timeouts } from './timeouts.ts';
import { nowMs } from './clock.ts';
import { negotiated } from './tls-names.ts';

/** How long to wait, after the client hung up mid-handshake, for the internal server's verdict. */
const SETTLE_MS = 150;

/** What the outcomes need of the engine: events, timers, the mode and auto mode's memory. */
export type TlsOutcomesCore = Pick<EngineCore, 'emit' | 'diag' | 'later' | 'mode'> & {
  readonly refusals: Pick<AutoRefusals, 'remember'>;
  readonly timeouts: Pick<Timeouts, 'requestHeadersMs'>;
};

export class TlsOutcomes {
  /**
   * @param registry finds the client connection an internal TLS socket carries
   * @param now the clock (handshake times, the refusal's judgement)
   */
  constructor(
    private readonly core: TlsOutcomesCore,
    private readonly registry: Pick<ConnRegistry, 'ofInternal'>,
    private readonly now: () => number = nowMs,
  ) {}

  private connOf(tlsSocket: tls.TLSSocket): Conn | null {
    return this.registry.ofInternal(tlsSocket);
  }

  /**
   * The client is handed to the internal TLS server (the forged certificate is on its way):
   * from here the client's handshake gets exactly one outcome.
   */
  begin(
    conn: Conn,
    hello: { host: string; sni: string | null; clientHint: string | null; helloAt: number },
  ): void {
    conn.tls = {
      host: hello.host,
      sni: hello.sni,
      clientHint: hello.clientHint,
      helloAt: hello.helloAt,
      secureAt: null,
      handshakeMs: null,
      error: undefined,
      decided: false,
      socket: null,
      settle: null,
    };
  }

  /** The client's socket failed: kept as the reason, should the attempt end undecided. */
  noteClientError(conn: Conn, err: unknown): void {
    if (conn.tls && !conn.tls.decided) conn.tls.error ??= err;
  }

  /**
   * The client sent a request (or a WebSocket upgrade) over the forged certificate: whatever
   * it asked, it accepted the certificate.
   */
  requestArrived(conn: Conn | null, socket: net.Socket): void {
    const attempt = conn?.tls;
    if (conn && attempt && !attempt.decided) this.accept(conn, attempt, socket);
  }

  onSecureConnection(tlsSocket: tls.TLSSocket): void {
    const conn = this.connOf(tlsSocket);
    const attempt = conn?.tls;
    if (!conn || !attempt || attempt.decided) return;
    attempt.secureAt = this.now();
    attempt.handshakeMs = Math.round((attempt.secureAt - attempt.helloAt) * 100) / 100;
    attempt.socket = tlsSocket;
    attempt.settle?.();
  }

  onTlsClientError(err: Error, tlsSocket: tls.TLSSocket): void {
    const conn = this.connOf(tlsSocket);
    const attempt = conn?.tls;
    if (!conn || !attempt) {
      this.core.diag('info', 'tls', `TLS error on an internal connection: ${err.message}`);
      return;
    }
    if (attempt.decided) return;
    this.refuse(conn, attempt, err);
    attempt.settle?.();
  }

  onInternalClientError(err: NodeJS.ErrnoException, socket: tls.TLSSocket): void {
    // Node's parser stays in error and reports it again for every chunk that follows (a 1 MiB
    // header: dozens). Answered already, the socket closes once its answer is out: one answer,
    // one diag.
    if (socket.writableEnded) return;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return this.onRequestTimeout(socket);
    if (!err.code?.startsWith('HPE_')) return; // TLS failures: tlsClientError handles them
    const conn = this.connOf(socket);
    const attempt = conn?.tls;
    // Whatever it sent, the client sent it over the forged certificate: it accepted it.
    if (conn && attempt && !attempt.decided) this.accept(conn, attempt, socket);
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : '400 Bad Request';
    this.core.diag(
      'warn',
      'http',
      `malformed decrypted request (${err.code}): answered ${status}`,
      conn?.id ?? null,
    );
    if (socket.writable && !socket.writableEnded) {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroySoon();
  }

  /**
   * A decrypted request whose headers did not complete in time (Node's headers limit). The
   * library listens for 'clientError', which switches off Node's own 408 and close: without
   * this, a slow client inside TLS was never let go (issue 13, item 7).
   */
  private onRequestTimeout(socket: tls.TLSSocket): void {
    const conn = this.connOf(socket);
    const attempt = conn?.tls;
    // Bytes of a request over the forged certificate: the client accepted it. None: the close
    // will judge it (a silent client after the handshake).
    if (conn && attempt && !attempt.decided && socket.bytesRead > 0)
      this.accept(conn, attempt, socket);
    this.core.diag(
      'info',
      'http',
      `no complete decrypted request within ${this.core.timeouts.requestHeadersMs} ms: answered 408 and closed`,
      conn?.id ?? null,
    );
    if (socket.writable && !socket.writableEnded) {
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
    socket.destroySoon();
  }

  /**
   * The client connection closed mid-handshake with its attempt undecided: the internal
   * server's verdict (tlsClientError) may still be on its way (the close reaches the TLS
   * socket through its stream a few ticks later). Resolves on that verdict or after
   * SETTLE_MS; null when there is nothing to wait for (no extra tick then).
   */
  verdictPending(conn: Conn): Promise<void> | null {
    const attempt = conn.tls;
    if (!attempt || attempt.decided || attempt.secureAt !== null) return null;
    return new Promise<void>((resolve) => {
      attempt.settle = resolve;
      this.core.later(SETTLE_MS, resolve);
    });
  }

  /** The client connection closed: an attempt still undecided is a refusal. */
  refuseUndecided(conn: Conn): void {
    const attempt = conn.tls;
    if (attempt && !attempt.decided) this.refuse(conn, attempt, attempt.error ?? null);
  }

  private refuse(conn: Conn, attempt: TlsAttempt, error: unknown): void {
    attempt.decided = true;
    const { outcome, alert, raw, counts } = judgeRefusal({
      error,
      clientAlert: conn.wire.clientAlert(),
      secureAt: attempt.secureAt,
      handshakeMs: attempt.handshakeMs,
      now: this.now(),
    });
    // Auto mode remembers the refusal for this client address only, and never for a
    // ClientHello without SNI: such a client (an IP literal, a scanner, a probe) says nothing
    // about what the name's other clients will do (issue 13, item 14).
    const willTunnel = this.core.mode === 'auto' && counts && attempt.sni !== null;
    if (willTunnel) this.core.refusals.remember(conn.clientAddress, attempt.host);
    this.core.emit({
      type: 'tls.client-rejected',
      connId: conn.id,
      host: attempt.host,
      sni: attempt.sni,
      outcome,
      alert,
      raw,
      clientHint: attempt.clientHint,
      willTunnel,
    });
  }

  private accept(conn: Conn, attempt: TlsAttempt, socket: net.Socket): void {
    attempt.decided = true;
    const s = socket as tls.TLSSocket;
    const isTls = typeof s.getProtocol === 'function';
    this.core.emit({
      type: 'tls.client-accepted',
      connId: conn.id,
      host: attempt.host,
      sni: attempt.sni,
      outcome: 'intercepted',
      ...(isTls ? negotiated(s) : { protocol: null, cipher: null }),
      alpn: isTls && typeof s.alpnProtocol === 'string' ? s.alpnProtocol : null,
      handshakeMs: attempt.handshakeMs,
    });
  }
}
