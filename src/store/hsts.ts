// Which hosts the proxy has seen send Strict-Transport-Security (RFC 6797), from the events
// alone: a response the proxy decrypted carried the header. In eavesdrop mode, or on a tunnel,
// the header is inside TLS and nothing is learnt; over plain HTTP a browser ignores it
// (RFC 6797 §8.1), so it teaches nothing either. The Why view of a later refusal on such a host
// says the host sent HSTS: the proxy knows, because it read it (exercise 7).
import type { Header } from '../events/types.ts';
import { shiftOldest } from '../util/bounded.ts';

/** What the proxy read: the header, from which host, when. */
export interface HstsSeen {
  /** The host whose response carried the header. */
  host: string;
  /** The header's value as sent, e.g. `max-age=31536000`. */
  header: string;
  /** ISO time of the response that carried it. */
  at: string;
  /** Id of that `http.response` event. */
  eventId: string;
}

/** Hosts remembered at most (oldest forgotten first): a lab has a handful. */
const MAX_HSTS_HOSTS = 1000;

function headerValue(headers: Header[], name: string): string | null {
  const n = name.toLowerCase();
  return headers.find(([k]) => k.toLowerCase() === n)?.[1] ?? null;
}

/** `max-age` in seconds, or null when the header has none (then it is not a valid policy). */
function maxAge(value: string): number | null {
  const m = /(?:^|;)\s*max-age\s*=\s*"?(\d+)"?\s*(?:;|$)/i.exec(value);
  return m ? Number(m[1]) : null;
}

const includesSubDomains = (value: string): boolean =>
  /(?:^|;)\s*includesubdomains\s*(?:;|$)/i.test(value);

/** A bounded memory of the hosts that sent HSTS in a response the proxy read. */
export class HstsMemory {
  private readonly hosts = new Map<string, HstsSeen>();

  /**
   * Note a decrypted response from `host`. A header with `max-age=0` withdraws the policy
   * (RFC 6797 §6.1.1), as it does in a browser.
   */
  noteResponse(host: string, headers: Header[], at: string, eventId: string): void {
    const value = headerValue(headers, 'strict-transport-security');
    if (value === null || host === '') return;
    const age = maxAge(value);
    if (age === null) return;
    const key = host.toLowerCase();
    this.hosts.delete(key);
    if (age === 0) return;
    if (this.hosts.size >= MAX_HSTS_HOSTS) shiftOldest(this.hosts);
    this.hosts.set(key, { host: key, header: value, at, eventId });
  }

  /** The policy that covers `host`: its own, or a parent's with `includeSubDomains`. */
  lookup(host: string): HstsSeen | null {
    const name = host.toLowerCase();
    const own = this.hosts.get(name);
    if (own) return own;
    const labels = name.split('.');
    for (let i = 1; i < labels.length - 1; i++) {
      const parent = this.hosts.get(labels.slice(i).join('.'));
      if (parent && includesSubDomains(parent.header)) return parent;
    }
    return null;
  }

  clear(): void {
    this.hosts.clear();
  }
}
