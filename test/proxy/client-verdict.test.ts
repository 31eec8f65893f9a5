// The client's verdict on a tunnel, from records alone. The record lists below are the shapes
// real clients produce (see test/lab/tunnel-verdict.test.ts for the same verdicts from real
// curl, Python, Node and wget through the proxy).
import { describe, expect, it } from 'vitest';
import type { TlsRecord } from '../../src/events/types.ts';
import { clientVerdict } from '../../src/proxy/client-verdict.ts';

let t = 0;
const rec = (
  dir: 'up' | 'down',
  contentType: string,
  length: number,
  extra: Partial<TlsRecord> = {},
): TlsRecord => ({
  dir,
  t: t++,
  contentType,
  version: 'TLS 1.2',
  length,
  ...extra,
});
const hello = rec('up', 'handshake', 512, { handshake: ['ClientHello'] });
const serverHello = rec('down', 'handshake', 122, { handshake: ['ServerHello'] });
const ccsUp = rec('up', 'change_cipher_spec', 1);
/** TLS 1.3: the server's encrypted flight (EncryptedExtensions … Finished). */
const flight13 = [
  serverHello,
  rec('down', 'change_cipher_spec', 1),
  rec('down', 'application_data', 2100),
];
const fatal = (code: number, name: string) => ({ level: 'fatal' as const, code, name });

describe('clientVerdict', () => {
  it('TLS 1.3: a Finished-sized record then application data is an accepted certificate', () => {
    const v = clientVerdict(
      [
        hello,
        ...flight13,
        ccsUp,
        rec('up', 'application_data', 53),
        rec('up', 'application_data', 90),
      ],
      'TLS 1.3',
      'client-closed',
    );
    expect(v.outcome).toBe('accepted');
    expect(v.evidence).toContain('90 bytes of application data');
  });

  it('TLS 1.3: an alert in clear after the server flight is the client refusing, with its code', () => {
    const v = clientVerdict(
      [
        hello,
        ...flight13,
        ccsUp,
        rec('up', 'alert', 2, { alert: fatal(45, 'certificate_expired') }),
      ],
      'TLS 1.3',
      'client-closed',
    );
    expect(v).toMatchObject({
      outcome: 'alert',
      sentBy: 'client',
      alert: fatal(45, 'certificate_expired'),
    });
  });

  it('TLS 1.3: a first encrypted record of 19 bytes is an encrypted alert (11 with CCM_8)', () => {
    for (const size of [19, 11]) {
      const v = clientVerdict(
        [hello, ...flight13, ccsUp, rec('up', 'application_data', size)],
        'TLS 1.3',
        'client-closed',
      );
      expect(v.outcome, String(size)).toBe('encrypted-alert');
      expect(v.evidence).toContain(`${size} bytes`);
    }
  });

  it('TLS 1.3: Finished then only a close_notify-sized record and a close is "closed", not accepted', () => {
    const v = clientVerdict(
      [hello, ...flight13, rec('up', 'application_data', 53), rec('up', 'application_data', 19)],
      'TLS 1.3',
      'client-closed',
    );
    expect(v.outcome).toBe('closed');
  });

  it('a reset after the server flight is "reset"; the server closing first is "unknown"', () => {
    expect(clientVerdict([hello, ...flight13], 'TLS 1.3', 'client-reset').outcome).toBe('reset');
    expect(clientVerdict([hello, ...flight13], 'TLS 1.3', 'server-closed').outcome).toBe('unknown');
  });

  it('an alert from the server before the client answers is the server refusing the offer', () => {
    const v = clientVerdict(
      [hello, rec('down', 'alert', 2, { alert: fatal(70, 'protocol_version') })],
      null,
      'server-closed',
    );
    expect(v).toMatchObject({ outcome: 'alert', sentBy: 'server', alert: { code: 70 } });
  });

  it('TLS 1.2: record types stay visible — an alert record after ChangeCipherSpec is an encrypted alert', () => {
    const flight12 = [
      serverHello,
      rec('down', 'handshake', 2400, {
        handshake: ['Certificate', 'ServerKeyExchange', 'ServerHelloDone'],
      }),
    ];
    const clientKeys = [rec('up', 'handshake', 37, { handshake: ['ClientKeyExchange'] }), ccsUp];
    const finished = rec('up', 'handshake', 40, { handshake: ['Finished (encrypted)'] });
    expect(
      clientVerdict(
        [hello, ...flight12, ...clientKeys, finished, rec('up', 'alert', 26)],
        'TLS 1.2',
        'client-closed',
      ).outcome,
    ).toBe('encrypted-alert');
    expect(
      clientVerdict(
        [hello, ...flight12, ...clientKeys, finished, rec('up', 'application_data', 120)],
        'TLS 1.2',
        'client-closed',
      ).outcome,
    ).toBe('accepted');
    expect(
      clientVerdict(
        [hello, ...flight12, rec('up', 'alert', 2, { alert: fatal(48, 'unknown_ca') })],
        'TLS 1.2',
        'client-closed',
      ),
    ).toMatchObject({ outcome: 'alert', alert: { code: 48 } });
  });

  it('nothing from the server, or nothing at all, is "unknown" and says so', () => {
    expect(clientVerdict([hello], null, 'client-closed')).toMatchObject({
      outcome: 'unknown',
      evidence: 'the server never answered the ClientHello',
    });
    expect(clientVerdict([], null, 'client-closed').outcome).toBe('unknown');
  });
});
