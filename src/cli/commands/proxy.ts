// `mitm-lab proxy`: only the intercepting proxy (no lab). On a terminal it shows the terminal
// UI, as `start` does; otherwise (or --headless) one readable line per outcome. The session
// (UI or headless, feed, Ctrl-C / SIGTERM / q, HAR flush) is shared with `start` in
// ../proxy-session.ts.
import type { Command, CommandIO } from '../command.ts';
import { PROXY_OPTIONS_HELP } from '../proxy-options.ts';
import { readSessionArgs, runProxySession, UI_OPTIONS_HELP } from '../proxy-session.ts';

const HELP = `mitm-lab proxy — run the intercepting proxy (no lab)

Usage: mitm-lab proxy [options]

On a terminal (stdin and stdout) it shows the terminal UI: the flows as they happen, what an
eavesdropper sees, what the proxy decrypts, why a client refused (? lists the keys, g the
commands to try, q quits). Otherwise, or with --headless, it prints one line per outcome.

Options:
${PROXY_OPTIONS_HELP}  --headless             no terminal UI: one line per event outcome on stdout
${UI_OPTIONS_HELP}  -h, --help             this help

Point a client at it:
  curl -x http://127.0.0.1:8080 http://example.localhost/           plain HTTP: all visible
  curl -x http://127.0.0.1:8080 https://bank.test/                   refused: curl does not trust the CA
  curl -x http://127.0.0.1:8080 --cacert certs/certs/ca.pem https://bank.test/   decrypted
  Browsers: set the HTTP and HTTPS proxy to 127.0.0.1 port 8080 (Firefox: Settings >
  Network Settings > Manual proxy; Chromium: --proxy-server=http://127.0.0.1:8080).
(bank.test and the other lab sites exist only with \`mitm-lab start\`.)

Trust the CA (only on a lab machine or profile): \`mitm-lab ca info\` prints the exact
commands; \`mitm-lab ca export\` writes the certificate. The CA is name-constrained to lab
names (.test, .localhost, loopback IPs): other sites are tunnelled, never forged.

A projector: add --feed, then run the printed \`npx mitm-lab attach '…'\` in another terminal.
Events: --events - prints JSON Lines (docs/events.md); the lines above then go to stderr and
the terminal UI is off.
Stop with Ctrl-C (or q in the UI, SIGTERM, or closing the terminal): sockets are closed and
the HAR (--har) is written; a second Ctrl-C while stopping writes it at once and exits.
Exit codes: 0 stopped normally, 1 could not start (e.g. port in use) or could not write the
HAR, 2 bad options (bad paths included: they are checked before anything starts).
`;

export const command: Command = {
  name: 'proxy',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const args = readSessionArgs('proxy', argv, HELP, io);
    if (!args) return 0;
    const { settings } = args;
    return runProxySession({
      settings,
      io,
      headless: args.headless,
      mouse: args.mouse,
      describe: ({ launched, proxyUrl }) => {
        const { ca } = launched;
        const lines = [
          `CA: ${ca.name}${ca.created ? ' (just created)' : ''} — ${ca.certPath}`,
          `CA SHA-256 ${ca.summary.sha256}`,
          'Plain HTTP (everything visible):',
          `   curl -x ${proxyUrl} http://SITE/`,
          'HTTPS from a client that trusts the CA (decrypted):',
          `   curl -x ${proxyUrl} --cacert ${ca.certPath} https://SITE.test/`,
          'HTTPS from a client that does not (refused, then tunnelled in auto mode):',
          `   curl -x ${proxyUrl} https://SITE.test/`,
          `A browser: chromium --proxy-server=${proxyUrl} --user-data-dir=$(mktemp -d)`,
        ];
        return {
          banner:
            `mitm-lab proxy listening on ${proxyUrl} (mode ${settings.mode}${settings.auth ? ', password required' : ''})\n` +
            lines.map((l) => `  ${l}\n`).join('') +
            '  Ctrl-C to stop\n',
          guide: [`Proxy ${proxyUrl} (mode ${settings.mode})`, ...lines],
        };
      },
    });
  },
};
