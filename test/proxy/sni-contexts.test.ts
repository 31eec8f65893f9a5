import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import type { Leaf } from '../../src/ca/index.ts';
import { SniContexts } from '../../src/proxy/sni-contexts.ts';
import { makeTestPki } from '../integration/helpers.ts';

const pki = makeTestPki();

function leafFor(host: string): Leaf {
  const { certPem, keyPem } = pki.leaf([host]);
  return { host, certPem, keyPem, summary: {} as Leaf['summary'], cached: false, mintMs: 0 };
}

/** What the SNI callback serves for `name`. */
function served(c: SniContexts, name: string): tls.SecureContext | undefined {
  let got: tls.SecureContext | undefined;
  c.sniCallback(name, (_err, ctx) => (got = ctx));
  return got;
}

describe('SniContexts', () => {
  it('serves the pinned name, case-insensitively, and nothing for an unknown one', () => {
    const c = new SniContexts(4);
    c.pin('a.test', leafFor('a.test'))();
    expect(served(c, 'A.Test')).toBeDefined();
    expect(served(c, 'b.test')).toBeUndefined();
  });

  it('keeps at most its cap, evicting the least recently used name', () => {
    const c = new SniContexts(2);
    const a = leafFor('a.test');
    c.pin('a.test', a)();
    c.pin('b.test', leafFor('b.test'))();
    c.pin('a.test', a)(); // a is used again: b is now the oldest
    c.pin('c.test', leafFor('c.test'))();
    expect(c.size).toBe(2);
    expect(served(c, 'a.test')).toBeDefined();
    expect(served(c, 'b.test')).toBeUndefined();
    expect(served(c, 'c.test')).toBeDefined();
  });

  it('keeps serving a pinned name the cache evicted, until it is released', () => {
    const c = new SniContexts(1);
    const release = c.pin('a.test', leafFor('a.test'));
    c.pin('b.test', leafFor('b.test'))();
    expect(c.size).toBe(2);
    expect(served(c, 'a.test')).toBeDefined();
    release();
    release(); // twice is harmless
    expect(c.size).toBe(1);
    expect(served(c, 'a.test')).toBeUndefined();
  });

  it('builds a context ahead (warm) that the hand-off then pins as it is', () => {
    const c = new SniContexts(4);
    const leaf = leafFor('a.test');
    c.warm('a.test', leaf);
    const ctx = served(c, 'a.test');
    expect(ctx).toBeDefined();
    c.pin('a.test', leaf)();
    expect(served(c, 'a.test')).toBe(ctx);
    expect(c.size).toBe(1);
  });

  it('reuses the context for the same certificate, and builds a new one for a renewed leaf', () => {
    const c = new SniContexts(4);
    const first = leafFor('a.test');
    c.pin('a.test', first)();
    const ctx = served(c, 'a.test');
    c.pin('a.test', first)();
    expect(served(c, 'a.test')).toBe(ctx);
    c.pin('a.test', leafFor('a.test'))();
    expect(served(c, 'a.test')).not.toBe(ctx);
    expect(c.size).toBe(1);
  });
});
