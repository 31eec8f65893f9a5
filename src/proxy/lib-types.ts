// The shapes of http-mitm-proxy 1.1.0 that mitm-lab uses, described locally (its typings are
// loose, and its internals are not typed at all). Only ./engine.ts imports the library; the
// other files receive these contexts as plain parameters typed here.
import type http from 'node:http';
import type https from 'node:https';
import type net from 'node:net';

/** The slice of http-mitm-proxy's WebSocket context we use. */
export interface LibWsContext {
  isSSL: boolean;
  connectRequest?: http.IncomingMessage | undefined;
  clientToProxyWebSocket?:
    | {
        _socket?: net.Socket;
        readyState?: number;
        close(code?: number, reason?: string): void;
        upgradeReq?: http.IncomingMessage;
      }
    | undefined;
  proxyToServerWebSocket?: unknown;
  proxyToServerWebSocketOptions?: { url?: string; headers?: Record<string, unknown> } | undefined;
}

/** The slice of a `ws` WebSocketServer the library creates that the engine touches. */
export interface LibWsServer {
  close(): void;
  on(event: 'error', fn: (err: Error) => void): void;
  /** ws: the 101 to a client is about to be written (its status line, then `Name: value`). */
  on(event: 'headers', fn: (lines: string[], req: http.IncomingMessage) => void): void;
  options: {
    verifyClient?:
      | ((
          info: { req: http.IncomingMessage },
          done: (
            ok: boolean,
            code?: number,
            message?: string,
            headers?: Record<string, string>,
          ) => void,
        ) => void)
      | null;
  };
}

/** The library's node-style callback. */
export type Cb = (err?: Error | null, ...rest: unknown[]) => void;

/** The library's members we call or wrap (internals included, hence the exact version pin). */
export interface LibProxy {
  httpServer: http.Server | undefined;
  httpsServer: https.Server | undefined;
  httpHost?: string | undefined;
  wsServer?: LibWsServer;
  wssServer?: LibWsServer;
  listen(options: Record<string, unknown>, cb: (err?: Error) => void): void;
  close(): void;
  onConnect(
    fn: (req: http.IncomingMessage, socket: net.Socket, head: Buffer, cb: Cb) => void,
  ): void;
  /** Its servers' errors (its request path is replaced: see `_onHttpServerRequest`). */
  onError(fn: (ctx: unknown, err: Error | undefined, kind: string) => void): void;
  /**
   * Its per-request path, bound when each server is created: replaced before `listen()` by
   * mitm-lab's own relay (./http-relay.ts).
   */
  _onHttpServerRequest(isSSL: boolean, req: http.IncomingMessage, res: http.ServerResponse): void;
  onWebSocketConnection(fn: (ctx: LibWsContext, cb: Cb) => void): void;
  onWebSocketFrame(
    fn: (
      ctx: LibWsContext,
      type: string,
      fromServer: boolean,
      data: unknown,
      flags: unknown,
      cb: Cb,
    ) => void,
  ): void;
  onWebSocketError(fn: (ctx: LibWsContext, err: Error) => void): void;
  _createHttpsServer(
    options: Record<string, unknown>,
    cb: (port: number, server: https.Server, wss: LibWsServer) => void,
  ): void;
  /** Its WebSocket relay, bound per context (what its own upstream WebSocket would get). */
  _onWebSocketFrame(
    ctx: LibWsContext,
    type: string,
    fromServer: boolean,
    data: unknown,
    flags: unknown,
  ): void;
  _onWebSocketError(ctx: LibWsContext, err: Error): void;
  _onWebSocketClose(ctx: LibWsContext, closedByServer: boolean, code: number, reason: Buffer): void;
}
