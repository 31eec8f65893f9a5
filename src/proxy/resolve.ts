// Name resolution owned by the proxy. A client behind a proxy never resolves names itself: it
// sends the name in the request line or in CONNECT, and the proxy connects. So `--resolve`
// rules are how labs and tests point names at loopback servers without editing /etc/hosts,
// and names under `.localhost` always mean loopback (RFC 6761 section 6.3).
import dns from 'node:dns';
import net from 'node:net';
import { LabError } from '../util/lab-error.ts';
import type { ResolveRule } from './options.ts';

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const PATTERN_RE = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`, 'i');

/** Parse `--resolve NAME=ADDRESS` (NAME may be `*.domain`). Throws a usage LabError. */
export function parseResolveRule(text: string): ResolveRule {
  const eq = text.indexOf('=');
  const pattern = (eq < 0 ? '' : text.slice(0, eq)).trim().toLowerCase().replace(/\.$/, '');
  const address = (eq < 0 ? '' : text.slice(eq + 1)).trim().replace(/^\[(.*)\]$/, '$1');
  if (!pattern || !PATTERN_RE.test(pattern)) {
    throw new LabError(
      'usage',
      `--resolve wants NAME=ADDRESS (for example bank.test=127.0.0.1 or *.bank.test=127.0.0.1), got "${text}"`,
    );
  }
  if (net.isIP(address) === 0) {
    throw new LabError(
      'usage',
      `--resolve ${pattern}: "${address}" is not an IP address`,
      'the address must be an IPv4 or IPv6 literal; the proxy does no DNS for ruled names',
    );
  }
  return { pattern, address };
}

function normalize(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

export class Resolver {
  private readonly exact = new Map<string, ResolveRule>();
  /** Wildcards, longest suffix first so `*.a.bank.test` wins over `*.bank.test`. */
  private readonly wildcards: { suffix: string; rule: ResolveRule }[] = [];

  constructor(rules: readonly ResolveRule[] = []) {
    for (const rule of rules) {
      const p = normalize(rule.pattern);
      if (p.startsWith('*.')) this.wildcards.push({ suffix: p.slice(1), rule });
      else this.exact.set(p, rule);
    }
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  /** The rule that applies to `host`, or null. */
  match(host: string): ResolveRule | null {
    const h = normalize(host);
    const exact = this.exact.get(h);
    if (exact) return exact;
    for (const w of this.wildcards) if (h.endsWith(w.suffix)) return w.rule;
    return null;
  }

  /** The address `host` is pinned to (IP literal, `.localhost`, a rule), or null for system DNS. */
  addressFor(host: string): string | null {
    const h = normalize(host);
    if (net.isIP(h)) return h;
    if (h === 'localhost' || h.endsWith('.localhost')) return '127.0.0.1';
    return this.match(h)?.address ?? null;
  }

  /** The real port for `host:port` (a rule's `ports` map), else `port`. */
  portFor(host: string, port: number): number {
    return this.match(host)?.ports?.[port] ?? port;
  }

  /** A `lookup` for net.connect / http.request that applies the rules, else asks the system. */
  readonly lookup = ((
    hostname: string,
    options: dns.LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void,
  ): void => {
    const address = this.addressFor(hostname);
    if (address === null) {
      dns.lookup(hostname, options, callback as never);
      return;
    }
    const family = net.isIP(address);
    if (options.all) process.nextTick(callback, null, [{ address, family }]);
    else process.nextTick(callback, null, address, family);
  }) as unknown as net.LookupFunction;
}
