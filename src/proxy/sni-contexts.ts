// The secure contexts of the internal SNI server, bounded (issue 13, item 8). Node's
// `server.addContext(name, …)` appends to an array that nothing ever shrinks (and scans it, by
// regular expression, on every handshake): each new host name left a context of ~23 KB behind
// for good — 17,253 names took the proxy from 97 to 754 MB. Here the server's SNICallback
// serves contexts from a least-recently-used map capped at SNI_CONTEXT_CACHE_MAX; an evicted
// name gets a new context (from the CA's leaf, re-minted if the CA evicted that too) the next
// time a client asks for it. A context in use by a hand-off in flight is pinned, so eviction
// can never pull the certificate from under a client whose ClientHello is on its way.
import tls from 'node:tls';
import type { Leaf } from '../ca/index.ts';
import { shiftOldest } from '../util/bounded.ts';

/**
 * SNI contexts kept. A context costs ~23 KB of native memory and ~3 ms to build (it parses
 * the shared leaf key again; measured on this kind of machine): 1,000 of them hold ~23 MB,
 * while a workshop touches tens of host names and a browsing session a few hundred. The same
 * size as the CA's leaf cache (LEAF_CACHE_MAX), so a name whose context is still here has its
 * leaf too.
 */
export const SNI_CONTEXT_CACHE_MAX = 1_000;

interface Entry {
  /** The certificate this context presents (a renewed leaf needs a new context). */
  certPem: string;
  context: tls.SecureContext;
}

export class SniContexts {
  /** Map iteration order is insertion order: re-inserting on a hit makes it an LRU. */
  private readonly cache = new Map<string, Entry>();
  /** Contexts of hand-offs in flight, by name, with how many hold each. */
  private readonly pinned = new Map<string, { entry: Entry; holders: number }>();

  constructor(private readonly max = SNI_CONTEXT_CACHE_MAX) {}

  /**
   * Make `leaf`'s context the one served for `name` (lower case), and keep it until the
   * returned release runs (when the handed-off client closes), whatever the cache evicts
   * meanwhile.
   */
  pin(name: string, leaf: Leaf): () => void {
    const entry = this.entryFor(name, leaf);
    const held = this.pinned.get(name);
    if (held && held.entry === entry) held.holders++;
    else this.pinned.set(name, { entry, holders: (held?.holders ?? 0) + 1 });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const p = this.pinned.get(name);
      if (!p) return;
      if (--p.holders <= 0) this.pinned.delete(name);
    };
  }

  /** Build (or refresh) `name`'s context without pinning it: the next `pin` finds it ready. */
  warm(name: string, leaf: Leaf): void {
    this.entryFor(name, leaf);
  }

  /** The server's SNICallback: the pinned context for `servername`, else the cached one. */
  readonly sniCallback = (
    servername: string,
    cb: (err: Error | null, ctx?: tls.SecureContext) => void,
  ): void => {
    const name = servername.toLowerCase();
    const entry = this.pinned.get(name)?.entry ?? this.cache.get(name);
    cb(null, entry?.context);
  };

  /** Contexts held: cached, plus pinned ones the cache let go (for tests and the soak run). */
  get size(): number {
    let extra = 0;
    for (const [name, p] of this.pinned) if (this.cache.get(name) !== p.entry) extra++;
    return this.cache.size + extra;
  }

  private entryFor(name: string, leaf: Leaf): Entry {
    const hit = this.cache.get(name);
    this.cache.delete(name);
    const entry =
      hit && hit.certPem === leaf.certPem
        ? hit
        : {
            certPem: leaf.certPem,
            context: tls.createSecureContext({ key: leaf.keyPem, cert: leaf.certPem }),
          };
    this.cache.set(name, entry);
    if (this.cache.size > this.max) shiftOldest(this.cache);
    return entry;
  }
}
