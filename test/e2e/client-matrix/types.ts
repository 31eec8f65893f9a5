// The vocabulary of the client matrix: which clients, which modes, and what one run of one
// client against one host in one mode recorded (`ClientRun`, plus what the proxy saw of it).
import type { ClientName } from '../../../src/explain/index.ts';

/** Every client the matrix drives. `python-requests` is held against the `python` lines. */
export const MATRIX_CLIENTS = [
  'curl',
  'wget',
  'python-urllib',
  'python-requests',
  'node',
  'openssl',
  'chromium',
  'firefox',
] as const;
export type MatrixClient = (typeof MATRIX_CLIENTS)[number];

/** The catalog's name for a matrix client (whose lines its run is held against). */
export function catalogClient(c: MatrixClient): ClientName {
  return c === 'python-urllib' || c === 'python-requests' ? 'python' : c;
}

/**
 * - `direct`: no proxy; the client trusts the lab public root only.
 * - `intercept-untrusted`: proxy in intercept mode; the client trusts the lab root only.
 * - `intercept-trusted`: intercept mode; the client trusts the lab root and the proxy's CA.
 * - `auto-first` / `auto-retry`: proxy in auto mode, the client trusts the lab root only; the
 *   first attempt, then the same request again (which the proxy now tunnels).
 */
export const MATRIX_MODES = [
  'direct',
  'intercept-untrusted',
  'intercept-trusted',
  'auto-first',
  'auto-retry',
] as const;
export type MatrixMode = (typeof MATRIX_MODES)[number];

/** What one client did in one cell. */
export interface ClientRun {
  client: MatrixClient;
  host: string;
  mode: MatrixMode;
  /** `ok`: the client got an HTTP response (any status); `error`: it failed before one. */
  outcome: 'ok' | 'error';
  /**
   * `ok`: the HTTP status. `error`: curl / wget / openssl exit status, Node `err.code`, Python
   * the innermost exception class, a browser the code its error page names.
   */
  code: string;
  /** The client's own words (stderr / exception message; a browser: title, heading, code), trimmed. */
  text: string;
}

/** What a client run needs to know about where to go and what to trust. */
export interface Target {
  host: string;
  /** The URL the client asks for (`https://host/` through the proxy, `https://host:PORT/` directly). */
  url: string;
  /** Direct mode: the real loopback port of the host's server. Null through the proxy. */
  directPort: number | null;
  /** Through the proxy: its port on 127.0.0.1. Null in direct mode. */
  proxyPort: number | null;
  /** PEM file of every root the client trusts. */
  caFile: string;
  /** A scratch folder for this run (HOME, hosts file…), removed by the caller. */
  scratch: string;
}

/** The result of a client run, before the cell is known. */
export type Said = Pick<ClientRun, 'outcome' | 'code' | 'text'>;
