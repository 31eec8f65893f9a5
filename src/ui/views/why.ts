// View 4, Why: the teaching text for this flow's outcome, from the explain catalog, plus the
// engine's own facts (outcome, alert, raw error) so the explanation can be checked.
import { describeClients, explain } from '../../explain/index.ts';
import type { Flow } from '../../store/index.ts';
import { bold, dim, esc, tag } from '../text.ts';
import type { ViewContext } from './wire.ts';

export function whyView(flow: Flow, ctx: ViewContext): string[] {
  const x = explain(flow, ctx.explain);
  const out: string[] = [
    bold('WHY'),
    '',
    tag('yellow-fg', bold(esc(x.title))),
    '',
    esc(x.whatHappened),
  ];
  if (x.verdict) out.push('', `${bold('What the client did')}  ${esc(x.verdict)}`);
  if (x.hsts) {
    // The proxy read this host's Strict-Transport-Security earlier: it knows the host uses HSTS.
    out.push('', tag('green-fg', bold(esc(x.hsts.title))), esc(x.hsts.text));
    for (const [label, text] of describeClients(x.hsts.clients))
      out.push(`  ${dim(label.padEnd(8))}  ${esc(text)}`);
    out.push(`  ${esc(x.hsts.lesson)}`);
  }
  out.push('', `${bold('Handshake step')}  ${esc(x.handshakeStep)}`);
  const open = x.causes.filter((c) => c.ruledOut === null);
  if (x.causes.length > 0) {
    out.push('', bold('Causes this signal covers'));
    for (const c of x.causes) {
      if (c.ruledOut) {
        out.push(`  ${dim('ruled out')}  ${esc(c.title)}: ${dim(esc(c.ruledOut))}`);
        continue;
      }
      out.push(`  ${tag('yellow-fg', 'possible ')}  ${esc(c.title)}: ${esc(c.text)}`);
      for (const [label, text] of describeClients(c.clients))
        out.push(`      ${dim(label.padEnd(8))}  ${esc(text)}`);
    }
  }
  // Entries with one cause (or a verdict of success) say what each client shows directly.
  const rows = open.some((c) => Object.keys(c.clients).length > 0)
    ? []
    : describeClients(x.clients);
  if (rows.length > 0) {
    out.push('', bold('What the client shows'));
    for (const [label, text] of rows) out.push(`  ${dim(label.padEnd(8))}  ${esc(text)}`);
  }
  const direct = x.directly ? describeClients(x.directly) : [];
  if (direct.length > 0) {
    out.push('', bold('Without the proxy, directly'));
    for (const [label, text] of direct) out.push(`  ${dim(label.padEnd(8))}  ${esc(text)}`);
  }
  out.push('', `${bold('Lesson')}  ${esc(x.lesson)}`);
  if (x.labEndpoint) out.push('', `${bold('Try it')}  ${esc(x.labEndpoint)}`);
  // The catalog entry's key last, for an instructor checking the text against the catalog.
  const facts: string[] = [];
  const r = flow.conn.rejected;
  if (r && flow.kind === 'tls') {
    facts.push(`outcome ${r.outcome}`);
    if (r.alert) facts.push(`alert ${r.alert.code} ${r.alert.name}`);
    if (r.raw) facts.push(`raw "${r.raw}"`);
    if (r.willTunnel) facts.push('later connections to this host will be tunnelled (f forgets)');
  }
  if (flow.kind === 'tls' && flow.conn.tunnel)
    facts.push(`tunnel reason ${flow.conn.tunnel.reason}`);
  if (flow.upstreamError)
    facts.push(`upstream ${flow.upstreamError.code}: "${flow.upstreamError.message}"`);
  facts.push(`explanation ${x.key} (src/explain/catalog.ts)`);
  out.push('', bold('What the engine saw'), ...facts.map((f) => `  ${dim(esc(f))}`));
  return out;
}
