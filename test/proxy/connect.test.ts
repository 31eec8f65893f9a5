import { describe, expect, it } from 'vitest';
import {
  badConnectResponse,
  checkProxyAuth,
  isAbsoluteForm,
  OUT_OF_DESCRIPTORS_RESPONSE,
  parseConnectTarget,
  PROXY_AUTH_REQUIRED,
  refuseDirectUpgrade,
} from '../../src/proxy/connect.ts';

describe('parseConnectTarget', () => {
  it('accepts host names, IPv4 and bracketed IPv6 with a port', () => {
    expect(parseConnectTarget('Bank.Test:443')).toEqual({ ok: true, host: 'bank.test', port: 443 });
    expect(parseConnectTarget('127.0.0.1:8443')).toEqual({
      ok: true,
      host: '127.0.0.1',
      port: 8443,
    });
    expect(parseConnectTarget('[::1]:443')).toEqual({ ok: true, host: '::1', port: 443 });
    expect(parseConnectTarget('a_b.example.com.:1')).toEqual({
      ok: true,
      host: 'a_b.example.com',
      port: 1,
    });
  });

  it.each([
    ['../../x:443', 'not a valid host name'],
    ['[:443', 'not HOST:PORT'],
    [':443', 'empty host'],
    ['', 'empty CONNECT target'],
    ['bank.test:99999', 'outside 1-65535'],
    ['bank.test:0', 'outside 1-65535'],
    ['bank.test', 'not HOST:PORT'],
    ['bank test:443', 'not a valid host name'],
    ['[zz]:443', 'not an IPv6 address'],
    ['1.2.3:443', 'not a valid host name'],
    ['-bank.test:443', 'not a valid host name'],
    [`${'a'.repeat(64)}.test:443`, 'not a valid host name'],
  ])('refuses %j (%s)', (target, reason) => {
    const r = parseConnectTarget(target);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
  });

  it('a 400 answer names the reason and has a correct Content-Length', () => {
    const text = badConnectResponse('CONNECT port 0 is outside 1-65535');
    const [head, body] = text.split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(Number(/Content-Length: (\d+)/.exec(head)?.[1])).toBe(Buffer.byteLength(body));
    expect(body).toContain('outside 1-65535');
  });
});

describe('checkProxyAuth', () => {
  const auth = { user: 'student', pass: 's3:cret' };
  const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;

  it('accepts exactly the right Basic credentials', () => {
    expect(checkProxyAuth(basic('student:s3:cret'), auth)).toBe(true);
    expect(
      checkProxyAuth(`basic  ${Buffer.from('student:s3:cret').toString('base64')} `, auth),
    ).toBe(true);
  });

  it('refuses missing, wrong, or non-Basic credentials', () => {
    expect(checkProxyAuth(undefined, auth)).toBe(false);
    expect(checkProxyAuth(basic('student:wrong'), auth)).toBe(false);
    expect(checkProxyAuth(basic('student:s3:cretX'), auth)).toBe(false);
    expect(checkProxyAuth('Bearer abc', auth)).toBe(false);
    expect(checkProxyAuth('Basic !!!', auth)).toBe(false);
  });

  it('the 407 answer asks for Basic auth with a correct Content-Length', () => {
    const [head, body] = PROXY_AUTH_REQUIRED.split('\r\n\r\n') as [string, string];
    expect(head).toContain('Proxy-Authenticate: Basic realm="mitm-lab"');
    expect(Number(/Content-Length: (\d+)/.exec(head)?.[1])).toBe(Buffer.byteLength(body));
  });
});

describe('refuseDirectUpgrade', () => {
  const auth = { user: 'u', pass: 'p' };
  const basic = (v: string) => `Basic ${Buffer.from(v).toString('base64')}`;
  const upgrade = (url: string, headers: Record<string, string> = {}) => ({ url, headers });

  it('asks for credentials first (407), before anything else', () => {
    expect(refuseDirectUpgrade(upgrade('/'), auth)?.answer).toBe(PROXY_AUTH_REQUIRED);
    expect(refuseDirectUpgrade(upgrade('http://chat.test/'), auth)?.answer).toBe(
      PROXY_AUTH_REQUIRED,
    );
    expect(
      refuseDirectUpgrade(
        upgrade('http://chat.test/', { 'proxy-authorization': basic('u:x') }),
        auth,
      )?.answer,
    ).toBe(PROXY_AUTH_REQUIRED);
  });

  it('refuses an origin-form upgrade (400, as the HTTP path), relays an absolute-form one', () => {
    const refused = refuseDirectUpgrade(upgrade('/chat'), undefined);
    expect(refused?.answer).toMatch(/^HTTP\/1\.1 400 [\s\S]*not a web server/);
    const [head, body] = refused!.answer.split('\r\n\r\n') as [string, string];
    expect(Number(/Content-Length: (\d+)/.exec(head)?.[1])).toBe(Buffer.byteLength(body));
    expect(refuseDirectUpgrade(upgrade('http://chat.test/chat'), undefined)).toBeNull();
    expect(
      refuseDirectUpgrade(
        upgrade('ws://chat.test/chat', { 'proxy-authorization': basic('u:p') }),
        auth,
      ),
    ).toBeNull();
  });

  it('tells absolute-form targets from the rest', () => {
    expect(isAbsoluteForm('http://a.test/')).toBe(true);
    expect(isAbsoluteForm('WS://a.test')).toBe(true);
    expect(isAbsoluteForm('/')).toBe(false);
    expect(isAbsoluteForm('a.test:443')).toBe(false);
    expect(isAbsoluteForm(undefined)).toBe(false);
  });
});

describe('OUT_OF_DESCRIPTORS_RESPONSE', () => {
  it('is a 503 that says why, with a correct Content-Length', () => {
    const [head, body] = OUT_OF_DESCRIPTORS_RESPONSE.split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(body).toContain('out of file descriptors');
    expect(Number(/Content-Length: (\d+)/.exec(head)?.[1])).toBe(Buffer.byteLength(body));
  });
});
