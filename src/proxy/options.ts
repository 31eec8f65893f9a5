// The engine's public option and handle types (re-exported by ./index.ts). Kept apart from
// engine.ts so the CLI and the lab can name them without loading http-mitm-proxy.
import type { LookupFunction } from 'node:net';
import type { Ca } from '../ca/index.ts';
import type { EventBus } from '../events/bus.ts';
import type { Controls } from '../events/controls.ts';
import { CAPTURE_LIMITS } from '../events/limits.ts';
import type { ClientTlsMax, Mode } from '../events/types.ts';
import type { Timeouts } from './timeouts.ts';
import type { TamperRule } from './tamper.ts';

/**
 * Where a host name really lives, decided by the proxy (clients behind a proxy never resolve
 * names themselves). `pattern` is `bank.test` or `*.bank.test` (any name under bank.test);
 * `address` is an IP literal; `ports` maps a requested port to the real one (the lab maps
 * `bank.test:443` to `127.0.0.1:41234`). Names under `.localhost` always go to 127.0.0.1.
 */
export interface ResolveRule {
  pattern: string;
  address: string;
  ports?: Record<number, number>;
}

export interface ProxyOptions {
  /** Address to listen on; 127.0.0.1 unless the user asked otherwise. */
  host: string;
  /** Port to listen on; 0 picks a free one (RunningProxy.port says which). */
  port: number;
  /** What to do with CONNECT tunnels (see docs/proxy.md). Changeable at run time via Controls. */
  mode: Mode;
  /** The throwaway CA that signs forged certificates. */
  ca: Ca;
  /** Where every event goes. */
  bus: EventBus;
  /** Require `Proxy-Authorization: Basic` with these credentials (407 otherwise). */
  auth?: { user: string; pass: string };
  /** Name resolution rules (`--resolve`). */
  resolve?: ResolveRule[];
  /**
   * When set, a name no rule covers (not an IP literal, not `.localhost`, no `--resolve`) is
   * refused at once with this sentence as the error (code ENOTFOUND; the client gets a 502
   * saying it) instead of being looked up: the offline lab asks no resolver (issue 13).
   */
  refuseUnknownNames?: string;
  /**
   * The system lookup for names no rule covers (default `dns.lookup`). Tests pass their own, so
   * no test ever queries the real resolver.
   */
  systemLookup?: LookupFunction;
  /**
   * Targets on the proxy's own machine that clients may reach although the proxy listens on
   * an address other than 127.0.0.1 / ::1 (`--allow-target HOST[:PORT]`, ./target-guard.ts).
   */
  allowTargets?: { host: string; port: number | null }[];
  /** Extra trusted roots (PEM) for validating upstream servers, besides the system roots. */
  upstreamCa?: string[];
  /**
   * The highest TLS version offered to clients on the forged leg (`--client-tls-max`, default
   * 1.3); Controls.setClientTlsMax changes it for new connections.
   */
  clientTlsMax?: ClientTlsMax;
  /** Do not validate upstream certificates (`--insecure-upstream`). Loudly discouraged. */
  insecureUpstream?: boolean;
  /** Receives SSLKEYLOGFILE lines (no trailing newline) for both legs. Secrets: never in events. */
  keylog?: (line: string) => void;
  /**
   * The caller writes both legs as a pcapng capture (`--pcap`, src/sinks/pcap.ts, built from
   * events): the engine says so in `proxy.listening`, and captures its own connections to
   * servers for it (`upstream.wire` events, ./upstream-wire.ts). Off: nothing is tapped upstream.
   */
  pcap?: boolean;
  /**
   * Change what is relayed (`--tamper`, ./tamper.ts): rules applied to plain-HTTP and decrypted
   * flows that match. None by default.
   */
  tamper?: readonly TamperRule[];
  /** Raw wire capture per direction of each client connection, bytes. Default 64 KiB. */
  captureLimitBytes?: number;
  /** Body capture per HTTP message, bytes. Default 256 KiB. */
  bodyLimitBytes?: number;
  /**
   * Time limits by stage (./timeouts.ts); each one left out keeps its documented default.
   * Tests pass short ones.
   */
  timeouts?: Partial<Timeouts>;
}

export interface RunningProxy {
  /** The address it listens on. */
  host: string;
  /** The real port (useful with port 0). */
  port: number;
  /** `http://HOST:PORT`, what to give curl's `-x` or a browser's proxy setting. */
  url: string;
  /** Mode switch and the auto mode's memory, for the UI. */
  controls: Controls;
  /** Stop listening and release every socket and server. Idempotent. */
  close(): Promise<void>;
  /** What the proxy holds right now, counted (tests and `npm run soak` read it). */
  stats(): ProxyStats;
}

/** Counts of the proxy's per-host and per-connection state (issue 13: all of it bounded). */
export interface ProxyStats {
  /** Open client connections. */
  connections: number;
  /** Secure contexts of the internal SNI server (at most SNI_CONTEXT_CACHE_MAX, plus in-flight). */
  sniContexts: number;
  /** Internal TLS servers: always two (by SNI, and one for clients without SNI). */
  internalServers: number;
}

export const DEFAULT_CAPTURE_LIMIT_BYTES = CAPTURE_LIMITS.wireBytes;
export const DEFAULT_BODY_LIMIT_BYTES = CAPTURE_LIMITS.bodyBytes;
