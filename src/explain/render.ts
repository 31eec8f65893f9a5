// Client lines in words, for the views: `curl  exit 60: "certificate has expired"`. The words
// are the clients' own (their exit status, error code or page); this only lays them out.
import type { ClientLineLists } from './explain.ts';
import { CLIENT_NAMES, type ClientName, type ClientShows } from './explanation.ts';

/** How each client is named in a list. */
export const CLIENT_LABELS: Readonly<Record<ClientName, string>> = {
  chromium: 'Chromium',
  firefox: 'Firefox',
  curl: 'curl',
  wget: 'wget',
  python: 'Python',
  node: 'Node',
  openssl: 's_client',
};

/** Clients whose `code` is an exit status. */
const EXIT_STATUS: ReadonlySet<ClientName> = new Set(['curl', 'wget', 'openssl']);

/**
 * One line in words: `exit 60: "…" (note)`, `HTTP 502 (note)`, a success's note alone, and
 * `[unverified]` when no run backs it.
 */
export function describeShows(client: ClientName, s: ClientShows): string {
  let line: string;
  if (s.outcome === 'ok' && !s.code) line = s.note ?? 'succeeds';
  else {
    if (s.outcome === 'ok') line = `HTTP ${s.code ?? ''}`;
    else if (s.code) line = EXIT_STATUS.has(client) ? `exit ${s.code}` : s.code;
    else line = 'fails';
    if (s.says) line += `: "${s.says}"`;
    if (s.note) line += ` (${s.note})`;
  }
  if (s.unverified) line += ' [unverified]';
  return line;
}

/** Every client's lines, one row per client (alternatives joined by "; or "), in a fixed order. */
export function describeClients(lines: ClientLineLists): Array<[label: string, text: string]> {
  const rows: Array<[string, string]> = [];
  for (const name of CLIENT_NAMES) {
    const list = lines[name];
    if (!list || list.length === 0) continue;
    rows.push([CLIENT_LABELS[name], list.map((s) => describeShows(name, s)).join('; or ')]);
  }
  return rows;
}
