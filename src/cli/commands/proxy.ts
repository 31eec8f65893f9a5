// `mitm-lab proxy`: only the intercepting proxy, printing one readable line per outcome
// (the terminal UI comes with `mitm-lab start`). Stops cleanly on Ctrl-C / SIGTERM, writing
// the HAR first.
import { EventBus } from '../../events/bus.ts';
import { attachHeadlessPrinter } from '../../sinks/headless.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';
import {
  launchProxy,
  PROXY_OPTIONS,
  PROXY_OPTIONS_HELP,
  readProxyOptions,
} from '../proxy-options.ts';

const HELP = `mitm-lab proxy — run the intercepting proxy (no lab, no terminal UI)

Usage: mitm-lab proxy [options]

Options:
${PROXY_OPTIONS_HELP}  --headless             print one line per event outcome (the default for now; the
                         terminal UI is \`mitm-lab start\`)
  -h, --help             this help

Point a client at it:
  curl -x http://127.0.0.1:8080 http://example.localhost/           plain HTTP: all visible
  curl -x http://127.0.0.1:8080 https://bank.test/                   refused: curl does not trust the CA
  curl -x http://127.0.0.1:8080 --cacert certs/certs/ca.pem https://bank.test/   decrypted
  Browsers: set the HTTP and HTTPS proxy to 127.0.0.1 port 8080 (Firefox: Settings >
  Network Settings > Manual proxy; Chromium: --proxy-server=http://127.0.0.1:8080).

Trust the CA (only on a lab machine or profile): \`mitm-lab ca info\` prints the exact
commands; \`mitm-lab ca export\` writes the certificate. The CA is name-constrained to lab
names (.test, .localhost, loopback IPs): other sites are tunnelled, never forged.

Events: --events - prints JSON Lines (docs/events.md); the lines above then go to stderr.
Stop with Ctrl-C: sockets are closed and the HAR (--har) is written.
Exit codes: 0 stopped normally, 1 could not start (e.g. port in use), 2 bad options.
`;

export const command: Command = {
  name: 'proxy',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'proxy',
      argv,
      { ...PROXY_OPTIONS, headless: { type: 'boolean' } },
      HELP,
      io,
    );
    if (!parsed) return 0;
    const settings = readProxyOptions(parsed.values, io.env);
    for (const w of settings.warnings) io.stderr.write(`mitm-lab: WARNING: ${w}\n`);
    // JSONL on stdout owns stdout; the readable lines then go to stderr.
    const human = settings.events === '-' ? io.stderr : io.stdout;
    const bus = new EventBus();
    attachHeadlessPrinter(bus, human);
    const launched = await launchProxy(settings, io, { bus });
    const { proxy, ca } = launched;
    human.write(
      `mitm-lab proxy listening on ${proxy.url} (mode ${settings.mode}${settings.auth ? ', password required' : ''})\n` +
        `  CA: ${ca.name}${ca.created ? ' (just created)' : ''} — ${ca.certPath}\n` +
        `  plain HTTP:      curl -x ${proxy.url} http://SITE/\n` +
        `  HTTPS, trusted:  curl -x ${proxy.url} --cacert ${ca.certPath} https://SITE.test/\n` +
        `  Ctrl-C to stop\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    human.write('mitm-lab: stopping…\n');
    await launched.shutdown();
    return 0;
  },
};
