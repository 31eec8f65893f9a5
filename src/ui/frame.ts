// Pure rendering of the fixed parts of the screen: the header, the flow list window, the view
// tabs, the footer and the help overlay. The app decides what is selected; these functions
// only turn state into tagged lines, so they are tested without a terminal.
import type { RejectOutcome, TunnelReason } from '../events/types.ts';
import { isTampered, type BadgeCounts, type Flow } from '../store/index.ts';
import { KEYMAP, VIEWS } from './keymap.ts';
import { maskPlain } from './redact.ts';
import { bytes, clock, esc, fit, fitRight, tag } from './text.ts';

const BADGE_STYLE: Record<Flow['badge'], string> = {
  'HTTP plaintext': 'red-fg',
  'HTTPS decrypted': 'magenta-fg',
  'HTTPS refused': 'green-fg',
  'HTTPS tunnelled': 'cyan-fg',
};

export interface HeaderState {
  listen: string;
  mode: string;
  caName: string;
  caSha256: string;
  counts: BadgeCounts;
  shown: number;
  total: number;
  maxFlows: number;
  paused: { newSince: number } | null;
  redact: boolean;
  filter: string;
  source: string | null;
  /** The proxy's `--tamper` rules (names), empty when it changes nothing. Optional: tests omit it. */
  tamper?: readonly string[];
}

export function headerLines(s: HeaderState, width: number): string[] {
  // Enough of the fingerprint to compare with `mitm-lab ca info` at a glance.
  const fp = s.caSha256 ? s.caSha256.split(':').slice(0, 4).join(':') + ':..' : 'unknown';
  // Line 1: where and how the proxy runs, whether secrets are on screen (a projector must
  // make that obvious) and which CA forges. Line 2: what has been seen, then the caller's
  // note (e.g. attached to a feed). The CA name is long: on a narrow terminal it is cut first.
  const secrets = s.redact
    ? '[secrets hidden]'
    : '{white-fg}{red-bg} SECRETS SHOWN {/red-bg}{/white-fg}';
  const line1 =
    `{bold}mitm-lab{/bold}  proxy ${esc(s.listen)}  mode {bold}${esc(s.mode)}{/bold}  ${secrets}` +
    (s.tamper?.length
      ? `  {white-fg}{red-bg} TAMPERING (${s.tamper.length} rule${s.tamper.length === 1 ? '' : 's'}) {/red-bg}{/white-fg}`
      : '') +
    `  CA ${esc(s.caName || 'unknown')} ${esc(fp)}`;
  const c = s.counts;
  const parts = [
    `plaintext ${c['HTTP plaintext']}`,
    `decrypted ${c['HTTPS decrypted']}`,
    `refused ${c['HTTPS refused']}`,
    `tunnelled ${c['HTTPS tunnelled']}`,
    s.shown === s.total ? `flows ${s.total}` : `showing ${s.shown} of ${s.total}`,
  ];
  let line2 = esc(parts.join('  '));
  if (s.paused)
    line2 += `  {black-fg}{yellow-bg} PAUSED +${s.paused.newSince} {/yellow-bg}{/black-fg}`;
  if (s.filter) line2 += `  filter: ${esc(s.filter)}`;
  if (s.source) line2 += `  ${esc(s.source)}`;
  void width;
  return [line1, line2];
}

/** Column widths of the flow list for a terminal width. */
function columns(width: number): { host: number; path: number } {
  const fixed = 8 + 1 + 15 + 1 + 7 + 1 + 3 + 1 + 8 + 1; // time badge method status size + gaps
  const rest = Math.max(10, width - fixed - 1);
  const host = Math.max(8, Math.min(28, Math.floor(rest * 0.4)));
  return { host, path: Math.max(4, rest - host - 1) };
}

export function listHeader(width: number): string {
  const w = columns(width);
  return `{underline}${esc(
    [
      fit('time', 8),
      fit('what', 15),
      fit('host', w.host),
      fit('method', 7),
      fit('path / outcome', w.path),
      fitRight('st', 3),
      fitRight('size', 8),
    ].join(' '),
  )}{/underline}`;
}

/** A refusal's outcome in words for the list (the raw key stays in the Why view's facts). */
export const REJECT_WORDS: Record<RejectOutcome, string> = {
  alert: 'refused with an alert',
  'closed-after-handshake': 'closed after the handshake',
  'reset-during-handshake': 'reset during the handshake',
  timeout: 'no answer in time',
  'no-shared-version-or-cipher': 'no shared TLS version or cipher',
  'not-tls': 'not TLS',
  unknown: 'ended, cause unknown',
};

/** Why a connection was tunnelled, in words for the list. */
export const TUNNEL_WORDS: Record<TunnelReason, string> = {
  'mode-eavesdrop': 'tunnelled: eavesdrop mode',
  'auto-refused-before': 'tunnelled: this client refused the forgery before',
  'outside-name-constraints': "tunnelled: outside the CA's allowed names",
  'not-tls': 'tunnelled: not TLS',
  'mint-failed': 'tunnelled: no certificate could be made',
};

/** The path column: the path for HTTP, the outcome for a TLS-only flow. */
function pathOrOutcome(f: Flow, redact: boolean): string {
  if (f.kind === 'tls') {
    const r = f.conn.rejected;
    if (f.upstreamError) return `upstream ${f.upstreamError.code}`;
    if (r) return r.alert ? `alert ${r.alert.code} ${r.alert.name}` : REJECT_WORDS[r.outcome];
    if (f.conn.tunnel) return TUNNEL_WORDS[f.conn.tunnel.reason];
    return '';
  }
  const p = f.path ?? '';
  const shown =
    (redact ? maskPlain(p) : p) + (f.ws.length ? ` [ws ${f.ws.length + f.wsDropped}]` : '');
  return f.upstreamError ? `${shown} (${f.upstreamError.code})` : shown;
}

export function listRow(f: Flow, width: number, selected: boolean, redact: boolean): string {
  const w = columns(width);
  const status = f.status === null ? '-' : String(f.status);
  const cells = [
    esc(fit(clock(f.at), 8)),
    tag(BADGE_STYLE[f.badge], esc(fit(f.badge, 15))),
    esc(fit(f.host, w.host)),
    esc(fit(f.method ?? (f.kind === 'tls' ? 'TLS' : '-'), 7)),
    isTampered(f)
      ? `{black-fg}{yellow-bg}TAMPERED{/yellow-bg}{/black-fg} ${esc(fit(pathOrOutcome(f, redact), Math.max(1, w.path - 9)))}`
      : esc(fit(pathOrOutcome(f, redact), w.path)),
    f.status !== null && f.status >= 500
      ? tag('red-fg', fitRight(status, 3))
      : esc(fitRight(status, 3)),
    esc(fitRight(bytes(f.size), 8)),
  ];
  const row = cells.join(' ');
  return selected ? `{inverse}${row}{/inverse}` : row;
}

export function tabsLine(view: number, right: string, width: number): string {
  const tabs = VIEWS.map((name, i) =>
    i === view
      ? `{black-fg}{yellow-bg} ${i + 1} ${name} {/yellow-bg}{/black-fg}`
      : ` ${i + 1} ${name} `,
  ).join('');
  const tabsWidth = VIEWS.reduce((a, n) => a + n.length + 4, 0);
  const room = width - tabsWidth - 1;
  return room > right.length ? `${tabs}${' '.repeat(room - right.length)}${esc(right)}` : tabs;
}

/** Actions that only some callers provide (start's victim tour). */
const OPTIONAL_ACTIONS: ReadonlySet<string> = new Set(['tour']);

/** The one-line footer: key hints from KEYMAP (or a message). */
export function footerHints(
  width: number,
  available: ReadonlySet<string> = OPTIONAL_ACTIONS,
): string {
  // Keys for optional actions (the tour) are hinted only where they work.
  const hints = KEYMAP.filter(
    (k) => k.hint && (!OPTIONAL_ACTIONS.has(k.action) || available.has(k.action)),
  ).map((k) => k.hint as string);
  // Help, quit and the tour first: on a narrow terminal they are the ones that must stay visible.
  const first = hints.filter((h) => h.startsWith('?') || h.startsWith('q ') || h.startsWith('t '));
  const line = [...first, ...hints.filter((h) => !first.includes(h))].join('  ');
  return esc(line.length > width ? line.slice(0, width) : line);
}

export function helpLines(
  readOnly: boolean,
  extra: ReadonlyArray<{ label: string; help: string }> = [],
): string[] {
  const all = [...KEYMAP, ...extra];
  const labelWidth = Math.max(...all.map((k) => k.label.length));
  const lines = [
    '{bold}mitm-lab keys{/bold}  (any key closes this help)',
    '',
    ...all.map((k) => `{yellow-fg}${esc(k.label.padEnd(labelWidth))}{/yellow-fg}  ${esc(k.help)}`),
    '',
    'Badges: {red-fg}HTTP plaintext{/red-fg} anyone reads it; {magenta-fg}HTTPS decrypted{/magenta-fg} the',
    'client trusts this proxy; {green-fg}HTTPS refused{/green-fg} validation stopped it;',
    '{cyan-fg}HTTPS tunnelled{/cyan-fg} passed through, only metadata visible.',
    'Secrets (passwords, cookies, tokens) are hidden until r reveals them.',
  ];
  if (readOnly)
    lines.push(
      'Attached to a feed: m, f and e act on the proxy, t (the tour) on start: not available here.',
    );
  return lines;
}
