// View 4, Why: the teaching text for this flow's outcome, from the explain catalog, plus the
// engine's own facts (outcome, alert, raw error) so the explanation can be checked.
import { explain } from '../../explain/index.ts';
import type { Flow } from '../../store/index.ts';
import { bold, dim, esc, tag } from '../text.ts';
import type { ViewContext } from './wire.ts';

export function whyView(flow: Flow, _ctx: ViewContext): string[] {
  const x = explain(flow);
  const out: string[] = [
    bold('WHY') + dim(` - ${esc(x.key)}`),
    '',
    tag('yellow-fg', bold(esc(x.title))),
    '',
    esc(x.whatHappened),
    '',
    `${bold('Handshake step')}  ${esc(x.handshakeStep)}`,
    '',
    bold('What the client shows'),
    `  ${dim('browser')}  ${esc(x.whatClientsShow.browser)}`,
    `  ${dim('curl   ')}  ${esc(x.whatClientsShow.curl)}`,
    `  ${dim('Node   ')}  ${esc(x.whatClientsShow.node)}`,
    `  ${dim('Python ')}  ${esc(x.whatClientsShow.python)}`,
    '',
    `${bold('Lesson')}  ${esc(x.lesson)}`,
  ];
  if (x.labEndpoint) out.push('', `${bold('Try it')}  ${esc(x.labEndpoint)}`);
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
  if (facts.length)
    out.push('', bold('What the engine saw'), ...facts.map((f) => `  ${dim(esc(f))}`));
  return out;
}
