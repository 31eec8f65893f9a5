// What the engine's parts share: the engine services they receive (`EngineCore`, implemented
// by ./engine.ts), the connection registry among them (a connection's state and its owner are
// ./conn.ts). Types only, so the parts (CONNECT decision, tunnels, WebSockets) never import
// the engine, and never http-mitm-proxy.
import type net from 'node:net';
import type { Ca } from '../ca/index.ts';
import type { AuthThrottle } from './auth-throttle.ts';
import type { AutoRefusals } from './auto-refusals.ts';
import type { ConnRegistry } from './conn.ts';
import type { TargetGuard } from './target-guard.ts';
import type { Mode, NewEvent } from '../events/types.ts';
import type { ProxyOptions } from './options.ts';
import type { Timeouts } from './timeouts.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamWire } from './upstream-wire.ts';

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
  /** The open client connections, found by socket, id, CONNECT request or internal port. */
  readonly registry: ConnRegistry;
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
