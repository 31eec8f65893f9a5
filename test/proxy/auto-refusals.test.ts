// Auto mode's memory of refusals: per client address and host, case-insensitive, bounded, and
// seen by a connection only when the refusal came before its CONNECT (`mark()` / `asOf`).
import { describe, expect, it } from 'vitest';
import { AutoRefusals } from '../../src/proxy/auto-refusals.ts';

describe('AutoRefusals', () => {
  it('remembers a host for the client address that refused it, and for no other', () => {
    const r = new AutoRefusals();
    expect(r.has('127.0.0.1', 'bank.test')).toBe(false);
    r.remember('127.0.0.1', 'Bank.Test');
    expect(r.has('127.0.0.1', 'bank.test')).toBe(true);
    expect(r.has('127.0.0.2', 'bank.test')).toBe(false);
    expect(r.has('127.0.0.1', 'other.test')).toBe(false);
  });

  it('a connection sees only the refusals that came before its CONNECT', () => {
    const r = new AutoRefusals();
    const early = r.mark(); // a CONNECT that came in before any refusal
    r.remember('127.0.0.1', 'bank.test');
    const late = r.mark(); // one that came in after it
    expect(r.has('127.0.0.1', 'bank.test', early)).toBe(false);
    expect(r.has('127.0.0.1', 'bank.test', late)).toBe(true);
    // Another refusal of another host does not make the first one visible to `early`.
    r.remember('127.0.0.1', 'shop.test');
    expect(r.has('127.0.0.1', 'bank.test', early)).toBe(false);
    expect(r.has('127.0.0.1', 'shop.test', late)).toBe(false);
    expect(r.has('127.0.0.1', 'shop.test', r.mark())).toBe(true);
  });

  it('a host refused again keeps counting for connections opened between the two refusals', () => {
    const r = new AutoRefusals();
    r.remember('127.0.0.1', 'bank.test');
    const between = r.mark();
    r.remember('127.0.0.1', 'bank.test');
    // The first refusal still came before `between`: the pair keeps its first number.
    expect(r.has('127.0.0.1', 'bank.test', between)).toBe(true);
  });

  it('forgets everything on clear() and says how much it forgot', () => {
    const r = new AutoRefusals();
    r.remember('127.0.0.1', 'a.test');
    r.remember('127.0.0.1', 'b.test');
    expect(r.size).toBe(2);
    expect(r.clear()).toBe(2);
    expect(r.has('127.0.0.1', 'a.test')).toBe(false);
    expect(r.size).toBe(0);
  });

  it('keeps at most 10,000 pairs, forgetting the oldest first', () => {
    const r = new AutoRefusals();
    for (let i = 0; i < 10_001; i++) r.remember('127.0.0.1', `h${i}.test`);
    expect(r.size).toBe(10_000);
    expect(r.has('127.0.0.1', 'h0.test')).toBe(false);
    expect(r.has('127.0.0.1', 'h1.test')).toBe(true);
    expect(r.has('127.0.0.1', 'h10000.test')).toBe(true);
  });
});
