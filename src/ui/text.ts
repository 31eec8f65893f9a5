// Small text helpers for views. Views produce blessed-tagged strings (`{red-fg}…{/red-fg}`),
// so any text that came from the network must be escaped first: a body containing `{bold}`
// must print as itself. These helpers know the tag syntax but do not import blessed
// (screen.ts is the only file that does).

/**
 * Characters blessed would measure wrong (ENGINE-NOTES.md: it counts every character as one
 * column): emoji and other astral characters, East Asian wide characters (two columns), and
 * zero-width marks (joiners, variation selectors, combining marks). Network text may hold any
 * of them; shown raw they shift every cell after them on the row.
 */
const WIDE =
  /[\u{10000}-\u{10FFFF}\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u2600-\u27BF]/gu;
const ZERO_WIDTH = /[\p{Mn}\p{Me}\u200B-\u200F\u2060-\u2064]/gu;

/** Make every character exactly one column: zero-width marks dropped, wide ones become `?`. */
export function oneColumn(s: string): string {
  return s.replace(ZERO_WIDTH, '').replace(WIDE, '?');
}

/** Escape `{` and `}` so blessed prints them literally, and make every character one column. */
export function esc(s: string): string {
  return oneColumn(s).replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

/** Wrap already-escaped text in a tag, e.g. `tag('red-fg', 'x')`. */
export function tag(name: string, s: string): string {
  return `{${name}}${s}{/${name}}`;
}

export const bold = (s: string): string => tag('bold', s);
export const dim = (s: string): string => `{gray-fg}${s}{/gray-fg}`;

/** Control characters (and DEL, C1) become `.` so raw bytes never drive the terminal. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '.');
}

/** Cut or pad to exactly `width` characters (plain text only, no tags). */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const s = oneColumn(text);
  if (s.length > width) return width <= 1 ? s.slice(0, width) : `${s.slice(0, width - 1)}~`;
  return s.padEnd(width);
}

/** Right-align to `width` characters (plain text only). */
export function fitRight(text: string, width: number): string {
  const s = oneColumn(text);
  return s.length > width ? s.slice(0, width) : s.padStart(width);
}

/** A byte count a person reads at a glance: 812 B, 4.3 KB, 1.2 MB. */
export function bytes(n: number | null): string {
  if (n === null) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The last UTC second `clock` formatted, and its text. */
let lastClock = { second: '', text: '' };

/** HH:MM:SS of an ISO time, in local time. */
export function clock(iso: string): string {
  // Every visible row is formatted each frame and rows arriving together share their second:
  // remember the last one (local time formatting is the slow part).
  const second = iso.slice(0, 19);
  if (second === lastClock.second && iso.endsWith('Z')) return lastClock.text;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '--:--:--';
  const text = d.toTimeString().slice(0, 8);
  if (iso.endsWith('Z')) lastClock = { second, text };
  return text;
}

/** Milliseconds, one decimal below 10 ms. */
export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  return n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
}

/** A label column: `label` padded, then the value. */
export function field(label: string, value: string, width = 14): string {
  return `${dim(esc(label.padEnd(width)))}${value}`;
}

/** Strip blessed tags (for tests and width measurement). */
export function stripTags(s: string): string {
  return s.replace(/\{(open|close)\}|\{\/?[a-z0-9-]*\}/gi, (_m, oc?: string) =>
    oc === 'open' ? '{' : oc === 'close' ? '}' : '',
  );
}

/**
 * A line that must not be wrapped (a command to copy: a wrapped one pastes broken), cut to
 * `width` with a marker instead. Plain text, before escaping.
 */
export function cutLine(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}>`;
}
