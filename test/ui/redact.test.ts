import { describe, expect, it } from 'vitest';
import { findSecrets, markSecrets, maskPlain } from '../../src/ui/redact.ts';
import { esc, fit, stripTags } from '../../src/ui/text.ts';
import { wrapTagged } from '../../src/ui/wrap.ts';

const secretsOf = (t: string) => findSecrets(t).map((r) => t.slice(r.start, r.end));

describe('findSecrets', () => {
  it('finds passwords in forms and query strings, cookies, tokens and Authorization', () => {
    expect(secretsOf('user=alice&password=hunter2')).toEqual(['hunter2']);
    expect(secretsOf('/login?user=bob&pwd=s3cret&next=/')).toEqual(['s3cret']);
    expect(secretsOf('Cookie: session=abc; theme=dark')).toEqual(['session=abc; theme=dark']);
    expect(secretsOf('Authorization: Bearer abc.def')).toEqual(['Bearer abc.def']);
    expect(secretsOf('{"user":"a","access_token":"xyz","n":1}')).toEqual(['xyz']);
    expect(secretsOf('token in text: eyJhbGciOi.eyJzdWIiOi.sig')).toEqual([
      'eyJhbGciOi.eyJzdWIiOi.sig',
    ]);
    expect(secretsOf('X-Api-Key: k-123')).toEqual(['k-123']);
    expect(secretsOf('Hi, my card PIN is 4321. Thanks')).toEqual(['4321']);
    expect(secretsOf('the password: hunter2')).toEqual(['hunter2']);
  });

  it('leaves ordinary text alone', () => {
    expect(secretsOf('GET /products?page=2 HTTP/1.1\nHost: shop.test\nAccept: */*')).toEqual([]);
  });

  it('masks (showing only the length) or highlights, and escapes braces from the wire', () => {
    const masked = stripTags(markSecrets('password=hunter2&x={bold}', true));
    expect(masked).toBe('password=[hidden 7]&x={bold}');
    const shown = markSecrets('password=hunter2', false);
    expect(shown).toContain('{red-bg}hunter2{/red-bg}');
    expect(maskPlain('/reset?token=abcd')).toBe('/reset?token=[hidden 4]');
  });
});

describe('wrapTagged', () => {
  it('wraps on word boundaries and re-opens open tags on the next row', () => {
    const rows = wrapTagged('{red-fg}aaaa bbbb cccc{/red-fg}', 10);
    expect(rows.map(stripTags)).toEqual(['aaaa bbbb', 'cccc']);
    expect(rows[1]).toMatch(/^\{red-fg\}cccc/);
  });

  it('indents continuation rows under the value of a "label  value" line', () => {
    const rows = wrapTagged('  curl     exit 60: certificate problem here', 24).map(stripTags);
    expect(rows).toEqual([
      '  curl     exit 60:',
      '           certificate',
      '           problem here',
    ]);
    expect(rows.every((r) => r.length <= 24)).toBe(true);
  });

  it('cuts a long word and never exceeds the width', () => {
    const rows = wrapTagged('x'.repeat(25), 10);
    expect(rows.map((r) => stripTags(r).length)).toEqual([10, 10, 5]);
  });
});

describe('one column per character', () => {
  it('drops zero-width marks and turns emoji and wide characters into ?', () => {
    expect(esc('caf\u0065\u0301 ok')).toBe('cafe ok');
    expect(esc('hi \u{1F600} there')).toBe('hi ? there');
    expect(esc('\u4F60\u597D {x}')).toBe('?? {open}x{close}');
    expect(fit('\u{1F600}\u{1F600}abc', 4)).toBe('??a~');
  });
});
