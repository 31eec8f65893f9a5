// Auto mode's memory of refusals: which client address refused a forged certificate for which
// host. The one owner of that state (tls-outcomes.ts writes it, connect-decision.ts reads it,
// Controls' forgetRejected clears it). Keyed by client address + host, so one client's
// refusal changes what that client gets, never what the others get (issue 13, item 14): a
// client that does not trust the CA cannot turn interception off for everyone else.

/** How many (client address, host) pairs are kept; the oldest is forgotten first. */
const MAX_REMEMBERED = 10_000;

export class AutoRefusals {
  private readonly pairs = new Set<string>();

  private static key(clientAddress: string, host: string): string {
    return `${clientAddress}\u0000${host.toLowerCase()}`;
  }

  /** This client address refused a forged certificate for `host`: tunnel it from now on. */
  remember(clientAddress: string, host: string): void {
    const k = AutoRefusals.key(clientAddress, host);
    this.pairs.delete(k);
    this.pairs.add(k);
    if (this.pairs.size > MAX_REMEMBERED) {
      const oldest = this.pairs.values().next().value;
      if (oldest !== undefined) this.pairs.delete(oldest);
    }
  }

  /** Did this client address refuse `host` before? */
  has(clientAddress: string, host: string): boolean {
    return this.pairs.has(AutoRefusals.key(clientAddress, host));
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
