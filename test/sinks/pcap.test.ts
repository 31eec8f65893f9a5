// `--pcap`: the client leg as pcapng that real tshark reads — with the --keylog file it decrypts
// the intercepted request; without it, only TLS records. Real `mitm-lab start`, real curl.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConnCloseEvent } from '../../src/events/types.ts';
import { connectionSegments } from '../../src/sinks/pcap.ts';
import { curlVia, startHeadlessLab } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TSHARK = hasTool('tshark', ['-v']);

describe.skipIf(!TSHARK || !hasTool('curl'))('--pcap with real tshark (needs tshark, curl)', () => {
  it('decrypts the intercepted request with the keylog, shows only records without it', async () => {
    const pcap = path.join(dir, 'lab.pcapng');
    const keys = path.join(dir, 'keys.log');
    const lab = await startHeadlessLab([
      '--ca-dir',
      path.join(dir, 'ca'),
      '--keylog',
      keys,
      '--pcap',
      pcap,
    ]);
    try {
      const ca = path.join(dir, 'ca', 'certs', 'ca.pem');
      const secure = await curlVia(
        lab.proxyUrl,
        '--http1.1',
        '--cacert',
        ca,
        'https://bank.test/decrypt-me-path',
      );
      expect(secure.code, secure.stderr).toBe(0);
      expect((await curlVia(lab.proxyUrl, 'http://bank.test/plain-path')).code).toBe(0);
      lab.process.kill('SIGTERM');
      expect((await lab.process.exited).code).toBe(0);
    } finally {
      await lab.process.stop();
    }
    expect(statSync(pcap).mode & 0o777).toBe(0o600);
    const uris = async (extra: string[]) => {
      const r = await runTool(
        'tshark',
        ['-r', pcap, ...extra, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'],
        { timeoutMs: 60_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    const decrypted = await uris(['-o', `tls.keylog_file:${keys}`]);
    expect(decrypted).toContain('/decrypt-me-path');
    expect(decrypted).toContain('http://bank.test/plain-path'); // plain HTTP: readable anyway
    const without = await uris([]);
    expect(without).not.toContain('/decrypt-me-path');
    expect(without).toContain('http://bank.test/plain-path');
    // Without keys the TLS connection is records only, the handshake in clear.
    const records = await runTool(
      'tshark',
      [
        '-r',
        pcap,
        '-Y',
        'tls.handshake.type == 1',
        '-T',
        'fields',
        '-e',
        'tls.handshake.extensions_server_name',
      ],
      { timeoutMs: 60_000 },
    );
    expect(records.stdout).toContain('bank.test');
  }, 90_000);
});

describe('connectionSegments', () => {
  it('says in a comment where a cut capture stops', () => {
    const close = {
      type: 'conn.close',
      id: 'e9',
      at: new Date(2_000).toISOString(),
      connId: 'c1',
      durationMs: 1000,
      wire: {
        up: {
          base64: Buffer.from('GET / HTTP/1.1\r\n\r\n').toString('base64'),
          size: 18,
          truncated: false,
        },
        down: { base64: Buffer.alloc(100, 65).toString('base64'), size: 500_000, truncated: true },
        records: [],
        recordsTruncated: false,
        serverCertificates: null,
        tlsVersion: null,
      },
    } as unknown as ConnCloseEvent;
    const segs = connectionSegments(1_000_000n, close);
    expect(segs.map((s) => s.fromClient)).toEqual([true, false]);
    expect(segs.at(-1)!.comment).toContain('proxy -> client: 100 of 500000 bytes kept');
  });
});
