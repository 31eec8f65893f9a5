import { describe, expect, it } from 'vitest';
import { BodyCapturer, headerPairs, headerValue } from '../../src/proxy/body-capture.ts';
import type { Header } from '../../src/events/types.ts';

const json: Header[] = [['Content-Type', 'application/json']];

describe('BodyCapturer', () => {
  it('keeps text bodies as text with their size', () => {
    const b = new BodyCapturer(100);
    b.push(Buffer.from('{"a":'));
    b.push('1}');
    expect(b.result(json)).toEqual({ text: '{"a":1}', size: 7, truncated: false });
  });

  it('cuts at the limit, counts everything, and flags truncated', () => {
    const b = new BodyCapturer(4);
    b.push(Buffer.from('abcdef'));
    b.push(Buffer.from('gh'));
    expect(b.result([['content-type', 'text/plain']])).toEqual({
      text: 'abcd',
      size: 8,
      truncated: true,
    });
  });

  it('a cut inside a UTF-8 character is still text', () => {
    const b = new BodyCapturer(2);
    b.push(Buffer.from('aé'));
    expect(b.result([['content-type', 'text/plain; charset=utf-8']])).toEqual({
      text: 'a',
      size: 3,
      truncated: true,
    });
  });

  it('binary, invalid UTF-8 and compressed bodies are bytes', () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x01]);
    const b = new BodyCapturer(100);
    b.push(bytes);
    expect(b.result([])).toEqual({ bytes, size: 4, truncated: false });
    const g = new BodyCapturer(100);
    g.push(Buffer.from('looks like text'));
    expect(
      'bytes' in
        g.result([
          ['Content-Type', 'text/html'],
          ['Content-Encoding', 'gzip'],
        ]),
    ).toBe(true);
    const png = new BodyCapturer(100);
    png.push(Buffer.from('PNG-ish ascii'));
    expect('bytes' in png.result([['Content-Type', 'image/png']])).toBe(true);
  });

  it('copies chunks (a stream may reuse its buffer)', () => {
    const buf = Buffer.from('abc');
    const b = new BodyCapturer(10);
    b.push(buf);
    buf.write('xyz');
    expect(b.result([])).toMatchObject({ text: 'abc' });
  });
});

describe('headers', () => {
  it('rawHeaders become ordered pairs with duplicates and original case', () => {
    const pairs = headerPairs(['Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'Host', 'x']);
    expect(pairs).toEqual([
      ['Set-Cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['Host', 'x'],
    ]);
    expect(headerValue(pairs, 'SET-COOKIE')).toBe('a=1');
    expect(headerValue(pairs, 'missing')).toBeNull();
  });
});
