// View 3, Certificates: the certificate mitm-lab forged next to the real server's, so the
// lesson is visible at a glance: same name, different issuer, different key.
import type { CertSummary } from '../../events/types.ts';
import type { Flow } from '../../store/index.ts';
import { bold, dim, esc, tag } from '../text.ts';
import type { ViewContext } from './wire.ts';

interface Side {
  title: string;
  cert: CertSummary | null;
  missing: string;
}

export function certificatesView(flow: Flow, ctx: ViewContext): string[] {
  if (flow.badge === 'HTTP plaintext') {
    return [
      bold('CERTIFICATES'),
      '',
      'None: plain HTTP has no certificate, so nothing proves who is answering.',
      dim('Anyone on the path can read and change this traffic without the client noticing.'),
    ];
  }
  const c = flow.conn;
  const forged: Side = {
    title: 'Forged by mitm-lab (shown to the client)',
    cert: c.forged?.certificate ?? null,
    missing:
      flow.badge === 'HTTPS tunnelled'
        ? 'none: the connection was tunnelled, nothing was forged'
        : 'not recorded',
  };
  const realCert =
    flow.response?.upstreamCertificate ??
    c.closed?.wire.serverCertificates?.[0] ??
    c.tunnel?.serverCertificates?.[0] ??
    null;
  const real: Side = {
    title: 'Real (from the server)',
    cert: realCert,
    missing:
      flow.badge === 'HTTPS refused'
        ? 'not fetched: the client refused before any request reached the server'
        : flow.badge === 'HTTPS tunnelled'
          ? 'encrypted on the wire (TLS 1.3): not visible to the proxy'
          : flow.upstreamError
            ? `none: the upstream connection failed (${flow.upstreamError.code})`
            : 'not recorded',
  };
  const out: string[] = [bold('CERTIFICATES') + dim(' - the forgery next to the real one')];
  if (ctx.width >= 110) out.push('', ...sideBySide(forged, real, Math.floor((ctx.width - 3) / 2)));
  else out.push('', ...block(forged), '', ...block(real));
  if (forged.cert && real.cert) {
    const f = forged.cert;
    const r = real.cert;
    const sameName = f.subjectCN === r.subjectCN || f.sans.some((s) => r.sans.includes(s));
    out.push(
      '',
      bold('Compare'),
      compare('same name', sameName, 'the forgery claims to be the real site'),
      compare('same issuer', f.issuer === r.issuer, `${short(f.issuer)} vs ${short(r.issuer)}`),
      compare(
        'same key',
        f.spkiSha256 === r.spkiSha256,
        'pinning the real key would catch the forgery',
      ),
      compare('same fingerprint', f.sha256 === r.sha256, 'a different certificate altogether'),
    );
  }
  return out;
}

function short(dn: string): string {
  const cn = /CN=([^,]+)/.exec(dn)?.[1];
  return cn ?? dn;
}

function compare(label: string, same: boolean, note: string): string {
  const verdict = same ? tag('green-fg', 'yes') : tag('red-fg', 'no ');
  return `  ${esc(label.padEnd(17))}${verdict}  ${dim(esc(note))}`;
}

function rows(cert: CertSummary): Array<[string, string]> {
  return [
    ['subject', cert.subject],
    ['issuer', cert.issuer],
    ['SANs', cert.sans.join(', ') || '-'],
    ['valid from', cert.notBefore],
    ['valid until', cert.notAfter],
    ['serial', cert.serial],
    ['key', cert.key + (cert.selfSigned ? ', self-signed' : '')],
    ['SHA-256', cert.sha256],
    ['SPKI SHA-256', cert.spkiSha256],
  ];
}

function block(side: Side): string[] {
  const out = [tag('cyan-fg', bold(esc(side.title)))];
  if (!side.cert) return [...out, `  ${dim(esc(side.missing))}`];
  for (const [k, v] of rows(side.cert)) out.push(`  ${dim(esc(k.padEnd(13)))}${esc(v)}`);
  return out;
}

/** Two columns; long values (fingerprints) wrap inside their column. */
function sideBySide(a: Side, b: Side, col: number): string[] {
  const colLines = (s: Side): string[] => {
    const lines = [s.title];
    if (!s.cert) return [...lines, `  ${s.missing}`];
    for (const [k, v] of rows(s.cert)) {
      const first = `  ${k.padEnd(13)}`;
      const room = Math.max(8, col - first.length);
      for (let i = 0; i < Math.max(1, v.length); i += room)
        lines.push((i === 0 ? first : ' '.repeat(first.length)) + v.slice(i, i + room));
    }
    return lines;
  };
  const left = colLines(a);
  const right = colLines(b);
  const out: string[] = [];
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const l = (left[i] ?? '').slice(0, col).padEnd(col);
    const r = (right[i] ?? '').slice(0, col);
    const style = (s: string) => (i === 0 ? tag('cyan-fg', bold(esc(s))) : esc(s));
    out.push(`${style(l)} ${dim('|')} ${style(r)}`);
  }
  return out;
}
