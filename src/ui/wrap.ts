// Wrapping blessed-tagged lines to a width, tag-aware, so the app can hand blessed exactly the
// rows that are visible (blessed's own wrapping would make it lay out the whole text).

const TOKEN = /\{(?:open|close|\/?[a-z0-9-]*)\}|[^{]+|\{/gi;

/**
 * How far continuation rows are indented: under the value of a `label  value` line (two or
 * more spaces after a short label), else under the line's own indentation. Plain text only.
 */
function hangingIndent(plain: string, width: number): number {
  const m = /^(\s*(?:\S+ )*?\S+ {2,})\S/.exec(plain);
  const indent = m?.[1] && m[1].length <= 24 ? m[1].length : (/^\s*/.exec(plain)?.[0].length ?? 0);
  return indent < width / 2 ? indent : 0;
}

/** Split one tagged line into rows of at most `width` visible characters. */
export function wrapTagged(line: string, width: number): string[] {
  if (width <= 0) return [line];
  const plain = line.replace(/\{(open|close)\}/g, 'x').replace(/\{\/?[a-z0-9-]*\}/gi, '');
  if (plain.length <= width) return [line];
  const pad = ' '.repeat(hangingIndent(plain, width));
  const rows: string[] = [];
  let row = '';
  let visible = 0;
  const open: string[] = [];
  for (const m of line.matchAll(TOKEN)) {
    const tok = m[0];
    if (tok.length > 2 && tok.startsWith('{') && tok.endsWith('}')) {
      const name = tok.slice(1, -1);
      if (name === 'open' || name === 'close') {
        if (visible >= width) {
          rows.push(row + (open.length ? '{/}' : ''));
          row = pad + open.map((t) => `{${t}}`).join('');
          visible = pad.length;
        }
        row += tok;
        visible++;
        continue;
      }
      if (name.startsWith('/')) {
        if (name === '/') open.length = 0;
        else {
          const i = open.lastIndexOf(name.slice(1));
          if (i >= 0) open.splice(i, 1);
        }
      } else open.push(name);
      row += tok;
      continue;
    }
    let text = tok;
    while (text.length) {
      const room = width - visible;
      if (room <= 0) {
        rows.push(row + (open.length ? '{/}' : ''));
        row = pad + open.map((t) => `{${t}}`).join('');
        visible = pad.length;
        continue;
      }
      let take = Math.min(room, text.length);
      let skip = 0;
      if (text.length > room) {
        // Break at the last space that leaves the row at least half full, else mid-word.
        const space = text.lastIndexOf(' ', room);
        if (space > 0 && visible + space >= width / 2) {
          take = space;
          skip = 1;
        }
      }
      row += text.slice(0, take);
      visible += take;
      text = text.slice(take + skip);
      if (skip) visible = width;
    }
  }
  rows.push(row);
  return rows;
}

/**
 * Lines already wrapped, per width: the detail pane re-wraps the same lines every frame while
 * traffic flows (a kept-alive capture is hundreds of lines). Bounded: dropped when it grows.
 */
let wrapped = new Map<string, readonly string[]>();
let wrappedWidth = -1;
const WRAP_CACHE_LINES = 4000;

/** Wrap every line. */
export function wrapAll(lines: readonly string[], width: number): string[] {
  if (width !== wrappedWidth || wrapped.size > WRAP_CACHE_LINES) {
    wrapped = new Map();
    wrappedWidth = width;
  }
  const out: string[] = [];
  for (const line of lines) {
    // Tags only add characters: a line no longer than the width fits as it is. Most do, and
    // skipping the cache for them keeps it for the long lines (a capture is thousands of rows).
    if (line.length <= width) {
      out.push(line);
      continue;
    }
    let rows = wrapped.get(line);
    if (!rows) {
      rows = wrapTagged(line, width);
      wrapped.set(line, rows);
    }
    for (const r of rows) out.push(r);
  }
  return out;
}
