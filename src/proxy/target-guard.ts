// No way to the proxy machine's own services (issue 13, item 13). A proxy listening on an
// address other machines can reach (`--listen 0.0.0.0:8080`) relayed `CONNECT 127.0.0.1:PORT`
// and `GET http://127.0.0.1:PORT/` to the machine's own loopback services: databases, admin
// pages, the lab itself. So, unless the proxy listens on 127.0.0.1 / ::1 only, targets on the
// proxy machine — loopback, link-local, unspecified, and every address of its interfaces — are
// refused with 403 and a sentence, unless a `--resolve` rule (how the lab points its names at
// loopback) or `--allow-target HOST[:PORT]` names them. The proxy's own address and port (a
// request to itself, a loop) is refused in every mode and whatever listens where.
// A name the system resolver answers is checked on the addresses it resolves to, at every
// connection (the guard installs its check in the resolver's lookup, so an answer that changes
// between a check and the connection — DNS rebinding — is caught where it is used), and, for
// CONNECT, once before the 200 (`checkName`), so the client gets its 403 and sentence.
import net from 'node:net';
import os from 'node:os';
import { TARGET_REFUSED, type Resolver } from './resolve.ts';

/** Listening on one of these, only this machine can reach the proxy: the guard stays off. */
const LOCAL_ONLY_LISTEN = new Set(['127.0.0.1', '::1', 'localhost']);

/** A parsed `--allow-target HOST[:PORT]` (no port: every port of HOST). */
export interface AllowedTarget {
  host: string;
  port: number | null;
}

/** Parse `HOST[:PORT]` / `[V6]:PORT` / a bare IPv6 literal; null when it is not one. */
export function parseAllowTarget(text: string): AllowedTarget | null {
  const t = text.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(t);
  let host: string;
  let port: string | undefined;
  if (bracketed) {
    host = bracketed[1] as string;
    port = bracketed[2];
  } else if (net.isIPv6(t)) {
    host = t;
  } else {
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(t);
    if (!m) return null;
    host = (m[1] as string).replace(/\.$/, '');
    port = m[2];
  }
  if (!host || (/[^a-z0-9._:-]/.test(host) && net.isIP(host) === 0)) return null;
  if (port === undefined) return { host, port: null };
  const n = Number(port);
  return n >= 1 && n <= 65535 ? { host, port: n } : null;
}

/** True for loopback, link-local and unspecified addresses, and this machine's own ones. */
export function isOnThisMachine(address: string): boolean {
  let a = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1] as string;
  if (net.isIPv4(a)) {
    if (a.startsWith('127.') || a.startsWith('169.254.') || a.startsWith('0.')) return true;
  } else if (net.isIPv6(a)) {
    if (a === '::1' || a === '::' || /^fe[89ab][0-9a-f]:/.test(a)) return true;
  } else return false;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) if (i.address.toLowerCase() === a) return true;
  }
  return false;
}

export class TargetGuard {
  private readonly guarded: boolean;
  private proxyPort = 0;

  constructor(
    private readonly listenHost: string,
    private readonly resolver: Resolver,
    private readonly allowed: readonly AllowedTarget[],
  ) {
    this.guarded = !LOCAL_ONLY_LISTEN.has(listenHost.toLowerCase());
    resolver.checkAnswers((host, port, address) => this.checkAddress(host, port, address));
  }

  /** The port the proxy really listens on (known once it listens). */
  listening(port: number): void {
    this.proxyPort = port;
  }

  /**
   * Why `host:port` (as the client asked for it) may not be reached, as a sentence, or null.
   * Names the system resolver answers for are checked on their address when they are looked
   * up (`checkAddress`).
   */
  check(host: string, port: number): string | null {
    const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    const pinned = this.resolver.addressFor(h);
    const address = pinned ?? h;
    const realPort = this.resolver.portFor(h, port);
    if (this.isSelf(address, realPort)) {
      return `${host}:${port} is this proxy itself: relaying the request to itself would loop.`;
    }
    if (!this.guarded || pinned === null) return null;
    if (this.resolver.match(h) !== null || this.isAllowed(h, port)) return null;
    return this.refusal(host, port, address);
  }

  /**
   * For a name only the system resolver can answer, on a proxy that guards its machine: look it
   * up now, and say why it may not be reached (a sentence) when it resolves to this machine.
   * Null otherwise — also when the lookup fails: the connection then fails the same way and
   * says so. Pinned names and IP literals are `check`'s.
   */
  checkName(host: string, port: number): Promise<string | null> {
    const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (!this.guarded || this.resolver.addressFor(h) !== null || this.isAllowed(h, port)) {
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      this.resolver.lookupFor(port)(h, { all: true }, (err: NodeJS.ErrnoException | null) =>
        resolve(err?.code === TARGET_REFUSED ? err.message : null),
      );
    });
  }

  /** For a name the system resolver answered: refused (a sentence) when it lands on this machine. */
  checkAddress(host: string, port: number, address: string): string | null {
    if (this.isSelf(address, port)) {
      return `${host}:${port} is this proxy itself: relaying the request to itself would loop.`;
    }
    if (!this.guarded || this.isAllowed(host.toLowerCase(), port)) return null;
    return this.refusal(host, port, address);
  }

  private refusal(host: string, port: number, address: string): string | null {
    if (!isOnThisMachine(address)) return null;
    const via = address === host.toLowerCase() ? '' : ` (${address})`;
    return (
      `${host}:${port}${via} is on the proxy's own machine: a proxy listening on ${this.listenHost} ` +
      `does not let its clients reach this machine's own services. ` +
      `Start it with --allow-target ${host}:${port} (or a --resolve rule) to allow it.`
    );
  }

  private isAllowed(host: string, port: number): boolean {
    return this.allowed.some((a) => a.host === host && (a.port === null || a.port === port));
  }

  private isSelf(address: string, port: number): boolean {
    if (this.proxyPort === 0 || port !== this.proxyPort) return false;
    const listen = this.listenHost.toLowerCase();
    if (listen === '0.0.0.0' || listen === '::') return isOnThisMachine(address);
    if (listen === 'localhost') return address === '127.0.0.1' || address === '::1';
    return address.toLowerCase() === listen;
  }
}
