// `--pcap`: both legs as pcapng that real tshark reads — with the --keylog file it decrypts the
// intercepted request on the client leg and on the upstream leg; without it, only TLS records.
// Real `mitm-lab start` and real curl; then the engine in process against an origin whose
// ports the test knows (the upstream leg's real ports, plain HTTP, a tunnel); then the cut
// comments, from events alone.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import type { ConnCloseEvent, NewEvent, ProxyEvent } from '../../src/events/types.ts';
import { connectionSegments, openPcapSink } from '../../src/sinks/pcap.ts';
import { curl, makeTestPki, startOrigin, startTestProxy } from '../integration/helpers.ts';
import { curlVia, startHeadlessLab } from '../support/cli.ts';
import { hasTool, runTool } from '../support/run.ts';
import { waitUntil } from '../support/wait.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TSHARK = hasTool('tshark', ['-v']);

/** tshark on `file`: its stdout (exit 0 asserted). */
async function tshark(file: string, args: string[]): Promise<string> {
  const r = await runTool('tshark', ['-r', file, ...args], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** `-T fields` rows, split on tabs. */
function rows(out: string): string[][] {
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}

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
    // Both legs: curl's request to the proxy, and the proxy's to bank.test.
    expect(decrypted.split('\n').filter((l) => l === '/decrypt-me-path')).toHaveLength(2);
    expect(decrypted).toContain('http://bank.test/plain-path'); // plain HTTP: readable anyway
    expect(decrypted.split('\n')).toContain('/plain-path'); // the upstream leg's origin-form
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

describe.skipIf(!TSHARK || !hasTool('curl'))(
  '--pcap: both legs at their real ports, in process (needs tshark, curl)',
  () => {
    it('an intercepted request decrypts twice (client leg, upstream leg at the origin port); plain HTTP twice; a tunnel never', async () => {
      const pki = makeTestPki();
      const origin = await startOrigin(pki.leaf(['doc.test']));
      const file = path.join(dir, 'legs.pcapng');
      const keysFile = path.join(dir, 'legs-keys.log');
      const rootFile = path.join(dir, 'root.pem');
      writeFileSync(rootFile, pki.rootPem);
      const bus = new EventBus();
      const events: ProxyEvent[] = [];
      bus.on((e) => events.push(e));
      const sink = openPcapSink(file, bus);
      const keys: string[] = [];
      const tp = await startTestProxy({
        bus,
        pcap: true,
        keylog: (line) => keys.push(line),
        upstreamCa: [pki.rootPem],
        resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
      });
      const proxyPort = tp.proxy.port;
      try {
        const secure = await curl([
          '-x',
          tp.proxy.url,
          '--cacert',
          tp.ca.certPath,
          `https://doc.test:${origin.httpsPort}/secret-path`,
        ]);
        expect(secure.code, secure.stderr).toBe(0);
        const plain = await curl([
          '-x',
          tp.proxy.url,
          `http://doc.test:${origin.httpPort}/plain-path`,
        ]);
        expect(plain.code, plain.stderr).toBe(0);
        // A tunnel: the proxy forges nothing and holds no key; curl talks TLS with the origin.
        tp.proxy.controls.setMode('eavesdrop');
        const tunnelled = await curl([
          '-x',
          tp.proxy.url,
          '--cacert',
          rootFile,
          `https://doc.test:${origin.httpsPort}/tunnelled-path`,
        ]);
        expect(tunnelled.code, tunnelled.stderr).toBe(0);
        const closed = (type: 'conn.open' | 'conn.close') =>
          events.filter((e) => e.type === type).length;
        expect(
          await waitUntil(() => closed('conn.open') === 3 && closed('conn.close') === 3, {
            timeoutMs: 10_000,
          }),
        ).toBe(true);
      } finally {
        await tp.close();
        await origin.close();
      }
      // Each server connection's end is written when it closes (here: when the proxy stopped).
      const upstreamWire = () =>
        events.filter(
          (e): e is Extract<ProxyEvent, { type: 'upstream.wire' }> => e.type === 'upstream.wire',
        );
      const ids = new Set(upstreamWire().map((e) => e.upstreamId));
      expect(ids.size).toBe(3); // https, http, tunnel
      const allClosed = () =>
        [...ids].every((id) => upstreamWire().some((e) => e.upstreamId === id && e.closed));
      expect(await waitUntil(allClosed, { timeoutMs: 5_000 })).toBe(true);
      sink.close();
      writeFileSync(keysFile, keys.join('\n') + '\n', { mode: 0o600 });

      const requests = async (extra: string[]) =>
        rows(
          await tshark(file, [
            ...extra,
            '-Y',
            'http.request',
            '-T',
            'fields',
            '-e',
            'frame.interface_id',
            '-e',
            'tcp.srcport',
            '-e',
            'tcp.dstport',
            '-e',
            'http.request.uri',
          ]),
        );
      const decrypted = await requests(['-o', `tls.keylog_file:${keysFile}`]);
      const secret = decrypted.filter((r) => r[3] === '/secret-path');
      expect(secret.map((r) => r[0]).sort()).toEqual(['0', '1']);
      const [clientLeg, upstreamLeg] = ['0', '1'].map((i) => secret.find((r) => r[0] === i)!);
      expect(clientLeg![2]).toBe(String(proxyPort));
      expect(upstreamLeg![2]).toBe(String(origin.httpsPort));
      expect(new Set(secret.flatMap((r) => [r[1], r[2]])).size).toBe(4); // two connections
      expect(
        decrypted.filter((r) => r[3] === '/plain-path').map((r) => r.slice(0, 1).concat(r[2]!)),
      ).toEqual([['1', String(origin.httpPort)]]);
      expect(
        decrypted
          .filter((r) => r[3]!.endsWith('/plain-path'))
          .map((r) => r[0])
          .sort(),
      ).toEqual(['0', '1']);
      expect(decrypted.some((r) => r[3]!.includes('tunnelled-path'))).toBe(false);

      const without = await requests([]);
      expect(without.some((r) => r[3] === '/secret-path')).toBe(false);
      expect(without.filter((r) => r[3]!.endsWith('/plain-path'))).toHaveLength(2);

      // Without keys, TLS is records: ClientHellos by leg. The intercepted connection is two TLS
      // sessions (two randoms); the tunnel is one, the same bytes on both legs.
      const hellos = rows(
        await tshark(file, [
          '-Y',
          'tls.handshake.type == 1',
          '-T',
          'fields',
          '-e',
          'frame.interface_id',
          '-e',
          'tcp.dstport',
          '-e',
          'tls.handshake.random',
          '-e',
          'tls.handshake.extensions_server_name',
        ]),
      );
      expect(hellos).toHaveLength(4);
      const byLeg = (i: string) => hellos.filter((h) => h[0] === i);
      expect(byLeg('0').map((h) => h[1])).toEqual([String(proxyPort), String(proxyPort)]);
      expect(byLeg('1').map((h) => h[1])).toEqual([
        String(origin.httpsPort),
        String(origin.httpsPort),
      ]);
      expect(new Set(hellos.map((h) => h[2])).size).toBe(3);
      for (const h of hellos) expect(h[3]).toBe('doc.test');

      // Sequence numbers and checksums hold: tshark's expert finds nothing to warn about.
      const expert = await tshark(file, ['-o', 'tcp.check_checksum:TRUE', '-q', '-z', 'expert']);
      expect(expert).not.toMatch(/^(Errors|Warns) \(/m);
      const ifaces = await tshark(file, ['-T', 'fields', '-e', 'frame.interface_description']);
      expect(new Set(ifaces.split('\n').filter(Boolean))).toEqual(
        new Set([
          'mitm-lab client leg: client <-> mitm-lab',
          'mitm-lab upstream leg: mitm-lab <-> servers',
        ]),
      );
    }, 90_000);
  },
);

describe.skipIf(!TSHARK)('--pcap: where a capture was cut (needs tshark)', () => {
  it('says so in comments on the upstream leg, and stops the file at its bound', async () => {
    const file = path.join(dir, 'cut.pcapng');
    const bus = new EventBus();
    const sink = openPcapSink(file, bus, { maxBytes: 4096 });
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const wire = (over: Partial<NewEvent & { type: 'upstream.wire' }>): NewEvent =>
      ({
        type: 'upstream.wire',
        connId: null,
        clientConnId: 'c1',
        upstreamId: 'u1',
        kind: 'http',
        localAddress: '127.0.0.1',
        localPort: 40000,
        remoteAddress: '127.0.0.1',
        remotePort: 8081,
        openedAt: new Date(t0).toISOString(),
        chunks: [],
        bytesUp: 0,
        bytesDown: 0,
        truncated: false,
        closed: false,
        ...over,
      }) as NewEvent;
    bus.emit(
      wire({
        chunks: [
          {
            dir: 'up',
            t: 1,
            bytes: Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n'),
          },
          { dir: 'down', t: 2, bytes: Buffer.alloc(100, 65) },
        ],
        bytesUp: 32,
        bytesDown: 500_000,
        truncated: true,
      }),
    );
    bus.emit(wire({ bytesUp: 32, bytesDown: 500_000, truncated: true, closed: true }));
    // A second connection that does not fit in the 4 KiB any more.
    bus.emit(
      wire({
        upstreamId: 'u2',
        localPort: 40001,
        chunks: [{ dir: 'down', t: 1, bytes: Buffer.alloc(5000, 66) }],
        bytesDown: 5000,
      }),
    );
    expect(sink.written()).toBe(1);
    sink.close();
    const comments = await tshark(file, [
      '-Y',
      'frame.comment',
      '-T',
      'fields',
      '-e',
      'frame.interface_id',
      '-e',
      'frame.comment',
    ]);
    expect(comments).toContain(
      '1\tmitm-lab: the wire capture of upstream connection u1 stops here',
    );
    expect(comments).toContain(
      'mitm-lab: u1 carried 32 bytes to the server and 500000 back; the capture kept 32 and 100',
    );
    expect(comments).toContain('the file reached its limit of 4096 bytes');
    const streams = await tshark(file, ['-T', 'fields', '-e', 'tcp.stream']);
    expect(new Set(streams.split('\n').filter(Boolean))).toEqual(new Set(['0']));
  });
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
          bytes: Buffer.from('GET / HTTP/1.1\r\n\r\n'),
          size: 18,
          truncated: false,
        },
        down: { bytes: Buffer.alloc(100, 65), size: 500_000, truncated: true },
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
