// `mitm-lab report --events FILE [--json] [--reveal]`: what HTTPS does not hide, from an events
// file alone (src/lessons/leak-report.ts): every host, how it was seen, its traffic volume and
// timing; secrets that crossed in plain HTTP; certificates that crossed in clear.
import { leakReport, type LeakReport } from '../../lessons/index.ts';
import { usageError } from '../../util/lab-error.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';
import { readEventsFile } from '../events-file.ts';

const HELP = `mitm-lab report — what HTTPS does not hide, from an events file

Usage: mitm-lab report --events FILE [--json] [--reveal]

Reads an events file written by the proxy (start or proxy with --events FILE) and lists what
anyone on the path learned, even where HTTPS kept the content secret:
  - every destination host: how it was seen (the CONNECT target, the SNI sent in clear in the
    ClientHello, a Host header or URL of plain HTTP), its ports, the client addresses, the
    number of connections and requests, bytes up and down, first and last seen, the TLS
    versions and ALPN;
  - the passwords, cookies and tokens that crossed in plain HTTP (masked unless --reveal);
  - the certificates that crossed in clear (TLS 1.2 handshakes: TLS 1.3 encrypts them).
Try it in eavesdrop mode (npm start -- --mode eavesdrop --events lab.jsonl): the content is
gone, the list of hosts and their volumes is not.

Options:
  --events FILE   the events file (JSON Lines, see docs/events.md)
  --json          print one JSON object: {"hosts":[…],"plaintextSecrets":[…],"certificatesInClear":[…]}
  --reveal        show secret values instead of masking them (not on a projector)
  -h, --help      this help

Exit codes: 0 ok, 2 a file that is not an events file.
`;

function kb(n: number): string {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`;
}

function text(r: LeakReport): string {
  const out: string[] = [];
  out.push(`Hosts an observer on the path learned of (${r.hosts.length}):`);
  for (const h of r.hosts) {
    out.push(`  ${h.host}  ports ${h.ports.join(', ') || '-'}  seen via ${h.seenVia.join(', ')}`);
    out.push(
      `      ${h.connections} connection(s), ${h.requests} request(s), up ${kb(h.bytesUp)}, down ${kb(h.bytesDown)}, ${h.firstSeen.slice(11, 19)}-${h.lastSeen.slice(11, 19)}` +
        (h.tlsVersions.length ? `, ${h.tlsVersions.join('/')}` : '') +
        (h.alpn.length ? `, ALPN ${h.alpn.join(', ')}` : '') +
        (h.clients.length ? `, from ${h.clients.join(', ')}` : ''),
    );
  }
  out.push('', `Secrets that crossed in plain HTTP (${r.plaintextSecrets.length}):`);
  for (const s of r.plaintextSecrets) out.push(`  ${s.host}  ${s.kind}  ${s.value}  in ${s.where}`);
  if (r.plaintextSecrets.length === 0) out.push('  none');
  out.push('', `Certificates that crossed in clear (${r.certificatesInClear.length}):`);
  for (const c of r.certificatesInClear)
    out.push(`  ${c.host}  subject ${c.subject}  issuer ${c.issuer}`);
  if (r.certificatesInClear.length === 0) out.push('  none (TLS 1.3 encrypts the certificate)');
  return `${out.join('\n')}\n`;
}

export const command: Command = {
  name: 'report',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'report',
      argv,
      { events: { type: 'string' }, json: { type: 'boolean' }, reveal: { type: 'boolean' } },
      HELP,
      io,
    );
    if (!parsed) return 0;
    const file = parsed.values.events;
    if (typeof file !== 'string' || file === '')
      throw usageError('report needs --events FILE', 'see `mitm-lab report --help`');
    const { events } = readEventsFile(file);
    const r = leakReport(events, parsed.values.reveal === true);
    io.stdout.write(parsed.values.json ? `${JSON.stringify(r)}\n` : text(r));
    return 0;
  },
};
