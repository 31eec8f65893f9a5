// `mitm-lab lab`: serve only the built-in lab (bank.test, lab.test, the gallery) on loopback and
// print where everything is. Without the proxy, names do not resolve by themselves: the output
// gives curl's --connect-to for each, and says why `mitm-lab start` is the easy way.
import path from 'node:path';
import { startLab, type RunningLab } from '../../lab/index.ts';
import { formatResolveRule } from '../../proxy/index.ts';
import { defaultCaDir, parseCommandArgs } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';
import { untilSignal } from '../signals.ts';

const HELP = `mitm-lab lab — serve only the built-in lab sites and the broken-certificate gallery

Usage: mitm-lab lab [options]

Serves on 127.0.0.1 (a free port each): bank.test over HTTP and HTTPS (login form, account
page, bearer-token API, WebSocket chat), the index http://lab.test/, and the gallery hosts
(expired, not yet valid, wrong host, self-signed, untrusted root, weak key, old TLS, no shared
cipher, HSTS). Certificates come from the "mitm-lab Lab Public Root", created on first use
under <ca-dir>/lab/ — it plays the public web PKI.

Options:
  --ca-dir DIR   where the lab PKI lives (in DIR/lab; default: $MITM_LAB_CA_DIR, else
                 <project>/certs)
  --json         print the names, ports and proxy resolve rules as one JSON object
  -h, --help     this help

The ports are random, so lab names only work through something that maps NAME:PORT to the
real port: curl's --connect-to, or the mitm-lab proxy with the printed
\`mitm-lab proxy --resolve NAME:PORT=127.0.0.1:REALPORT … --upstream-ca <lab root>\` command
(copy it while this lab runs), or simply \`mitm-lab start\`, which runs both.

Stop with Ctrl-C. Exit codes: 0 stopped normally, 1 could not start, 2 bad options.
`;

export const command: Command = {
  name: 'lab',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'lab',
      argv,
      { 'ca-dir': { type: 'string' }, json: { type: 'boolean' } },
      HELP,
      io,
    );
    if (!parsed) return 0;
    const caDir = parsed.values['ca-dir']
      ? path.resolve(parsed.values['ca-dir'])
      : defaultCaDir(io.env);
    const lab = await startLab({ dir: path.join(caDir, 'lab') });
    if (parsed.values.json) {
      io.stdout.write(
        `${JSON.stringify({ rootPath: lab.rootPath, sites: lab.sites.map(({ gallery: _g, ...s }) => s), resolve: lab.resolve })}\n`,
      );
    } else {
      io.stdout.write(describeLab(lab, parsed.values['ca-dir'] !== undefined ? { caDir } : {}));
    }
    await untilSignal();
    io.stderr.write('mitm-lab: stopping the lab…\n');
    await lab.close();
    return 0;
  },
};

/** A word as one shell argument (single quotes when it holds anything special). */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `mitm-lab proxy` command that routes every lab name to this lab: one
 * `--resolve NAME:PORT=127.0.0.1:REALPORT` per served port, and the lab root as upstream CA
 * (the proxy validates the lab servers as it would the public web). `caDir` adds `--ca-dir`.
 */
export function proxyCommandFor(lab: RunningLab, opts: { caDir?: string } = {}): string[] {
  const args = lab.resolve.flatMap((rule) => formatResolveRule(rule).map((r) => `--resolve ${r}`));
  args.push(`--upstream-ca ${shellWord(lab.rootPath)}`);
  if (opts.caDir !== undefined) args.push(`--ca-dir ${shellWord(opts.caDir)}`);
  return ['mitm-lab proxy', ...args];
}

/** The human listing: names, ports, commands that work without the proxy, and the proxy command. */
export function describeLab(lab: RunningLab, opts: { caDir?: string } = {}): string {
  const width = Math.max(...lab.sites.map((s) => s.host.length));
  const rows = lab.sites.map(
    (s) =>
      `  ${s.host.padEnd(width)}  ${String(s.httpPort ?? '-').padStart(5)}  ${String(s.httpsPort ?? '-').padStart(5)}` +
      (s.unavailable ? `  (not served here: ${s.unavailable})` : ''),
  );
  const bank = lab.sites.find((s) => s.host === 'bank.test');
  const expired = lab.sites.find((s) => s.host === 'expired.bank.test');
  const caPem = path.join(opts.caDir ?? 'certs', 'certs', 'ca.pem');
  return `mitm-lab lab — serving on 127.0.0.1 (Ctrl-C to stop)
  lab public root: ${lab.rootPath}

  ${'name'.padEnd(width)}   http  https
${rows.join('\n')}

Directly, without the proxy (curl maps the name and port itself):
  curl --connect-to bank.test:80:127.0.0.1:${bank?.httpPort} http://bank.test/
  curl --connect-to bank.test:443:127.0.0.1:${bank?.httpsPort} --cacert ${lab.rootPath} https://bank.test/
  curl --connect-to expired.bank.test:443:127.0.0.1:${expired?.httpsPort} --cacert ${lab.rootPath} https://expired.bank.test/
  python3: ssl.create_default_context(cafile="${lab.rootPath}"), connect to 127.0.0.1:PORT
           with server_hostname=NAME

Through the proxy, in another terminal while this lab runs (paste as is; it routes every lab
name and port here and validates the lab servers against the lab root):
  ${proxyCommandFor(lab, opts).join(' \\\n    ')}
then, for example:
  curl -x http://127.0.0.1:8080 http://bank.test/
  curl -x http://127.0.0.1:8080 --cacert ${shellWord(caPem)} https://bank.test/

Or run \`mitm-lab start\`: the lab and the proxy (with the terminal UI) in one command. The
--resolve NAME:PORT=ADDRESS:PORT rules above express these ports.
`;
}
