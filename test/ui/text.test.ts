import { describe, expect, it } from 'vitest';
import { clock } from '../../src/ui/text.ts';

describe('clock', () => {
  const local = (iso: string) => new Date(iso).toTimeString().slice(0, 8);

  it('gives local HH:MM:SS, also when it answers from the second it remembered', () => {
    const times = [
      '2026-11-23T03:26:57.021Z',
      '2026-11-23T03:26:57.999Z', // same second: remembered
      '2026-11-23T03:26:58.000Z', // the next one: formatted again
      '2026-11-23T03:26:57.500Z', // back to an earlier second
      '2026-11-23T05:26:57.500+02:00', // an offset form is never taken from memory
      '2026-11-23T03:26:57.100Z',
    ];
    for (const t of times) expect(clock(t)).toBe(local(t));
    expect(clock('2026-11-23T03:26:58.400Z')).not.toBe(clock('2026-11-23T03:26:57.400Z'));
  });

  it('shows dashes for a time it cannot read', () => {
    expect(clock('not a time')).toBe('--:--:--');
  });
});
