// The `/` filter language, kept small enough to type on a projector in front of a class:
// space-separated terms, all of which must match.
//   host:bank        host contains "bank"
//   badge:refused    badge contains "refused" (plaintext | decrypted | refused | tunnelled)
//   vis:wire         visibility: wire | proxy-only | none
//   outcome:alert    flow outcome (ok, pending, upstream-error, refused, tunnelled) or the
//                    engine's reject outcome / alert name / error code (alert, unknown_ca, ECONNREFUSED…)
//   anything else    free text: host, URL, method, status, badge, error text
import type { Flow } from './flow.ts';

export interface FlowFilter {
  host?: string;
  badge?: string;
  visibility?: string;
  outcome?: string;
  text?: string[];
}

/** Parse the filter line typed after `/`. An empty line gives an empty filter (everything). */
export function parseFilter(line: string): FlowFilter {
  const filter: FlowFilter = {};
  const text: string[] = [];
  for (const raw of line.trim().split(/\s+/)) {
    if (!raw) continue;
    const m = /^(host|badge|vis|visibility|outcome):(.*)$/i.exec(raw);
    const key = m?.[1]?.toLowerCase();
    const value = (m?.[2] ?? raw).toLowerCase();
    if (!m || !value) text.push(raw.toLowerCase());
    else if (key === 'host') filter.host = value;
    else if (key === 'badge') filter.badge = value;
    else if (key === 'vis' || key === 'visibility') filter.visibility = value;
    else filter.outcome = value;
  }
  if (text.length) filter.text = text;
  return filter;
}

/** The filter back as text (what the footer shows while it applies). */
export function describeFilter(f: FlowFilter): string {
  const parts: string[] = [];
  if (f.host) parts.push(`host:${f.host}`);
  if (f.badge) parts.push(`badge:${f.badge}`);
  if (f.visibility) parts.push(`vis:${f.visibility}`);
  if (f.outcome) parts.push(`outcome:${f.outcome}`);
  if (f.text) parts.push(...f.text);
  return parts.join(' ');
}

export function isEmptyFilter(f: FlowFilter): boolean {
  return describeFilter(f) === '';
}

/** Words that describe how a flow ended, for `outcome:` and free text. */
function outcomeWords(flow: Flow): string[] {
  const words: string[] = [flow.outcome];
  const r = flow.conn.rejected;
  if (r && flow.kind === 'tls') {
    words.push(r.outcome);
    if (r.alert) words.push(r.alert.name, String(r.alert.code));
  }
  if (flow.kind === 'tls' && flow.conn.tunnel) words.push(flow.conn.tunnel.reason);
  if (flow.upstreamError) words.push(flow.upstreamError.code);
  for (const e of flow.conn.upstreamErrors) words.push(e.code);
  return words.map((w) => w.toLowerCase());
}

/** True when the filter asks for nothing, i.e. matches every flow. */
export function filterIsEmpty(f: FlowFilter): boolean {
  return !f.host && !f.badge && !f.visibility && !f.outcome && !f.text?.length;
}

export function matchesFilter(flow: Flow, f: FlowFilter): boolean {
  if (f.host && !flow.host.toLowerCase().includes(f.host)) return false;
  if (f.badge && !flow.badge.toLowerCase().includes(f.badge)) return false;
  if (f.visibility && (flow.visibility ?? 'none') !== f.visibility) return false;
  if (f.outcome) {
    const want = f.outcome;
    if (!outcomeWords(flow).some((w) => w === want || w.includes(want))) return false;
  }
  if (f.text) {
    const hay = [
      flow.host,
      flow.url ?? '',
      flow.method ?? '',
      flow.status === null ? '' : String(flow.status),
      flow.badge,
      flow.upstreamError?.message ?? '',
      flow.conn.rejected?.raw ?? '',
      ...outcomeWords(flow),
    ]
      .join(' ')
      .toLowerCase();
    if (!f.text.every((t) => hay.includes(t))) return false;
  }
  return true;
}
