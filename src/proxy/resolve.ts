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

const USAGE =
  '--resolve wants NAME[:PORT]=ADDRESS[:PORT] (for example bank.test=127.0.0.1, ' +
  '*.bank.test=127.0.0.1 or bank.test:443=127.0.0.1:41235)';

/** A port number 1–65535 written in decimal, else null. */
function portNumber(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** `ADDRESS[:PORT]`: IPv4, `[IPv6]`, `[IPv6]:PORT`, or a bare IPv6 literal (no port). */
function splitAddress(text: string): { address: string; port: string | null } {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) return { address: bracketed[1] ?? '', port: bracketed[2] ?? null };
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const i = text.indexOf(':');
    return { address: text.slice(0, i), port: text.slice(i + 1) };
  }
  return { address: text, port: null };
}

/**
 * Parse `--resolve NAME[:PORT]=ADDRESS[:PORT]` (NAME may be `*.domain`). With ports, requests
 * for NAME:PORT go to ADDRESS:PORT2 (the rule's `ports` map); other ports of NAME keep their
 * number and go to ADDRESS. Several rules for the same NAME combine (see `Resolver`).
 * Throws a usage LabError saying what is wrong.
 */
export function parseResolveRule(text: string): ResolveRule {
  const eq = text.indexOf('=');
  let name = (eq < 0 ? '' : text.slice(0, eq)).trim().toLowerCase();
  const target = (eq < 0 ? '' : text.slice(eq + 1)).trim();
  let fromPort: number | null = null;
  const colon = name.lastIndexOf(':');
  if (colon >= 0) {
    fromPort = portNumber(name.slice(colon + 1));
    if (fromPort === null) {
      throw new LabError(
        'usage',
        `--resolve ${text}: "${name.slice(colon + 1)}" is not a port (1-65535)`,
        USAGE,
      );
    }
    name = name.slice(0, colon);
  }
  const pattern = name.replace(/\.$/, '');
  if (!pattern || !PATTERN_RE.test(pattern)) {
    throw new LabError('usage', `${USAGE}, got "${text}"`);
  }
  const { address, port } = splitAddress(target);
  if (net.isIP(address) === 0) {
    throw new LabError(
      'usage',
      `--resolve ${pattern}: "${address}" is not an IP address`,
      'the address must be an IPv4 or IPv6 literal ([::1] with a port); the proxy does no DNS for ruled names',
    );
  }
  if (port === null) {
    return fromPort === null
      ? { pattern, address }
      : { pattern, address, ports: { [fromPort]: fromPort } };
  }
  const toPort = portNumber(port);
  if (toPort === null) {
    throw new LabError('usage', `--resolve ${text}: "${port}" is not a port (1-65535)`, USAGE);
  }
  if (fromPort === null) {
    throw new LabError(
      'usage',
      `--resolve ${text}: a target port needs the port it replaces`,
      `write ${pattern}:PORT=${target}, e.g. ${pattern}:443=${target} (the port the client asks for first)`,
    );
  }
  return { pattern, address, ports: { [fromPort]: toPort } };
}

/** The rule as `--resolve` arguments (one per mapped port), e.g. `bank.test:443=127.0.0.1:41235`. */
export function formatResolveRule(rule: ResolveRule): string[] {
  const address = net.isIPv6(rule.address) ? `[${rule.address}]` : rule.address;
  const ports = Object.entries(rule.ports ?? {});
  if (ports.length === 0) return [`${rule.pattern}=${rule.address}`];
  return ports.map(([from, to]) => `${rule.pattern}:${from}=${address}:${to}`);
}

function normalize(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

export interface ResolverOptions {
  /**
   * Refuse a name no rule covers with this sentence (an ENOTFOUND error) instead of asking the
   * system: the offline lab. Unset: such names go to `systemLookup`.
   */
  refuseUnknown?: string;
  /** Asked for names no rule covers (default `dns.lookup`). */
  systemLookup?: net.LookupFunction;
}

/**
 * Says why an address the system resolver gave for `host` may not be used for a connection to
 * `port` (a sentence), or null (./target-guard.ts).
 */
export type AnswerCheck = (host: string, port: number, address: string) => string | null;

/** The error code of a connection refused because of where its name resolved. */
export const TARGET_REFUSED = 'TARGET_REFUSED';

export class Resolver {
  private readonly exact = new Map<string, ResolveRule>();
  private answerCheck: AnswerCheck | null = null;
  /** Wildcards, longest suffix first so `*.a.bank.test` wins over `*.bank.test`. */
  private readonly wildcards: { suffix: string; rule: ResolveRule }[] = [];

  constructor(
    rules: readonly ResolveRule[] = [],
    private readonly opts: ResolverOptions = {},
  ) {
    // Several rules for one name combine (`--resolve bank.test:80=… --resolve
    // bank.test:443=…`): their port maps merge. A name has one address, so two rules that
    // disagree on it are a usage error rather than a silent choice.
    const merged = new Map<string, ResolveRule>();
    for (const rule of rules) {
      const p = normalize(rule.pattern);
      const prev = merged.get(p);
      if (prev && normalize(prev.address) !== normalize(rule.address)) {
        throw new LabError(
          'usage',
          `--resolve ${p}: two addresses given (${prev.address} and ${rule.address})`,
          'one name maps to one address; ports may differ (NAME:PORT=ADDRESS:PORT)',
        );
      }
      const ports = prev?.ports || rule.ports ? { ...prev?.ports, ...rule.ports } : undefined;
      merged.set(p, { pattern: p, address: normalize(rule.address), ...(ports ? { ports } : {}) });
    }
    for (const [p, rule] of merged) {
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

  /**
   * Check every address the system resolver answers before a connection uses it (issue 13:
   * a name can point at the proxy's own machine as well as an IP literal can). Names pinned by
   * the proxy itself (IP literals, `.localhost`, rules) are not looked up, so not checked here:
   * the target guard checks them before any connection.
   */
  checkAnswers(check: AnswerCheck): void {
    this.answerCheck = check;
  }

  /**
   * A `lookup` for net.connect / http.request that applies the rules; a name no rule covers is
   * refused (`refuseUnknown`) or goes to the system lookup, whose answers pass the answer
   * check for `port` (the port the connection is for): a refused answer fails the lookup with
   * code TARGET_REFUSED and the check's sentence as the message.
   */
  lookupFor(port: number): net.LookupFunction {
    return ((
      hostname: string,
      options: dns.LookupOptions,
      callback: (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void,
    ): void => {
      const address = this.addressFor(hostname);
      if (address === null) {
        if (this.opts.refuseUnknown !== undefined) {
          const err: NodeJS.ErrnoException = new Error(this.opts.refuseUnknown);
          err.code = 'ENOTFOUND';
          err.syscall = 'getaddrinfo';
          process.nextTick(callback, err, undefined);
          return;
        }
        // Looked up at call time (not bound at load): a test's hook on dns.lookup sees it too.
        const system = this.opts.systemLookup ?? dns.lookup;
        const check = this.answerCheck;
        if (!check) {
          system(hostname, options, callback as never);
          return;
        }
        system(hostname, options, ((
          err: NodeJS.ErrnoException | null,
          answer: unknown,
          family?: number,
        ) => {
          if (err) return callback(err, answer, family);
          const addresses = Array.isArray(answer)
            ? (answer as dns.LookupAddress[]).map((a) => a.address)
            : [String(answer)];
          for (const a of addresses) {
            const refused = check(hostname, port, a);
            if (refused !== null) {
              const e: NodeJS.ErrnoException = new Error(refused);
              e.code = TARGET_REFUSED;
              e.syscall = 'getaddrinfo';
              return callback(e, undefined);
            }
          }
          callback(null, answer, family);
        }) as never);
        return;
      }
      const family = net.isIP(address);
      if (options.all) process.nextTick(callback, null, [{ address, family }]);
      else process.nextTick(callback, null, address, family);
    }) as unknown as net.LookupFunction;
  }
}

/**
 * Host and port of an absolute `http://` request target whose authority carries credentials
 * (`http://user:pass@host/`), else null. http-mitm-proxy splits the authority at its first
 * colon and would look up `user` as the host (issue 13, item 16): credentials are never a host.
 */
export function targetWithoutUserinfo(url: string): { host: string; port: number } | null {
  const authority = /^http:\/\/([^/?#]*)/i.exec(url)?.[1];
  if (authority === undefined || !authority.includes('@')) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.hostname === '') return null;
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : 80,
  };
}
