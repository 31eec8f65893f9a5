import { describe, expect, it } from 'vitest';
import { normalizeHost, normalizePermit, withinConstraints } from '../../src/ca/index.ts';
import { LabError } from '../../src/util/lab-error.ts';

function refusal(host: string): LabError {
  try {
    normalizeHost(host);
  } catch (err) {
    if (err instanceof LabError) return err;
    throw err;
  }
  throw new Error(`normalizeHost accepted ${JSON.stringify(host)}`);
}

describe('normalizeHost', () => {
  it('keeps DNS names, lower-cased, without a trailing dot', () => {
    expect(normalizeHost('Shop.TEST')).toBe('shop.test');
    expect(normalizeHost('shop.test.')).toBe('shop.test');
    expect(normalizeHost('localhost')).toBe('localhost');
    expect(normalizeHost('a-b_c.x1.test')).toBe('a-b_c.x1.test');
  });

  it('turns an internationalised name into punycode', () => {
    expect(normalizeHost('bücher.test')).toBe('xn--bcher-kva.test');
  });

  it('keeps IP literals; IPv6 compressed and unbracketed', () => {
    expect(normalizeHost('127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeHost('::1')).toBe('::1');
    expect(normalizeHost('[::1]')).toBe('::1');
    expect(normalizeHost('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(normalizeHost('2001:DB8::1')).toBe('2001:db8::1');
  });

  it.each([
    ['../../x', /path, port or URL character/],
    ['', /empty/],
    ['.', /empty/],
    [`${'a'.repeat(64)}.test`, /longer than 63/],
    ['a..b', /empty label/],
    ['.a.test', /empty label/],
    ['shop test', /white space/],
    [' shop.test', /white space/],
    ['shop.test\n', /white space/],
    ['a/b.test', /path, port or URL character/],
    ['shop.test:443', /path, port or URL character/],
    ['user@shop.test', /path, port or URL character/],
    ['*.shop.test', /wildcards/],
    ['-a.test', /hyphen/],
    ['a!.test', /character other than/],
    [`${'abcdefghi.'.repeat(26)}test`, /longer than 253/],
    ['1.2.3', /looks like an IP address/],
    ['999.1.1.1', /looks like an IP address/],
    ['fe80::1%eth0', /zone/],
  ])('refuses %j', (host, why) => {
    const err = refusal(host);
    expect(err.kind).toBe('usage');
    expect(err.message).toMatch(why);
    expect(err.message).toContain(JSON.stringify(host));
  });
});

describe('normalizePermit', () => {
  it('takes DNS names with or without a leading *. or .', () => {
    expect(normalizePermit('example.com')).toEqual({ kind: 'dns', base: 'example.com' });
    expect(normalizePermit('*.Example.com')).toEqual({ kind: 'dns', base: 'example.com' });
    expect(normalizePermit('.example.com')).toEqual({ kind: 'dns', base: 'example.com' });
  });

  it('takes addresses and ranges', () => {
    expect(normalizePermit('10.1.2.3')).toEqual({ kind: 'ip', base: '10.1.2.3/32' });
    expect(normalizePermit('10.0.0.0/8')).toEqual({ kind: 'ip', base: '10.0.0.0/8' });
    expect(normalizePermit('fd00::/8')).toEqual({ kind: 'ip', base: 'fd00::/8' });
    expect(() => normalizePermit('10.0.0.0/33')).toThrow(/not an IP range/);
    expect(() => normalizePermit('a..b')).toThrow(/empty label/);
  });
});

describe('withinConstraints', () => {
  const dns = ['test', 'localhost'];
  const ips = ['127.0.0.0/8', '::1/128'];
  it.each([
    ['test', true],
    ['shop.test', true],
    ['a.b.test', true],
    ['localhost', true],
    ['api.localhost', true],
    ['xtest', false],
    ['test.com', false],
    ['example.com', false],
    ['127.0.0.1', true],
    ['127.9.8.7', true],
    ['::1', true],
    ['128.0.0.1', false],
    ['::2', false],
    ['8.8.8.8', false],
  ])('%s → %s', (host, expected) => {
    expect(withinConstraints(host, dns, ips)).toBe(expected);
  });
});
