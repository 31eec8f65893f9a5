import { describe, expect, it } from 'vitest';
import { parseResolveRule, Resolver } from '../../src/proxy/resolve.ts';
import { LabError } from '../../src/util/lab-error.ts';

describe('parseResolveRule', () => {
  it('reads NAME=ADDRESS and *.DOMAIN=ADDRESS', () => {
    expect(parseResolveRule('Bank.Test=127.0.0.1')).toEqual({
      pattern: 'bank.test',
      address: '127.0.0.1',
    });
    expect(parseResolveRule('*.bank.test=::1')).toEqual({ pattern: '*.bank.test', address: '::1' });
    expect(parseResolveRule('x.test=[::1]')).toEqual({ pattern: 'x.test', address: '::1' });
  });

  it.each([
    'bank.test',
    'bank.test=',
    '=127.0.0.1',
    'bank.test=localhost',
    'ba nk=1.2.3.4',
    '*=1.2.3.4',
    'a.*.test=1.2.3.4',
  ])('refuses %j with a usage error', (text) => {
    let err: unknown;
    try {
      parseResolveRule(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe('usage');
  });
});

describe('Resolver', () => {
  const r = new Resolver([
    { pattern: 'bank.test', address: '127.0.0.2', ports: { 443: 41234 } },
    { pattern: '*.test', address: '127.0.0.3' },
    { pattern: '*.a.test', address: '127.0.0.4' },
  ]);

  it('exact rules beat wildcards, longer wildcards beat shorter ones', () => {
    expect(r.addressFor('bank.test')).toBe('127.0.0.2');
    expect(r.addressFor('BANK.TEST.')).toBe('127.0.0.2');
    expect(r.addressFor('shop.test')).toBe('127.0.0.3');
    expect(r.addressFor('x.a.test')).toBe('127.0.0.4');
    expect(r.addressFor('test')).toBeNull();
    expect(r.addressFor('example.com')).toBeNull();
  });

  it('.localhost is always loopback, IP literals are themselves', () => {
    expect(r.addressFor('shop.localhost')).toBe('127.0.0.1');
    expect(r.addressFor('localhost')).toBe('127.0.0.1');
    expect(r.addressFor('10.1.2.3')).toBe('10.1.2.3');
    expect(r.addressFor('[::1]')).toBe('::1');
  });

  it('maps ports by rule', () => {
    expect(r.portFor('bank.test', 443)).toBe(41234);
    expect(r.portFor('bank.test', 80)).toBe(80);
    expect(r.portFor('shop.test', 443)).toBe(443);
  });

  it('lookup answers ruled names itself, in both callback shapes', async () => {
    const one = await new Promise((resolve) =>
      r.lookup('bank.test', {}, (err, address, family) => resolve({ err, address, family })),
    );
    expect(one).toEqual({ err: null, address: '127.0.0.2', family: 4 });
    const all = await new Promise((resolve) =>
      r.lookup('x.a.test', { all: true }, (err, addresses) => resolve({ err, addresses })),
    );
    expect(all).toEqual({ err: null, addresses: [{ address: '127.0.0.4', family: 4 }] });
  });
});
