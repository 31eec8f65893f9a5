// The passive record parser on real captured handshakes: TLS 1.2 shows the server's chain in
// clear, TLS 1.3 only sizes; curl's refusal is alert 48 in clear; splitting the bytes anywhere
// (TCP chunks) or the handshake across records changes nothing; garbage invents no records.
import { randomBytes, randomInt } from 'node:crypto';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertSummary, TlsRecord } from '../../src/events/types.ts';
import { TlsRecordStream, TlsSession } from '../../src/proxy/tls-records.ts';
import {
  curl,
  hasTool,
  startTappedRelay,
  startTlsServer,
  useSelfSignedCert,
} from './passive-tls-kit.ts';

const cert = useSelfSignedCert();

interface Captured {
  up: Buffer;
  down: Buffer;
  records: TlsRecord[];
  tlsVersion: string | null;
  certs: () => CertSummary[] | null;
  cipher: string | null;
  group: string | null;
}

/** Run a Node TLS client through a tapping relay to a real TLS server; return the capture. */
async function captureNode(
  client: tls.ConnectionOptions,
  server: tls.TlsOptions = {},
): Promise<Captured> {
  const srv = await startTlsServer(cert, server);
  const relay = await startTappedRelay(srv.port);
  try {
    await new Promise<void>((resolve) => {
      const c = tls.connect({
        port: relay.port,
        host: '127.0.0.1',
        servername: 'localhost',
        ca: [cert.certPem],
        ...client,
      });
      c.on('secureConnect', () => c.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
      c.on('data', () => c.end());
      c.on('error', () => resolve());
      c.on('close', () => resolve());
    });
    const [conn] = await relay.settled(1);
    if (!conn) throw new Error('no connection captured');
    const snap = conn.tap.snapshot();
    return {
      up: snap.up.bytes,
      down: snap.down.bytes,
      records: snap.records,
      tlsVersion: snap.tlsVersion,
      certs: () => snap.serverCertificates,
      cipher: conn.tap.cipherSuite,
      group: conn.tap.keyExchangeGroup,
    };
  } finally {
    await relay.close();
    await srv.close();
  }
}

function names(records: TlsRecord[], dir: 'up' | 'down'): string[] {
  return records
    .filter((r) => r.dir === dir)
    .map((r) => (r.handshake ? r.handshake.join('+') : r.contentType));
}

/** Re-parse one direction's bytes cut into chunks of random sizes (1..max). */
function reparse(dir: 'up' | 'down', bytes: Buffer, max: number, session = new TlsSession()) {
  const stream = new TlsRecordStream(dir, 0, session);
  const out: TlsRecord[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = Math.min(bytes.length - i, 1 + randomInt(max));
    out.push(...stream.push(bytes.subarray(i, i + n), 0));
    i += n;
  }
  return { stream, records: out };
}

const strip = (r: TlsRecord): Omit<TlsRecord, 't'> => {
  const { t: _t, ...rest } = r;
  return rest;
};

describe('TlsRecordStream on a real TLS 1.2 handshake', () => {
  let cap: Captured;
  beforeAll(async () => {
    cap = await captureNode({ maxVersion: 'TLSv1.2' });
  });

  it('names the handshake messages in clear and the encrypted Finished', () => {
    expect(names(cap.records, 'up').slice(0, 4)).toEqual([
      'ClientHello',
      'ClientKeyExchange',
      'change_cipher_spec',
      'Finished (encrypted)',
    ]);
    expect(names(cap.records, 'down').slice(0, 7)).toEqual([
      'ServerHello',
      'Certificate',
      'ServerKeyExchange',
      'ServerHelloDone',
      // TLS 1.2 session tickets cross in clear, before the server's ChangeCipherSpec (RFC 5077).
      'NewSessionTicket',
      'change_cipher_spec',
      'Finished (encrypted)',
    ]);
    expect(cap.records.some((r) => r.contentType === 'application_data')).toBe(true);
    expect(cap.tlsVersion).toBe('TLS 1.2');
    expect(cap.cipher).toBe('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    expect(cap.group).toBe('x25519');
  });

  it('reads the server certificate chain as a passive observer', () => {
    const chain = cap.certs();
    expect(chain).toHaveLength(1);
    expect(chain?.[0]).toMatchObject({
      subject: 'CN=localhost, O=mitm-lab test',
      subjectCN: 'localhost',
      sans: ['DNS:localhost', 'IP:127.0.0.1'],
      key: 'RSA 2048',
      selfSigned: true,
    });
    expect(chain?.[0]?.sha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(new Date(chain?.[0]?.notAfter ?? 0).getTime()).toBeGreaterThan(Date.now());
  });

  it('gives the same records whatever the TCP chunking', () => {
    for (const max of [1, 3, 7, 100, 5000]) {
      const session = new TlsSession();
      const down = reparse('down', cap.down, max, session);
      const up = reparse('up', cap.up, max, session);
      expect(down.records.map(strip)).toEqual(
        cap.records.filter((r) => r.dir === 'down').map(strip),
      );
      expect(up.records.map(strip)).toEqual(cap.records.filter((r) => r.dir === 'up').map(strip));
      expect(down.stream.serverCertificates?.[0]?.subjectCN).toBe('localhost');
    }
  });

  it('reassembles handshake messages split across many small records', () => {
    // Re-frame the server's first flight (handshake records) into 50-byte records.
    const reframed: Buffer[] = [];
    let p = 0;
    while (p < cap.down.length && cap.down[p] === 22) {
      const len = cap.down.readUInt16BE(p + 3);
      const payload = cap.down.subarray(p + 5, p + 5 + len);
      for (let i = 0; i < payload.length; i += 50) {
        const part = payload.subarray(i, i + 50);
        reframed.push(Buffer.from([22, 3, 3, part.length >> 8, part.length & 0xff]), part);
      }
      p += 5 + len;
    }
    const stream = new TlsRecordStream('down', 0);
    const records = stream.push(Buffer.concat(reframed), 0);
    const labels = records.map((r) => r.handshake?.join('+'));
    expect(labels.slice(0, 2)).toEqual(['ServerHello', 'ServerHello (continued)']);
    expect(labels).toContain('Certificate');
    expect(labels).toContain('Certificate (continued)');
    expect(labels).toContain('ServerHelloDone');
    expect(stream.tlsVersion).toBe('TLS 1.2');
    expect(stream.serverCertificates?.[0]?.sans).toEqual(['DNS:localhost', 'IP:127.0.0.1']);
  });
});

describe('TlsRecordStream on a real TLS 1.3 handshake', () => {
  let cap: Captured;
  beforeAll(async () => {
    cap = await captureNode({ minVersion: 'TLSv1.3' });
  });

  it('sees the ServerHello, then only sizes: the certificate is encrypted', () => {
    expect(cap.tlsVersion).toBe('TLS 1.3');
    expect(cap.certs()).toBeNull();
    const down = cap.records.filter((r) => r.dir === 'down');
    expect(down[0]?.handshake).toEqual(['ServerHello']);
    for (const r of down.slice(1)) {
      expect(['application_data', 'change_cipher_spec']).toContain(r.contentType);
      expect(r.handshake).toBeUndefined();
    }
    expect(names(cap.records, 'down')).not.toContain('Certificate');
    expect(down.reduce((n, r) => n + r.length, 0)).toBeGreaterThan(800); // the hidden chain's size
    expect(cap.cipher).toMatch(/^TLS_AES_|^TLS_CHACHA20/);
  });

  it('names a HelloRetryRequest and the second ClientHello', async () => {
    // The client's key share is x25519; a server that wants P-384 asks for another ClientHello.
    const hrr = await captureNode({ ecdhCurve: 'X25519:P-384' }, { ecdhCurve: 'P-384' });
    expect(names(hrr.records, 'down')[0]).toBe('HelloRetryRequest');
    expect(names(hrr.records, 'down')).toContain('ServerHello');
    expect(names(hrr.records, 'up').filter((n) => n === 'ClientHello')).toHaveLength(2);
    expect(hrr.tlsVersion).toBe('TLS 1.3');
    expect(hrr.group).toBe('secp384r1');
  });
});

describe('alerts in clear', () => {
  it.skipIf(!hasTool('curl'))(
    'curl refusing an unknown CA sends fatal alert 48 in clear (TLS 1.3 and 1.2)',
    async () => {
      for (const extra of [[], ['--tls-max', '1.2']]) {
        const srv = await startTlsServer(cert);
        const relay = await startTappedRelay(srv.port);
        try {
          const r = await curl(relay.port, extra);
          expect(r.code).toBe(60);
          const [conn] = await relay.settled(1);
          const snap = conn?.tap.snapshot();
          const alerts = snap?.records.filter((x) => x.dir === 'up' && x.alert) ?? [];
          expect(alerts[0]?.alert).toEqual({ level: 'fatal', code: 48, name: 'unknown_ca' });
          expect(conn?.tap.clientAlert()).toEqual({ code: 48, name: 'unknown_ca' });
        } finally {
          await relay.close();
          await srv.close();
        }
      }
    },
  );

  it('does not read encrypted TLS 1.2 alerts as alerts', async () => {
    const cap = await captureNode({ maxVersion: 'TLSv1.2' });
    const late = cap.records.filter((r) => r.contentType === 'alert');
    expect(late.length).toBeGreaterThan(0); // close_notify, encrypted after ChangeCipherSpec
    for (const r of late) {
      expect(r.length).toBeGreaterThan(2);
      expect(r.alert).toBeUndefined();
    }
  });
});

describe('TlsRecordStream on bad input', () => {
  it('stops at bytes that are not TLS records instead of inventing records', () => {
    const s = new TlsRecordStream('up', 0);
    expect(s.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 0)).toEqual([]);
    expect(s.desynced).toBe(true);
    expect(s.push(Buffer.from([22, 3, 1, 0, 1, 1]), 0)).toEqual([]);
  });

  it('rejects an oversized record length', () => {
    const s = new TlsRecordStream('down', 0);
    expect(s.push(Buffer.from([23, 3, 3, 0xff, 0xff]), 0)).toEqual([]);
    expect(s.desynced).toBe(true);
  });

  it('names unknown content types and keeps parsing; times are relative to t0', () => {
    const s = new TlsRecordStream('down', 1000);
    const out = s.push(Buffer.from([99, 3, 3, 0, 1, 0, 21, 3, 3, 0, 2, 1, 0]), 1012.5);
    expect(out).toEqual([
      { dir: 'down', t: 12.5, contentType: 'unknown(99)', version: 'TLS 1.2', length: 1 },
      {
        dir: 'down',
        t: 12.5,
        contentType: 'alert',
        version: 'TLS 1.2',
        length: 2,
        alert: { level: 'warning', code: 0, name: 'close_notify' },
      },
    ]);
  });
});

describe('TlsRecordStream on random handshake bytes', () => {
  it('never throws, and reports every well-framed record', () => {
    for (let round = 0; round < 300; round++) {
      const s = new TlsRecordStream(round % 2 ? 'up' : 'down', 0);
      const records: Buffer[] = [];
      const n = 1 + randomInt(6);
      for (let i = 0; i < n; i++) {
        // Handshake records whose messages claim random types (ServerHello, Certificate,
        // ServerKeyExchange often) and random lengths, with random bodies.
        const body = randomBytes(randomInt(300));
        if (body.length > 0) body[0] = [2, 11, 12, randomInt(256)][randomInt(4)] ?? 2;
        records.push(
          Buffer.from([
            [22, 21, 20, 23][randomInt(4)] ?? 22,
            3,
            3,
            body.length >> 8,
            body.length & 0xff,
          ]),
          body,
        );
      }
      const wire = Buffer.concat(records);
      let got = 0;
      for (let i = 0; i < wire.length;) {
        const k = 1 + randomInt(64);
        got += s.push(wire.subarray(i, i + k), 0).length;
        i += k;
      }
      expect(s.desynced).toBe(false);
      expect(got).toBe(n);
    }
  });
});
