// The JSON edge of the events: in process, captured bytes are Buffers named `bytes`; the
// `--events` file and the feed carry them as base64 named `base64`, in the same place among the
// keys (the text docs/events.md documents), and reading the text back gives the same events.
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { eventFromJson, eventJson, jsonForm } from '../../src/events/json.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { connWire } from '../store/fixtures.ts';

const base = { id: 'e7', at: '2026-12-05T12:00:00.000Z' };

function wireEvent(up: Buffer, down: Buffer): ProxyEvent {
  return {
    ...connWire(
      'c1',
      { offset: 0, bytes: up, size: up.length, truncated: false },
      { offset: 5, bytes: down, size: 5 + down.length, truncated: true },
    ),
    ...base,
  };
}

function response(body: Buffer, tampered: boolean): ProxyEvent {
  return {
    type: 'http.response',
    ...base,
    connId: 'c2',
    flowId: 'f1',
    status: 200,
    statusMessage: 'OK',
    httpVersion: '1.1',
    headers: [['Content-Type', 'image/png']],
    body: { bytes: body, size: body.length, truncated: false },
    visibility: 'proxy-only',
    timings: { dnsMs: null, connectMs: null, tlsMs: null, ttfbMs: 1, totalMs: 2 },
    upstreamCertificate: null,
    upstreamProtocol: null,
    upstreamCipher: null,
    ...(tampered
      ? {
          tampered: {
            rules: ['r1'],
            before: { bytes: body, size: body.length, truncated: false },
            after: { text: 'changed', size: 7, truncated: false },
            encoding: null,
          },
        }
      : {}),
  };
}

describe('eventJson', () => {
  it('writes bytes as base64 in the place of `bytes`, key for key', () => {
    const e = wireEvent(Buffer.from('GET /'), Buffer.alloc(0));
    const text = eventJson(e);
    expect(text).toContain(
      `"up":{"offset":0,"base64":"${Buffer.from('GET /').toString('base64')}","size":5,"truncated":false}`,
    );
    expect(text).toContain('"down":{"offset":5,"base64":"","size":5,"truncated":true}');
    expect(text).not.toContain('"bytes"');
    expect(text).not.toContain('"Buffer"');
  });

  it('leaves an event without bytes as it is (no copy)', () => {
    const e: ProxyEvent = {
      type: 'conn.open',
      ...base,
      connId: 'c1',
      clientAddress: '127.0.0.1',
      clientPort: 1,
    };
    expect(jsonForm(e)).toBe(e);
    expect(eventJson(e)).toBe(JSON.stringify(e));
    const text = response(Buffer.alloc(0), false);
    if (text.type !== 'http.response') throw new Error('unreachable');
    const plain = { ...text, body: { text: 'hi', size: 2, truncated: false } };
    expect(jsonForm(plain)).toBe(plain);
  });

  it('serialises an event once when it is asked for twice in a row (the file, then the feed)', () => {
    const e = wireEvent(Buffer.from('GET /'), Buffer.from('HTTP/1.1 200'));
    const other = wireEvent(Buffer.from('PUT /'), Buffer.alloc(0));
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const first = eventJson(e);
      expect(eventJson(e)).toBe(first);
      expect(stringify).toHaveBeenCalledTimes(1);
      // Another event gets its own line; the first, asked for again after it, is made again.
      expect(eventJson(other)).toContain(Buffer.from('PUT /').toString('base64'));
      expect(eventJson(e)).toBe(first);
      expect(stringify).toHaveBeenCalledTimes(3);
    } finally {
      stringify.mockRestore();
    }
  });
});

describe('eventFromJson', () => {
  const cases: Array<[string, ProxyEvent]> = [
    ['conn.wire', wireEvent(randomBytes(33), randomBytes(1))],
    ['http.response with a binary body and a tamper mark', response(randomBytes(100), true)],
    ['http.response with a binary body', response(randomBytes(10), false)],
    [
      'conn.close',
      {
        type: 'conn.close',
        ...base,
        connId: 'c3',
        durationMs: 4,
        wire: {
          up: { bytes: randomBytes(70), size: 70, truncated: false },
          down: { bytes: Buffer.alloc(0), size: 0, truncated: false },
          records: [],
          recordsTruncated: false,
          serverCertificates: null,
          tlsVersion: null,
        },
      },
    ],
    [
      'upstream.wire',
      {
        type: 'upstream.wire',
        ...base,
        connId: null,
        clientConnId: 'c4',
        upstreamId: 'u1',
        kind: 'https',
        localAddress: '127.0.0.1',
        localPort: 40000,
        remoteAddress: '127.0.0.1',
        remotePort: 443,
        openedAt: base.at,
        chunks: [
          { dir: 'up', t: 1, bytes: randomBytes(9) },
          { dir: 'down', t: 2.5, bytes: randomBytes(2) },
        ],
        bytesUp: 9,
        bytesDown: 2,
        truncated: false,
        closed: false,
      },
    ],
  ];
  for (const [name, e] of cases) {
    it(`reads back what eventJson wrote: ${name}`, () => {
      const parsed = JSON.parse(eventJson(e)) as { type: string };
      expect(JSON.stringify(parsed)).not.toContain('"bytes"');
      const back = eventFromJson(parsed);
      expect(back).toEqual(e);
      expect(eventJson(back)).toBe(eventJson(e));
    });
  }

  it('takes a malformed event without throwing: a base64 that is no string is empty bytes', () => {
    const odd = eventFromJson({
      type: 'conn.wire',
      up: { offset: 0, base64: 42, size: 1, truncated: false },
      down: null,
    } as { type: string });
    expect(odd).toMatchObject({ up: { bytes: Buffer.alloc(0), size: 1 }, down: null });
    expect(eventFromJson({ type: 'conn.close', wire: 'nope' } as { type: string })).toMatchObject({
      wire: 'nope',
    });
    expect(eventFromJson({ type: 'upstream.wire' } as { type: string })).toEqual({
      type: 'upstream.wire',
    });
  });
});
