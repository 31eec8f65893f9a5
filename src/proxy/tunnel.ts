// Tunnels: a CONNECT the engine does not intercept (eavesdrop mode, outside the CA's name
// constraints, refused before in auto mode, not TLS, nothing to forge) is piped to the real
// server untouched, and summed up in a `tunnel.summary` when the client connection closes.
import type { TunnelReason } from '../events/types.ts';
import type { EngineCore } from './engine-core.ts';
import type { Conn } from './conn.ts';
import { clientVerdict } from './client-verdict.ts';
import { formatMs, timeoutError, type Timeouts } from './timeouts.ts';
import { isDescriptorShortage } from './descriptors.ts';
import { nowMs } from './clock.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamWire } from './upstream-wire.ts';

/** What a tunnel needs of the engine. */
export type TunnelCore = Pick<
  EngineCore,
  'emit' | 'diag' | 'later' | 'descriptorShortage' | 'tunnelSockets'
> & {
  readonly upstream: Pick<Upstream, 'connectTunnel'>;
  readonly upstreamWire: Pick<UpstreamWire, 'use'> | null;
  readonly timeouts: Pick<Timeouts, 'upstreamConnectMs'>;
};

/** After a tunnel's server side ended cleanly, how long the client may keep its side open. */
const TUNNEL_LINGER_MS = 2_000;

/**
 * Pipe the client's socket to host:port; upstream failures become `upstream.error`. With
 * `silentMs`, a tunnel where neither side sends a byte for that long is closed.
 */
export function openTunnel(
  core: TunnelCore,
  conn: Conn,
  reason: TunnelReason,
  host: string,
  port: number,
  sni: string | null,
  silentMs?: number,
): void {
  const socket = conn.socket;
  const tunnel: NonNullable<Conn['tunnel']> = {
    reason,
    host,
    port,
    sni,
    start: nowMs(),
    ending: 'open',
  };
  conn.tunnel = tunnel;
  const upstream = core.upstream.connectTunnel(host, port);
  core.upstreamWire?.use(upstream, conn.id);
  core.tunnelSockets.add(upstream);
  // How the client side ended is part of its verdict (a reset, a close): the first end wins.
  socket.once('end', () => {
    if (tunnel.ending === 'open') tunnel.ending = 'client-closed';
  });
  upstream.once('end', () => {
    if (tunnel.ending === 'open') tunnel.ending = 'server-closed';
  });
  // The OS would retry a silent address for minutes: give up as the HTTP path does.
  const connectMs = core.timeouts.upstreamConnectMs;
  const connectTimer = setTimeout(
    () =>
      upstream.destroy(
        timeoutError('ETIMEDOUT', `no connection to ${host}:${port} within ${formatMs(connectMs)}`),
      ),
    connectMs,
  );
  connectTimer.unref();
  upstream.once('connect', () => clearTimeout(connectTimer));
  upstream.once('close', () => clearTimeout(connectTimer));
  if (silentMs !== undefined) {
    const silence = setTimeout(() => {
      core.diag(
        'info',
        'connect',
        `CONNECT ${host}:${port}: neither the client nor the server sent a byte for ${formatMs(silentMs)}: closed`,
        conn.id,
      );
      socket.destroy();
    }, silentMs);
    silence.unref();
    const spoke = (): void => clearTimeout(silence);
    socket.once('data', spoke);
    socket.once('close', spoke);
    upstream.once('data', spoke);
  }
  upstream.once('close', (hadError: boolean) => {
    core.tunnelSockets.delete(upstream);
    // A clean end reaches the client through the pipe (its data flushed first); give a
    // client that keeps its side open a moment, then let go.
    if (hadError) socket.destroy();
    else core.later(TUNNEL_LINGER_MS, () => socket.destroy());
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    // Once either side has ended, a reset or a write after the end is the teardown of a tunnel
    // that did its work (a server that closes first, then receives the client's close_notify),
    // not an upstream failure.
    if (tunnel.ending !== 'open' && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) return;
    if (isDescriptorShortage(err)) core.descriptorShortage();
    core.emit({
      type: 'upstream.error',
      connId: conn.id,
      flowId: null,
      host,
      port,
      code: err.code ?? 'ERROR',
      message: err.message,
      status: null,
    });
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (tunnel.ending === 'open' && err.code === 'ECONNRESET') tunnel.ending = 'client-reset';
    upstream.destroy();
  });
  socket.once('close', () => upstream.destroy());
  socket.pipe(upstream);
  upstream.pipe(socket);
}

/** The client connection closed: if it carried a tunnel, emit its `tunnel.summary`. */
export function emitTunnelSummary(core: Pick<EngineCore, 'emit'>, conn: Conn): void {
  if (conn.tunnel) {
    const snap = conn.wire;
    const t = conn.tunnel;
    core.emit({
      type: 'tunnel.summary',
      connId: conn.id,
      host: t.host,
      port: t.port,
      sni: t.sni,
      reason: t.reason,
      bytesUp: snap.bytesUp,
      bytesDown: snap.bytesDown,
      durationMs: Math.round(nowMs() - t.start),
      tlsVersion: snap.tlsVersion,
      serverCertificates: snap.serverCertificates,
      recordCount: snap.recordCount,
      cipherSuite: snap.cipherSuite,
      keyExchangeGroup: snap.keyExchangeGroup,
      clientVerdict: clientVerdict(snap.keptRecords, snap.tlsVersion, t.ending),
    });
  }
}
