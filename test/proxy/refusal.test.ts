import { describe, expect, it } from 'vitest';
import {
  judgeRefusal,
  refusalWindowMs,
  REFUSAL_WINDOW_MAX_MS,
  REFUSAL_WINDOW_MIN_MS,
} from '../../src/proxy/refusal.ts';

describe('refusalWindowMs', () => {
  it('scales with the handshake time, within bounds', () => {
    expect(refusalWindowMs(2)).toBe(REFUSAL_WINDOW_MIN_MS);
    expect(refusalWindowMs(100)).toBe(2000);
    expect(refusalWindowMs(10_000)).toBe(REFUSAL_WINDOW_MAX_MS);
    expect(refusalWindowMs(null)).toBe(REFUSAL_WINDOW_MIN_MS);
  });
});

describe('judgeRefusal', () => {
  it('a quick silent close after the handshake: probably refused, counts', () => {
    const r = judgeRefusal({
      error: null,
      clientAlert: null,
      secureAt: 1000,
      handshakeMs: 5,
      now: 1012,
    });
    expect(r).toMatchObject({ outcome: 'closed-after-handshake', alert: null, counts: true });
    expect(r.raw).toContain('probably refused');
    expect(r.raw).toContain('12 ms');
  });

  it('a late silent close: same outcome, but not held against the host', () => {
    const r = judgeRefusal({
      error: null,
      clientAlert: null,
      secureAt: 1000,
      handshakeMs: 5,
      now: 61_000,
    });
    expect(r).toMatchObject({ outcome: 'closed-after-handshake', counts: false });
    expect(r.raw).toContain('unused connection');
  });

  it('an alert seen on the wire wins, and counts', () => {
    const r = judgeRefusal({
      error: null,
      clientAlert: { code: 46, name: 'certificate_unknown' },
      secureAt: null,
      handshakeMs: null,
      now: 5,
    });
    expect(r).toMatchObject({ outcome: 'alert', alert: { code: 46 }, counts: true });
  });

  it('a reset before the handshake finished', () => {
    const err = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const r = judgeRefusal({
      error: err,
      clientAlert: null,
      secureAt: null,
      handshakeMs: null,
      now: 5,
    });
    expect(r).toMatchObject({ outcome: 'reset-during-handshake', counts: true });
  });
});
