// The SSLKEYLOGFILE sink: real key log lines from a real TLS handshake are appended to a file
// that only its owner can read; an existing looser file is narrowed; bad paths are clear errors.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openKeylogSink } from '../../src/sinks/keylog.ts';
import { LabError } from '../../src/util/lab-error.ts';
import { tempDir } from '../support/temp-dir.ts';
import { closeServer, listenLoopback } from '../support/net.ts';
import { makeSelfSignedCert as makeSelfSigned, removeCert } from '../support/tls-server.ts';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('mitm-lab-keylog-'));
});
afterEach(() => cleanup());

/** NSS key log line: LABEL, 32-byte client random, secret (hex). */
const KEYLOG_LINE =
  /^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET) [0-9a-f]{64} [0-9a-f]+$/;

describe('openKeylogSink', () => {
  it('appends the secrets of a real TLS 1.3 handshake, one NSS line each, mode 0600', async () => {
    const file = join(dir, 'keys.log');
    const sink = openKeylogSink(file);
    const cert = makeSelfSigned();
    const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end('hi'));
    server.on('keylog', (line: Buffer) => sink.write(line));
    const port = await listenLoopback(server);
    try {
      await new Promise<void>((resolve, reject) => {
        const c = tls.connect({
          port,
          host: '127.0.0.1',
          servername: 'localhost',
          ca: [cert.certPem],
        });
        c.on('data', () => c.end());
        c.on('close', () => resolve());
        c.on('error', reject);
      });
    } finally {
      await closeServer(server);
      removeCert(cert);
    }
    await sink.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(5); // TLS 1.3: 5 secrets per handshake
    for (const l of lines) expect(l).toMatch(KEYLOG_LINE);
    expect(lines.some((l) => l.startsWith('SERVER_TRAFFIC_SECRET_0 '))).toBe(true);
    expect(sink.lines).toBe(lines.length);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('adds the newline when missing, skips blank lines, and writes nothing after close', async () => {
    const file = join(dir, 'keys.log');
    const sink = openKeylogSink(file);
    sink.write(`CLIENT_RANDOM ${'ab'.repeat(32)} ${'cd'.repeat(48)}`);
    sink.write('\n');
    sink.write(Buffer.from(`CLIENT_RANDOM ${'ef'.repeat(32)} ${'01'.repeat(48)}\n`));
    await sink.close();
    sink.write('CLIENT_RANDOM late');
    await sink.close(); // idempotent
    expect(readFileSync(file, 'utf8')).toBe(
      `CLIENT_RANDOM ${'ab'.repeat(32)} ${'cd'.repeat(48)}\nCLIENT_RANDOM ${'ef'.repeat(32)} ${'01'.repeat(48)}\n`,
    );
  });

  it('appends to an existing key log and narrows it to 0600', async () => {
    const file = join(dir, 'keys.log');
    writeFileSync(file, 'CLIENT_RANDOM earlier line\n');
    chmodSync(file, 0o644);
    const sink = openKeylogSink(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    sink.write('CLIENT_RANDOM later line');
    await sink.close();
    expect(readFileSync(file, 'utf8')).toBe(
      'CLIENT_RANDOM earlier line\nCLIENT_RANDOM later line\n',
    );
  });

  it('refuses a path it cannot open with a clear config error', () => {
    const bad = join(dir, 'missing', 'keys.log');
    expect(() => openKeylogSink(bad)).toThrow(LabError);
    try {
      openKeylogSink(bad);
    } catch (e) {
      expect((e as LabError).kind).toBe('config');
      expect((e as LabError).message).toContain(bad);
      expect((e as LabError).hint).toMatch(/--keylog/);
    }
    expect(() => openKeylogSink('')).toThrow(/--keylog needs a file name/);
  });
});
