// What the engine's parts share: the state of one client connection (`Conn`) and the engine
// services and tables they receive (`EngineCore`, implemented by ./engine.ts). Types only, so
// the parts (CONNECT decision, tunnels, TLS outcomes, live wire, WebSockets) never import the
// engine, and never http-mitm-proxy.
import type http from 'node:http';
import type net from 'node:net';
import type { Ca } from '../ca/index.ts';
import type { AuthThrottle } from './auth-throttle.ts';
import type { AutoRefusals } from './auto-refusals.ts';
import type { TargetGuard } from './target-guard.ts';
import type { Mode, NewEvent, TunnelReason } from '../events/types.ts';
import type { ProxyOptions } from './options.ts';
import type { TunnelEnding } from './client-verdict.ts';
import type { Timeouts } from './timeouts.ts';
import type { TlsAttempt } from './tls-outcomes.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamWire } from './upstream-wire.ts';
import type { SocketTap, WireTap } from './wire-tap.ts';

/** Everything the engine knows about one client connection. */
export interface Conn {
  id: string;
  socket: net.Socket;
  /** The client's address (the socket's remoteAddress when it connected). */
  clientAddress: string;
  openedAt: number;
  wire: WireTap;
  tap: SocketTap;
  /** The CONNECT target, once a CONNECT was accepted on this connection. */
  connect: { host: string; port: number } | null;
  tls: TlsAttempt | null;
  tunnel: {
    reason: TunnelReason;
    host: string;
    port: number;
    sni: string | null;
    start: number;
    /** How the tunnel ended first: the client closed or reset it, or the server closed. */
    ending: TunnelEnding;
  } | null;
  closed: boolean;
  /** The pending `conn.wire` timer, and when the last `conn.wire` went out (performance ms). */
  wireTimer: NodeJS.Timeout | null;
  lastWireAt: number;
}

/** The engine as its parts see it. */
export interface EngineCore {
  readonly opts: ProxyOptions;
  readonly ca: Ca;
  readonly upstream: Upstream;
  /** The upstream leg's capture, with `--pcap` only (./upstream-wire.ts). */
  readonly upstreamWire: UpstreamWire | null;
  /** The interception mode right now (Controls may switch it). */
  readonly mode: Mode;
  /** Which client address refused a forged certificate for which host (auto mode tunnels them). */
  readonly refusals: AutoRefusals;
  /** Wrong proxy passwords per client address: how long each 407 waits. */
  readonly authThrottle: AuthThrottle;
  /** Which targets the proxy refuses to reach (its own machine, itself). */
  readonly targetGuard: TargetGuard;
  /** Open client connections by socket. */
  readonly conns: Map<net.Socket, Conn>;
  /** The client connection an accepted CONNECT request arrived on. */
  readonly byConnectReq: WeakMap<http.IncomingMessage, Conn>;
  /** Upstream sockets of open tunnels (destroyed on close). */
  readonly tunnelSockets: Set<net.Socket>;
  /** The time limits in force (defaults, overridden by `opts.timeouts`). */
  readonly timeouts: Timeouts;
  emit(event: NewEvent): void;
  diag(
    level: 'info' | 'warn' | 'error',
    source: string,
    message: string,
    connId?: string | null,
  ): void;
  /** Descriptors ran out somewhere (EMFILE/ENFILE): new work is refused for a moment. */
  descriptorShortage(): void;
  /** True while new work should be refused for want of descriptors. */
  outOfDescriptors(): boolean;
  /** Run `fn` after `ms` on an unref'd timer the engine clears on close. */
  later(ms: number, fn: () => void): void;
}
