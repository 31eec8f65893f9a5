// View 5, Timeline: where the time went (DNS, TCP connect, TLS handshake, first byte, total)
// as bars, and the round trips a new connection costs: TLS 1.3 needs one for its handshake
// (TCP + TLS = 2 before the request), TLS 1.2 needs two (3 in all).
import type { TlsRecord } from '../../events/types.ts';
import type { Flow } from '../../store/index.ts';
import { bold, dim, esc, ms, tag } from '../text.ts';
import type { ViewContext } from './wire.ts';

const BAR = '#';

export function timelineView(flow: Flow, ctx: ViewContext): string[] {
  const out: string[] = [bold('TIMELINE')];
  const t = flow.response?.timings;
  const barWidth = Math.max(10, Math.min(60, ctx.width - 36));
  if (t) {
    out.push(
      dim('proxy -> server leg, for this request (a reused connection skips DNS, TCP, TLS)'),
      '',
    );
    const phases: Array<[string, number | null]> = [
      ['DNS lookup', t.dnsMs],
      ['TCP connect', t.connectMs],
      ['TLS handshake', t.tlsMs],
      [
        'waiting (to first byte)',
        t.ttfbMs === null ? null : Math.max(0, t.ttfbMs - sum(t.dnsMs, t.connectMs, t.tlsMs)),
      ],
      [
        'download',
        t.totalMs === null || t.ttfbMs === null ? null : Math.max(0, t.totalMs - t.ttfbMs),
      ],
    ];
    const total = t.totalMs ?? phases.reduce((a, [, v]) => a + (v ?? 0), 0);
    let offset = 0;
    for (const [label, v] of phases) {
      if (v === null) {
        out.push(`  ${esc(label.padEnd(24))}${dim('-'.padStart(9))}`);
        continue;
      }
      const start = total > 0 ? Math.round((offset / total) * barWidth) : 0;
      const len = total > 0 ? Math.max(1, Math.round((v / total) * barWidth)) : 1;
      out.push(
        `  ${esc(label.padEnd(24))}${ms(v).padStart(9)}  ${' '.repeat(Math.min(start, barWidth - 1))}${tag('cyan-fg', BAR.repeat(Math.min(len, barWidth)))}`,
      );
      offset += v;
    }
    out.push(`  ${bold('total'.padEnd(24))}${ms(t.totalMs).padStart(9)}`);
  } else {
    out.push(dim('No request timings: this connection carried no HTTP the proxy answered.'));
  }
  const c = flow.conn;
  const version =
    c.accepted?.protocol ??
    flow.response?.upstreamProtocol ??
    c.tunnel?.tlsVersion ??
    c.closed?.wire.tlsVersion ??
    null;
  out.push('', bold('Round trips for a new connection'));
  if (flow.badge === 'HTTP plaintext') {
    out.push('  TCP 1 RTT, then the request: no TLS at all.');
  } else {
    const v13 = version?.includes('1.3') ?? false;
    const v12 = version?.includes('1.2') ?? false;
    out.push(
      `  ${v13 ? tag('green-fg', '>') : ' '} TLS 1.3: TCP 1 + TLS 1 = 2 RTT before the first request`,
      `  ${v12 ? tag('green-fg', '>') : ' '} TLS 1.2: TCP 1 + TLS 2 = 3 RTT before the first request`,
      dim(
        `  this connection: ${version ?? 'version not seen'}${c.accepted?.handshakeMs != null ? `, client handshake ${ms(c.accepted.handshakeMs)}` : ''}`,
      ),
    );
  }
  const records = c.closed?.wire.records ?? [];
  if (records.length) {
    out.push(
      '',
      bold('On the wire') + dim(` (client side, ${flights(records)} flights of records)`),
    );
    const last = records[records.length - 1]?.t ?? 0;
    for (const r of records.slice(0, 30)) {
      const pos = last > 0 ? Math.round((r.t / last) * (barWidth - 1)) : 0;
      const mark = r.dir === 'up' ? '>' : '<';
      const label = r.alert ? `alert ${r.alert.name}` : (r.handshake?.join(', ') ?? r.contentType);
      out.push(
        `  ${ms(r.t).padStart(9)} ${' '.repeat(pos)}${tag(r.dir === 'up' ? 'yellow-fg' : 'cyan-fg', mark)} ${dim(esc(label))}`,
      );
    }
    if (records.length > 30) out.push(dim(`  ... ${records.length - 30} more records`));
  }
  return out;
}

function sum(...xs: Array<number | null>): number {
  return xs.reduce<number>((a, x) => a + (x ?? 0), 0);
}

/** Direction changes + 1: each flight is one side talking; two flights make a round trip. */
function flights(records: TlsRecord[]): number {
  let n = 0;
  let dir: string | null = null;
  for (const r of records) {
    if (r.dir !== dir) n++;
    dir = r.dir;
  }
  return n;
}
