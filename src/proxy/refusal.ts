// How a TLS attempt against a forged certificate ended when no request came, and whether it
// counts as a refusal (auto mode then tunnels the host). The outcome itself comes from
// classify.ts; this adds the one judgement the engine owns: a client that completed the
// handshake and closed without a request "probably refused" the certificate (Node and
// Firefox on TLS 1.2, GnuTLS do that) — but only if it closed quickly, because browsers also
// open speculative connections they never use (mockttp's silent-close heuristic).
import { classifyTlsFailure, type TlsFailure } from './classify.ts';
import type { TlsAlert } from './tls-alerts.ts';

/** A quick close is one within this many handshake durations… */
export const REFUSAL_WINDOW_FACTOR = 20;
/** …but never less than this (a loopback handshake takes ~2 ms)… */
export const REFUSAL_WINDOW_MIN_MS = 500;
/** …nor more than this (a slow real handshake takes ~200 ms). */
export const REFUSAL_WINDOW_MAX_MS = 5_000;

/** The window, in ms after the handshake, within which a silent close counts as a refusal. */
export function refusalWindowMs(handshakeMs: number | null): number {
  return Math.min(
    REFUSAL_WINDOW_MAX_MS,
    Math.max(REFUSAL_WINDOW_MIN_MS, (handshakeMs ?? 0) * REFUSAL_WINDOW_FACTOR),
  );
}

export interface Refusal extends TlsFailure {
  /** True when this should make auto mode tunnel the host from now on. */
  counts: boolean;
}

export function judgeRefusal(input: {
  /** The error the attempt ended with (tlsClientError, socket error), if any. */
  error: unknown;
  /** The alert the client sent, read in clear on the wire. */
  clientAlert: TlsAlert | null;
  /** When the handshake completed (ms clock), or null when it did not. */
  secureAt: number | null;
  handshakeMs: number | null;
  /** When the client closed (same clock). */
  now: number;
}): Refusal {
  const result = classifyTlsFailure({
    error: input.error,
    clientAlert: input.clientAlert,
    handshakeDone: input.secureAt !== null,
  });
  if (result.outcome !== 'closed-after-handshake' || input.secureAt === null) {
    return { ...result, counts: true };
  }
  const idle = Math.max(0, Math.round(input.now - input.secureAt));
  if (idle <= refusalWindowMs(input.handshakeMs)) {
    return {
      ...result,
      raw: `handshake completed, then the client closed ${idle} ms later without a request: probably refused the certificate`,
      counts: true,
    };
  }
  return {
    ...result,
    raw: `handshake completed; the client sent no request and closed ${idle} ms later (an unused connection, or a refusal)`,
    counts: false,
  };
}
