// The "what HTTPS does not hide" panel (`w`): the leak report (src/lessons/leak-report.ts, the
// same fold `mitm-lab report` runs on a file), live. Per host: how an observer on the path
// learned of it, ports, connections, requests, bytes each way, TLS versions, ALPN; then the
// secrets that crossed in plain HTTP (masked unless r reveals them) and the certificates that
// crossed in clear.
import type { LeakReport } from '../../lessons/index.ts';
import { bold, bytes, clock, dim, esc, tag } from '../text.ts';

export function leaksView(r: LeakReport): string[] {
  const out: string[] = [
    `${bold('What HTTPS does not hide')}  ${dim('w or Esc closes; `npx mitm-lab report --events FILE` prints the same')}`,
    '',
    bold(`Hosts an observer on the path learned of (${r.hosts.length})`),
  ];
  if (r.hosts.length === 0) out.push(dim('  none yet: send traffic through the proxy'));
  for (const h of r.hosts) {
    out.push(
      `  ${tag('cyan-fg', esc(h.host))}  ${dim('ports')} ${esc(h.ports.join(', ') || '-')}  ${dim('seen via')} ${esc(h.seenVia.join(', '))}`,
    );
    const facts = [
      `${h.connections} connection${h.connections === 1 ? '' : 's'}`,
      `${h.requests} request${h.requests === 1 ? '' : 's'}`,
      `up ${bytes(h.bytesUp)}`,
      `down ${bytes(h.bytesDown)}`,
      `${clock(h.firstSeen)}-${clock(h.lastSeen)}`,
      ...(h.tlsVersions.length ? [h.tlsVersions.join('/')] : []),
      ...(h.alpn.length ? [`ALPN ${h.alpn.join(', ')}`] : []),
    ];
    out.push(`      ${esc(facts.join(', '))}`);
  }
  out.push('', bold(`Secrets that crossed in plain HTTP (${r.plaintextSecrets.length})`));
  if (r.plaintextSecrets.length === 0) out.push(dim('  none'));
  for (const s of r.plaintextSecrets)
    out.push(
      `  ${esc(s.host)}  ${tag('red-fg', esc(s.kind))}  ${esc(s.value)}  ${dim(`in ${esc(s.where)}`)}`,
    );
  out.push('', bold(`Certificates that crossed in clear (${r.certificatesInClear.length})`));
  if (r.certificatesInClear.length === 0)
    out.push(dim('  none (TLS 1.3 encrypts the certificate; TLS 1.2 sends it in clear)'));
  for (const c of r.certificatesInClear)
    out.push(
      `  ${esc(c.host)}  ${dim('subject')} ${esc(c.subject)}  ${dim('issuer')} ${esc(c.issuer)}`,
    );
  return out;
}
