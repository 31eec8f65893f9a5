// docs/events.md is a contract: every event type is documented, and the events of a real run
// (plain HTTP, intercepted and refused HTTPS, a tunnel, an upstream failure, WebSockets, a bad
// CONNECT; with `pcap` on, so the upstream leg's `upstream.wire` comes too) carry exactly the
// documented fields, down to the shared shapes.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventJson } from '../../src/events/json.ts';
import { EVENT_TYPES, type ProxyEvent } from '../../src/events/types.ts';
import { WebSocket } from '../../src/util/ws.ts';
import {
  curl,
  makeTestPki,
  openTunnel,
  rawExchange,
  startOrigin,
  startTestProxy,
  tempDir,
  type Origin,
  type TestProxy,
} from './helpers.ts';

const DOC = readFileSync(path.resolve(import.meta.dirname, '../../docs/events.md'), 'utf8');
const COMMON = ['type', 'id', 'at', 'connId'];

/** Field names of the table under a `### heading`, in order. */
function fieldsOf(heading: string): string[] | null {
  const start = DOC.indexOf(`\n### ${heading}\n`);
  if (start < 0) return null;
  const next = DOC.indexOf('\n### ', start + 5);
  const section = DOC.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^\| `([A-Za-z0-9]+)` \|/gm)].map((m) => m[1] as string);
}

describe('docs/events.md', () => {
  it('documents every event type and the common fields', () => {
    for (const type of EVENT_TYPES) {
      expect(fieldsOf(`\`${type}\``), `section for ${type}`).not.toBeNull();
    }
    expect(DOC).toContain('\n## Every event\n');
    for (const f of COMMON) expect(DOC).toContain(`| \`${f}\` |`);
  });
});

describe('events of a real run match the documentation', () => {
  let origin: Origin;
  let tp: TestProxy;

  beforeAll(async () => {
    const pki = makeTestPki();
    origin = await startOrigin(pki.leaf(['doc.test', 'refuse.test', 'chat.test', 'expired.test']));
    tp = await startTestProxy({
      pcap: true,
      upstreamCa: [pki.rootPem],
      resolve: [{ pattern: '*.test', address: '127.0.0.1' }],
    });
    const root = path.join(tempDir('doc'), 'root.pem');
    writeFileSync(root, pki.rootPem);
    const base = `:${origin.httpsPort}`;
    await curl(['-x', tp.proxy.url, '-d', 'a=1', `http://doc.localhost:${origin.httpPort}/plain`]);
    await curl(['-x', tp.proxy.url, '--cacert', tp.ca.certPath, `https://doc.test${base}/secure`]);
    await curl(['-x', tp.proxy.url, '--cacert', root, `https://refuse.test${base}/`]);
    await curl([
      '-x',
      tp.proxy.url,
      '--cacert',
      root,
      '--tls-max',
      '1.2',
      `https://refuse.test${base}/tunnelled`,
    ]);
    await curl(['-x', tp.proxy.url, 'http://down.localhost:1/']);
    await rawExchange(tp.proxy.port, 'CONNECT ../../x:443 HTTP/1.1\r\nHost: x\r\n\r\n');
    const { socket } = await openTunnel(tp.proxy.port, `chat.test:${origin.httpsPort}`);
    const ws = new WebSocket(`wss://chat.test:${origin.httpsPort}/`, {
      createConnection: () => tls.connect({ socket, servername: 'chat.test', ca: [tp.ca.certPem] }),
    } as never);
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => ws.send('ping'));
      ws.on('message', () => ws.close());
      ws.on('close', () => resolve());
      ws.on('error', reject);
    });
    await tp.waitFor('conn.close', (e) =>
      tp.of('tunnel.summary').some((t) => t.connId === e.connId),
    );
    // The UI's R: refuse.test was refused above, so one (client, host) pair is forgotten.
    expect(tp.proxy.controls.resetLab()).toBeGreaterThanOrEqual(1);
    await tp.waitFor('lab.reset');
  });

  afterAll(async () => {
    await tp?.close();
    await origin?.close();
  });

  it('every connection ends with one conn.close, and every forgery gets exactly one outcome', async () => {
    // Poll (bounded, 15 s) until every connection has closed: curl exits before the proxy sees it.
    for (let i = 0; i < 150 && tp.of('conn.open').length !== tp.of('conn.close').length; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const open of tp.of('conn.open')) {
      const mine = tp.events.filter((e) => e.connId === open.connId);
      expect(
        mine.filter((e) => e.type === 'conn.close'),
        open.connId,
      ).toHaveLength(1);
      expect(mine.at(-1)?.type, open.connId).toBe('conn.close');
      const forged = mine.filter((e) => e.type === 'tls.forged').length;
      const outcomes = mine.filter(
        (e) => e.type === 'tls.client-accepted' || e.type === 'tls.client-rejected',
      ).length;
      expect(outcomes, open.connId).toBe(forged);
    }
  });

  it('proxy.listening is the first event', () => {
    expect(tp.events[0]?.type).toBe('proxy.listening');
  });

  it('emitted every event type', () => {
    const seen = new Set(tp.events.map((e) => e.type));
    expect([...EVENT_TYPES].filter((t) => !seen.has(t))).toEqual([]);
  });

  /** The events as the `--events` file and the feed carry them: the form the page documents. */
  const asJson = (): ProxyEvent[] => tp.events.map((e) => JSON.parse(eventJson(e)) as ProxyEvent);

  it('every event has exactly the documented fields', () => {
    for (const e of asJson()) {
      const documented = [...COMMON, ...(fieldsOf(`\`${e.type}\``) ?? [])];
      // flowId appears in the tables of the types that carry it.
      expect(Object.keys(e).sort(), `${e.type} ${e.id}`).toEqual([...new Set(documented)].sort());
    }
  });

  it('nested shapes have the documented fields', () => {
    const shape = (name: string, obj: object, optional: string[] = []) => {
      const doc = fieldsOf(name) ?? [];
      for (const k of Object.keys(obj)) expect(doc, `${name} lacks ${k}`).toContain(k);
      for (const k of doc.filter((f) => !optional.includes(f)))
        expect(Object.keys(obj), `${name}.${k}`).toContain(k);
    };
    // Typed as in process, read as JSON: byte fields are `base64` strings here.
    const all = asJson();
    for (const e of all) {
      if (e.type === 'tls.forged') shape('CertSummary', e.certificate);
      if (e.type === 'http.response') {
        shape('Timings', e.timings);
        shape('BodyCapture', e.body, ['text', 'base64']);
        if (e.upstreamCertificate) shape('CertSummary', e.upstreamCertificate);
      }
      if (e.type === 'http.request') shape('BodyCapture', e.body, ['text', 'base64']);
      if (e.type === 'conn.close') {
        shape('WireCapture', e.wire);
        shape('WireBytes', e.wire.up);
        for (const r of e.wire.records) shape('TlsRecord', r, ['handshake', 'alert']);
      }
      if (e.type === 'conn.wire') {
        shape('WireDelta', e.up);
        shape('WireDelta', e.down);
        for (const r of e.records) shape('TlsRecord', r, ['handshake', 'alert']);
      }
      if (e.type === 'upstream.wire') for (const c of e.chunks) shape('UpstreamChunk', c);
      if (e.type === 'tunnel.summary') {
        for (const c of e.serverCertificates ?? []) shape('CertSummary', c);
        if (e.clientVerdict) shape('ClientVerdict', e.clientVerdict, ['alert', 'sentBy']);
      }
    }
  });
});
