import type { LookupFunction } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  formatResolveRule,
  parseResolveRule,
  Resolver,
  TARGET_REFUSED,
  targetWithoutUserinfo,
} from '../../src/proxy/resolve.ts';
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

  it('reads NAME:PORT=ADDRESS:PORT into a port map (IPv6 in brackets)', () => {
    expect(parseResolveRule('bank.test:443=127.0.0.1:41235')).toEqual({
      pattern: 'bank.test',
      address: '127.0.0.1',
      ports: { 443: 41235 },
    });
    expect(parseResolveRule('*.bank.test:80=[::1]:8080')).toEqual({
      pattern: '*.bank.test',
      address: '::1',
      ports: { 80: 8080 },
    });
    expect(parseResolveRule('bank.test:443=127.0.0.1')).toEqual({
      pattern: 'bank.test',
      address: '127.0.0.1',
      ports: { 443: 443 },
    });
  });

  it('formats rules back into --resolve arguments that parse to the same thing', () => {
    const rule = { pattern: 'bank.test', address: '127.0.0.1', ports: { 80: 41234, 443: 41235 } };
    const args = formatResolveRule(rule);
    expect(args).toEqual(['bank.test:80=127.0.0.1:41234', 'bank.test:443=127.0.0.1:41235']);
    expect(new Resolver(args.map(parseResolveRule)).match('bank.test')).toEqual(rule);
    expect(formatResolveRule({ pattern: 'v6.test', address: '::1', ports: { 443: 4 } })).toEqual([
      'v6.test:443=[::1]:4',
    ]);
    expect(formatResolveRule({ pattern: '*.test', address: '127.0.0.1' })).toEqual([
      '*.test=127.0.0.1',
    ]);
  });

  it.each([
    ['bank.test:0=127.0.0.1:1', /"0" is not a port/],
    ['bank.test:443=127.0.0.1:70000', /"70000" is not a port/],
    ['bank.test:https=127.0.0.1:1', /"https" is not a port/],
    ['bank.test:443=127.0.0.1:', /"" is not a port/],
    ['bank.test=127.0.0.1:41235', /a target port needs the port it replaces/],
    ['bank.test:443=[::1', /not an IP address/],
    ['bank.test:443=localhost:80', /"localhost" is not an IP address/],
  ])('refuses %j with a usage error saying why', (text, why) => {
    let err: unknown;
    try {
      parseResolveRule(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe('usage');
    expect((err as LabError).message).toMatch(why);
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

  it('combines rules for one name (ports merge) and refuses two addresses for it', () => {
    const merged = new Resolver(
      ['bank.test:80=127.0.0.1:41234', 'Bank.Test:443=127.0.0.1:41235'].map(parseResolveRule),
    );
    expect(merged.portFor('bank.test', 80)).toBe(41234);
    expect(merged.portFor('bank.test', 443)).toBe(41235);
    expect(merged.portFor('bank.test', 8443)).toBe(8443);
    expect(merged.addressFor('bank.test')).toBe('127.0.0.1');
    expect(
      () =>
        new Resolver(
          ['bank.test:80=127.0.0.1:1', 'bank.test:443=127.0.0.2:2'].map(parseResolveRule),
        ),
    ).toThrow(/two addresses given/);
  });

  it('maps ports by rule', () => {
    expect(r.portFor('bank.test', 443)).toBe(41234);
    expect(r.portFor('bank.test', 80)).toBe(80);
    expect(r.portFor('shop.test', 443)).toBe(443);
  });

  it('lookup answers ruled names itself, in both callback shapes', async () => {
    const one = await new Promise((resolve) =>
      r.lookupFor(443)('bank.test', {}, (err, address, family) =>
        resolve({ err, address, family }),
      ),
    );
    expect(one).toEqual({ err: null, address: '127.0.0.2', family: 4 });
    const all = await new Promise((resolve) =>
      r.lookupFor(443)('x.a.test', { all: true }, (err, addresses) => resolve({ err, addresses })),
    );
    expect(all).toEqual({ err: null, addresses: [{ address: '127.0.0.4', family: 4 }] });
  });
});

describe('targetWithoutUserinfo', () => {
  it('reads the host and port of a URL with credentials, never the user name', () => {
    expect(targetWithoutUserinfo('http://alice:s3cret@bank.test/x')).toEqual({
      host: 'bank.test',
      port: 80,
    });
    expect(targetWithoutUserinfo('http://alice@bank.test:8080/')).toEqual({
      host: 'bank.test',
      port: 8080,
    });
    expect(targetWithoutUserinfo('http://u:p@[::1]:81/')).toEqual({ host: '::1', port: 81 });
  });

  it('leaves URLs without credentials (and non-http ones) to the usual path', () => {
    expect(targetWithoutUserinfo('http://bank.test/a@b')).toBeNull(); // @ in the path only
    expect(targetWithoutUserinfo('/relative')).toBeNull();
    expect(targetWithoutUserinfo('https://u:p@bank.test/')).toBeNull();
  });
});

describe('Resolver refuseUnknown', () => {
  it('refuses a name no rule covers with the sentence, and still resolves ruled names', async () => {
    const r = new Resolver([{ pattern: 'bank.test', address: '127.0.0.1' }], {
      refuseUnknown: 'not a lab name',
      systemLookup: () => {
        throw new Error('the system lookup must not be asked');
      },
    });
    const ask = (host: string) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
        (
          r.lookupFor(80) as unknown as (
            h: string,
            o: object,
            cb: (...a: unknown[]) => void,
          ) => void
        )(host, {}, (err, address) =>
          resolve({ err: err as NodeJS.ErrnoException | null, address }),
        ),
      );
    expect(await ask('bank.test')).toEqual({ err: null, address: '127.0.0.1' });
    expect((await ask('shop.localhost')).address).toBe('127.0.0.1');
    const refused = await ask('example.com');
    expect(refused.err?.code).toBe('ENOTFOUND');
    expect(refused.err?.message).toBe('not a lab name');
  });
});

describe('Resolver checkAnswers', () => {
  const system = ((
    host: string,
    opts: { all?: boolean },
    cb: (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void,
  ) => {
    const address = host === 'inside.example' ? '127.0.0.1' : '192.0.2.1';
    if (opts.all) process.nextTick(cb, null, [{ address, family: 4 }]);
    else process.nextTick(cb, null, address, 4);
  }) as unknown as LookupFunction;
  const r = new Resolver([{ pattern: 'lab.test', address: '127.0.0.1' }], { systemLookup: system });
  const seen: string[] = [];
  r.checkAnswers((host, port, address) => {
    seen.push(`${host}:${port}=${address}`);
    return address.startsWith('127.') ? `${host} is inside` : null;
  });
  const ask = (host: string, all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      (
        r.lookupFor(8080) as unknown as (
          h: string,
          o: object,
          cb: (...a: unknown[]) => void,
        ) => void
      )(host, { all }, (err, address) =>
        resolve({ err: err as NodeJS.ErrnoException | null, address }),
      ),
    );

  it('fails a system answer the check refuses, with TARGET_REFUSED and its sentence', async () => {
    for (const all of [false, true]) {
      const { err } = await ask('inside.example', all);
      expect(err?.code).toBe(TARGET_REFUSED);
      expect(err?.message).toBe('inside.example is inside');
    }
    expect(seen).toContain('inside.example:8080=127.0.0.1');
  });

  it('passes the answers the check accepts, and never checks names the rules pin', async () => {
    expect((await ask('outside.example', false)).address).toBe('192.0.2.1');
    expect((await ask('outside.example', true)).address).toEqual([
      { address: '192.0.2.1', family: 4 },
    ]);
    seen.length = 0;
    expect((await ask('lab.test', false)).address).toBe('127.0.0.1');
    expect(seen).toEqual([]);
  });
});
