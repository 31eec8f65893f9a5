// classifyTlsFailure / alertFromError on errors produced by real clients refusing a certificate
// they do not trust (curl, python3, Node), on real negotiation failures, and table-driven on the
// OpenSSL spellings the engine can meet.
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { alertFromError, classifyTlsFailure, TLS_ALERTS } from '../../src/proxy/classify.ts';
import {
  curl,
  hasTool,
  python,
  run,
  startTappedRelay,
  startTlsServer,
  useSelfSignedCert,
  type TlsTestServer,
} from './passive-tls-kit.ts';
import { sleep, waitUntil } from '../support/wait.ts';

const cert = useSelfSignedCert();

/** Wait (bounded) until the server has seen `n` client errors or secure connections. */
async function settle(server: TlsTestServer, n = 1): Promise<void> {
  await waitUntil(() => server.clientErrors.length + server.secureConnections >= n);
  await sleep(50);
}

/** A Node TLS client that does not trust the server's certificate; resolves when it gives up. */
function nodeClient(port: number, maxVersion: tls.SecureVersion): Promise<string> {
  return new Promise((resolve) => {
    const c = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', maxVersion });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    c.on('secureConnect', () => resolve('connected'));
  });
}

describe('classifyTlsFailure on real clients refusing an untrusted certificate', () => {
  it.skipIf(!hasTool('curl'))(
    'curl → alert 48 unknown_ca (from the error and on the wire)',
    async () => {
      const server = await startTlsServer(cert);
      const relay = await startTappedRelay(server.port);
      try {
        const r = await curl(relay.port);
        expect(r.code).toBe(60);
        await settle(server);
        const [conn] = await relay.settled(1);
        const fromError = classifyTlsFailure({
          error: server.clientErrors[0],
          handshakeDone: false,
        });
        expect(fromError.outcome).toBe('alert');
        expect(fromError.alert).toEqual({ code: 48, name: 'unknown_ca' });
        expect(fromError.raw).toContain('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
        const fromWire = classifyTlsFailure({
          clientAlert: conn?.tap.clientAlert() ?? null,
          handshakeDone: false,
        });
        expect(fromWire.outcome).toBe('alert');
        expect(fromWire.alert).toEqual({ code: 48, name: 'unknown_ca' });
        expect(fromWire.raw).toMatch(/48 unknown_ca/);
      } finally {
        await relay.close();
        await server.close();
      }
    },
  );

  it.skipIf(!hasTool('python3'))('python ssl → alert 48 unknown_ca', async () => {
    const server = await startTlsServer(cert);
    try {
      const r = await python(server.port);
      expect(r.stdout).toContain('CERTIFICATE_VERIFY_FAILED');
      await settle(server);
      const c = classifyTlsFailure({ error: server.clientErrors[0], handshakeDone: false });
      expect(c).toMatchObject({ outcome: 'alert', alert: { code: 48, name: 'unknown_ca' } });
    } finally {
      await server.close();
    }
  });

  it('Node TLS 1.3 → reset-during-handshake (Node sends no alert)', async () => {
    const server = await startTlsServer(cert);
    try {
      expect(await nodeClient(server.port, 'TLSv1.3')).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      await settle(server);
      expect(server.secureConnections).toBe(0);
      const c = classifyTlsFailure({ error: server.clientErrors[0], handshakeDone: false });
      expect(c.outcome).toBe('reset-during-handshake');
      expect(c.alert).toBeNull();
      expect(c.raw).toMatch(/ECONNRESET|socket hang up/);
    } finally {
      await server.close();
    }
  });

  it('Node TLS 1.2 → closed-after-handshake (the handshake completes, no error, no request)', async () => {
    const server = await startTlsServer(cert);
    try {
      expect(await nodeClient(server.port, 'TLSv1.2')).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      await settle(server);
      expect(server.secureConnections).toBe(1);
      expect(server.clientErrors).toEqual([]);
      const c = classifyTlsFailure({ handshakeDone: true });
      expect(c.outcome).toBe('closed-after-handshake');
      expect(c.alert).toBeNull();
      expect(c.raw).not.toBe('');
    } finally {
      await server.close();
    }
  });

  it.skipIf(!hasTool('curl'))(
    'curl capped at TLS 1.2 against a TLS 1.3-only server → no-shared-version-or-cipher',
    async () => {
      const server = await startTlsServer(cert, { minVersion: 'TLSv1.3' });
      try {
        await curl(server.port, ['--cacert', cert.certPath, '--tls-max', '1.2']);
        await settle(server);
        const c = classifyTlsFailure({ error: server.clientErrors[0], handshakeDone: false });
        expect(c.outcome).toBe('no-shared-version-or-cipher');
        expect(c.raw).toContain('ERR_SSL_UNSUPPORTED_PROTOCOL');
      } finally {
        await server.close();
      }
    },
  );

  it.skipIf(!hasTool('curl'))(
    'curl with no cipher in common → no-shared-version-or-cipher',
    async () => {
      const server = await startTlsServer(cert, {
        ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
        maxVersion: 'TLSv1.2',
      });
      try {
        await curl(server.port, [
          '--cacert',
          cert.certPath,
          '--tls-max',
          '1.2',
          '--ciphers',
          'ECDHE-RSA-AES128-GCM-SHA256',
        ]);
        await settle(server);
        const c = classifyTlsFailure({ error: server.clientErrors[0], handshakeDone: false });
        expect(c.outcome).toBe('no-shared-version-or-cipher');
        expect(c.raw).toContain('ERR_SSL_NO_SHARED_CIPHER');
      } finally {
        await server.close();
      }
    },
  );

  it.skipIf(!hasTool('curl'))('plain HTTP to a TLS port → not-tls', async () => {
    const server = await startTlsServer(cert);
    try {
      await run('curl', [
        '-sS',
        '--max-time',
        '5',
        '--noproxy',
        '*',
        `http://127.0.0.1:${server.port}/`,
      ]);
      await settle(server);
      const c = classifyTlsFailure({ error: server.clientErrors[0], handshakeDone: false });
      expect(c.outcome).toBe('not-tls');
      expect(c.raw).toContain('ERR_SSL_HTTP_REQUEST');
    } finally {
      await server.close();
    }
  });
});

describe('alertFromError', () => {
  const cases: [string, unknown, number | null][] = [
    ['Node code', { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', message: 'x' }, 48],
    ['Node code, sslv3 family', { code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' }, 42],
    ['bare OpenSSL reason name', 'SSLV3_ALERT_CERTIFICATE_UNKNOWN', 46],
    ['TLS 1.3 alert', { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' }, 116],
    ['TLS 1.3 missing extension', { code: 'ERR_SSL_TLSV13_ALERT_MISSING_EXTENSION' }, 109],
    ['expired', { message: 'error:0A000415:SSL routines::sslv3 alert certificate expired' }, 45],
    [
      'revoked',
      new Error('ssl3_read_bytes:sslv3 alert certificate revoked:rec_layer_s3.c:1605'),
      44,
    ],
    ['OpenSSL spelling "cancelled"', { reason: 'tlsv1 alert user cancelled' }, 90],
    ['without the word alert', { code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME' }, 112],
    ['no application protocol', { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' }, 120],
    ['decrypt error', { code: 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR' }, 51],
    [
      'alert number in the message wins',
      { message: 'ssl/tls alert handshake failure:SSL alert number 40' },
      40,
    ],
    [
      'generic ssl/tls alert phrase',
      { message: 'error:0A000410:SSL routines::ssl/tls alert handshake failure' },
      40,
    ],
    ['our own failure is not a received alert', { code: 'ERR_SSL_NO_SHARED_CIPHER' }, null],
    ['a reset is not an alert', { code: 'ECONNRESET', message: 'socket hang up' }, null],
    ['nothing', undefined, null],
    ['a number', 42, null],
  ];
  it.each(cases)('%s', (_label, err, code) => {
    const alert = alertFromError(err);
    if (code === null) expect(alert).toBeNull();
    else expect(alert).toEqual({ code, name: TLS_ALERTS[code] });
  });

  it('names codes outside the table honestly', () => {
    expect(alertFromError({ message: 'SSL alert number 201' })).toEqual({
      code: 201,
      name: 'unassigned(201)',
    });
  });
});

describe('TLS_ALERTS', () => {
  it('is the full IANA registry, from close_notify to ech_required', () => {
    expect(TLS_ALERTS[0]).toBe('close_notify');
    expect(TLS_ALERTS[42]).toBe('bad_certificate');
    expect(TLS_ALERTS[45]).toBe('certificate_expired');
    expect(TLS_ALERTS[46]).toBe('certificate_unknown');
    expect(TLS_ALERTS[48]).toBe('unknown_ca');
    expect(TLS_ALERTS[70]).toBe('protocol_version');
    expect(TLS_ALERTS[112]).toBe('unrecognized_name');
    expect(TLS_ALERTS[116]).toBe('certificate_required');
    expect(TLS_ALERTS[120]).toBe('no_application_protocol');
    expect(Object.keys(TLS_ALERTS)).toHaveLength(37);
    expect(Object.isFrozen(TLS_ALERTS)).toBe(true);
  });
});

describe('classifyTlsFailure table', () => {
  const cases: [string, Parameters<typeof classifyTlsFailure>[0], string, number | null][] = [
    [
      'Chromium certificate_unknown',
      { error: { code: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN' }, handshakeDone: false },
      'alert',
      46,
    ],
    [
      'Python wrong host: bad_certificate',
      { error: { code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' }, handshakeDone: false },
      'alert',
      42,
    ],
    [
      'wire alert wins over the error',
      {
        error: { code: 'ECONNRESET' },
        clientAlert: { code: 45, name: 'certificate_expired' },
        handshakeDone: false,
      },
      'alert',
      45,
    ],
    [
      'protocol_version alert means negotiation',
      { error: { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' }, handshakeDone: false },
      'no-shared-version-or-cipher',
      70,
    ],
    [
      'insufficient_security alert means negotiation',
      { clientAlert: { code: 71, name: 'insufficient_security' }, handshakeDone: false },
      'no-shared-version-or-cipher',
      71,
    ],
    [
      'version too low',
      {
        error: { code: 'ERR_SSL_VERSION_TOO_LOW', message: 'version too low' },
        handshakeDone: false,
      },
      'no-shared-version-or-cipher',
      null,
    ],
    [
      'wrong version number',
      {
        error: new Error('error:0A00010B:SSL routines::wrong version number'),
        handshakeDone: false,
      },
      'no-shared-version-or-cipher',
      null,
    ],
    [
      'no suitable key share',
      { error: { code: 'ERR_SSL_NO_SUITABLE_KEY_SHARE' }, handshakeDone: false },
      'no-shared-version-or-cipher',
      null,
    ],
    [
      'https proxy request',
      { error: { code: 'ERR_SSL_HTTPS_PROXY_REQUEST' }, handshakeDone: false },
      'not-tls',
      null,
    ],
    [
      'socket hang up during handshake',
      { error: new Error('socket hang up'), handshakeDone: false },
      'reset-during-handshake',
      null,
    ],
    [
      'EPIPE during handshake',
      { error: { code: 'EPIPE', message: 'write EPIPE' }, handshakeDone: false },
      'reset-during-handshake',
      null,
    ],
    ['silent close during handshake', { handshakeDone: false }, 'reset-during-handshake', null],
    [
      'reset after the handshake',
      { error: { code: 'ECONNRESET' }, handshakeDone: true },
      'closed-after-handshake',
      null,
    ],
    ['engine timer', { timedOut: true, handshakeDone: false }, 'timeout', null],
    [
      'Node handshake timeout',
      {
        error: { code: 'ERR_TLS_HANDSHAKE_TIMEOUT', message: 'TLS handshake timeout' },
        handshakeDone: false,
      },
      'timeout',
      null,
    ],
    [
      'something new',
      {
        error: new Error('error:0A0000FF:SSL routines::something unheard of'),
        handshakeDone: false,
      },
      'unknown',
      null,
    ],
  ];
  it.each(cases)('%s', (_label, input, outcome, code) => {
    const c = classifyTlsFailure(input);
    expect(c.outcome).toBe(outcome);
    expect(c.alert?.code ?? null).toBe(code);
    expect(c.raw.length).toBeGreaterThan(0);
  });

  it('keeps the raw text of an unknown error', () => {
    const c = classifyTlsFailure({ error: new Error('  strange thing\n'), handshakeDone: false });
    expect(c).toEqual({ outcome: 'unknown', alert: null, raw: 'strange thing' });
  });
});
