// Auto mode's memory of refusals: which client address refused a forged certificate for which
// host. The one owner of that state (tls-outcomes.ts writes it, connect-decision.ts reads it,
// Controls' forgetRejected clears it). Keyed by client address + host, so one client's
// refusal changes what that client gets, never what the others get (issue 13, item 14): a
// client that does not trust the CA cannot turn interception off for everyone else.
//
// A refusal counts for the connections a client opens after it, not for those it had already
// opened: a browser opens two connections for one navigation at the same moment (Chromium
// does), and whether the second one's ClientHello arrived before or after the first one's
// refusal must not decide whether that same page load shows the warning or the real site.
// Each refusal gets a sequence number; a CONNECT notes the number reached when it came in
// (`asOf`), and the decision for it sees only the refusals up to that number.
import { shiftOldest } from '../util/bounded.ts';

/** How many (client address, host) pairs are kept; the oldest is forgotten first. */
const MAX_REMEMBERED = 10_000;

export class AutoRefusals {
  /** Each remembered pair, with the sequence number of its first refusal. */
  private readonly pairs = new Map<string, number>();
  private seq = 0;

  private static key(clientAddress: string, host: string): string {
    return `${clientAddress}\u0000${host.toLowerCase()}`;
  }

  /** This client address refused a forged certificate for `host`: tunnel it from now on. */
  remember(clientAddress: string, host: string): void {
    const k = AutoRefusals.key(clientAddress, host);
    // A host refused again keeps the number of its first refusal (connections opened since
    // then already tunnel it) and becomes the most recently used.
    const first = this.pairs.get(k) ?? ++this.seq;
    this.pairs.delete(k);
    this.pairs.set(k, first);
    if (this.pairs.size > MAX_REMEMBERED) shiftOldest(this.pairs);
  }

  /** Where the refusals stand now: what a CONNECT arriving now keeps as its `asOf`. */
  mark(): number {
    return this.seq;
  }

  /**
   * Did this client address refuse `host` before? With `asOf` (a `mark()`), only a refusal
   * remembered by then counts (one that came later belongs to the client's later connections).
   */
  has(clientAddress: string, host: string, asOf = Infinity): boolean {
    const at = this.pairs.get(AutoRefusals.key(clientAddress, host));
    return at !== undefined && at <= asOf;
  }

  /** Forget every remembered refusal (all clients); returns how many there were. */
  clear(): number {
    const n = this.pairs.size;
    this.pairs.clear();
    return n;
  }

  get size(): number {
    return this.pairs.size;
  }
}
