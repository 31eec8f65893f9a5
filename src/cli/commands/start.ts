// `mitm-lab start` (what `npm start` runs): the built-in lab + the proxy in auto mode (upstream
// trusting the lab public root, lab names routed to the lab's loopback ports) + the terminal
// UI when stdin and stdout are a terminal, else the headless printer. Prints a banner first: where the
// proxy is, the CA fingerprint, and commands to copy. Ctrl-C (or q in the UI) stops
// everything: the UI restores the terminal, the proxy closes, the HAR is written, the lab
// servers close.
import path from 'node:path';
import { EventBus } from '../../events/bus.ts';
import {
  GALLERY,
  LAB_ROOT_CN,
  VICTIM_ACCOUNT,
  parseProxyUrl,
  runVictim,
  startLab,
  type RunningLab,
  type VictimProfile,
} from '../../lab/index.ts';
import { attachHeadlessPrinter } from '../../sinks/headless.ts';
import { FlowStore } from '../../store/index.ts';
import { startUi } from '../../ui/index.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';
import {
  launchProxy,
  PROXY_OPTIONS,
  PROXY_OPTIONS_HELP,
  readProxyOptions,
  type LaunchedProxy,
} from '../proxy-options.ts';

/** Ctrl-T: runs the victim tour from inside the terminal UI (a byte no filter text contains). */
const TOUR_KEY = 0x14;
const TOUR_KEY_LABEL = 'Ctrl-T';

const HELP = `mitm-lab start — the built-in lab + the proxy + the terminal UI (what \`npm start\` runs)

Usage: mitm-lab start [options]      (npm start -- [options])

Starts, on this machine only:
  - the lab: bank.test (HTTP and HTTPS: login form, account, bearer-token API, WebSocket
    chat), the index http://lab.test/ and the broken-certificate gallery, with certificates
    from the "${LAB_ROOT_CN}" (it plays the public web PKI);
  - the proxy, in auto mode by default, which routes every lab name to the lab and trusts
    the lab root when it validates upstream servers;
  - the terminal UI when stdin and stdout are a terminal (else one line per event, as with
    --headless).
Then it prints a banner with copy-paste commands for curl, the scripted victim and Chromium.

Options:
${PROXY_OPTIONS_HELP}  --headless             no terminal UI: one line per event on stdout
  -h, --help             this help

The victim tour: ${TOUR_KEY_LABEL} in the terminal UI (or Enter with --headless on a terminal) runs it
in-process — first a normal device, then, on the next press, a compromised one (each tour
first makes auto mode forget refused hosts, so it starts fresh). From another terminal:
\`mitm-lab victim\` or \`mitm-lab demo\` (step by step).

Stop with Ctrl-C (or q in the UI): everything closes and the HAR (--har) is written.
Exit codes: 0 stopped normally, 1 could not start (e.g. port in use), 2 bad options.
`;

export const command: Command = {
  name: 'start',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'start',
      argv,
      { ...PROXY_OPTIONS, headless: { type: 'boolean' } },
      HELP,
      io,
    );
    if (!parsed) return 0;
    const settings = readProxyOptions(parsed.values, io.env);
    const useUi =
      io.stdout.isTTY === true &&
      io.stdin.isTTY === true && // the UI needs a keyboard (q, Ctrl-C, Ctrl-T)
      !parsed.values.headless &&
      settings.events !== '-';
    // JSONL on stdout owns stdout; the human lines then go to stderr.
    const human = settings.events === '-' ? io.stderr : io.stdout;
    for (const w of settings.warnings) io.stderr.write(`mitm-lab: WARNING: ${w}\n`);

    const lab = await startLab({ dir: path.join(settings.caDir, 'lab') });
    const bus = new EventBus();
    const store = useUi ? new FlowStore() : null;
    if (store) bus.on((e) => store.apply(e));
    else attachHeadlessPrinter(bus, human);

    let launched: LaunchedProxy;
    try {
      launched = await launchProxy(settings, io, {
        bus,
        resolve: lab.resolve,
        upstreamCa: [lab.rootPem],
      });
    } catch (err) {
      await lab.close();
      throw err;
    }
    const { proxy, ca } = launched;
    const clientHost = ['0.0.0.0', '::'].includes(proxy.host) ? '127.0.0.1' : proxy.host;
    const proxyUrl = `http://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${proxy.port}`;
    const tourUrl = settings.auth
      ? proxyUrl.replace(
          'http://',
          `http://${encodeURIComponent(settings.auth.user)}:${encodeURIComponent(settings.auth.pass)}@`,
        )
      : proxyUrl;

    // The in-process tour: alternate normal / compromised, each starting fresh.
    const stopping = new AbortController();
    let tourRunning = false;
    let nextProfile: VictimProfile = 'normal';
    const runTour = (print: (line: string) => void): void => {
      if (tourRunning || stopping.signal.aborted) return;
      tourRunning = true;
      const profile = nextProfile;
      nextProfile = profile === 'normal' ? 'compromised' : 'normal';
      proxy.controls.forgetRejected();
      runVictim({
        proxy: parseProxyUrl(tourUrl),
        profile,
        trust: [
          { name: LAB_ROOT_CN, pem: lab.rootPem },
          ...(profile === 'compromised' ? [{ name: ca.name, pem: ca.certPem }] : []),
        ],
        print,
        signal: stopping.signal,
      })
        .catch((err: unknown) => print(`victim tour failed: ${String(err)}`))
        .finally(() => {
          tourRunning = false;
        });
    };

    human.write(
      banner({
        proxyUrl,
        mode: settings.mode,
        caName: ca.name,
        caSha256: ca.summary.sha256,
        caCreated: ca.created,
        caPath: ca.certPath,
        lab,
        ui: useUi,
        stdinTty: io.stdin.isTTY === true,
        caDirFlag: parsed.values['ca-dir'] ? ` --ca-dir ${settings.caDir}` : '',
      }),
    );

    const signal = signalled();
    let stopReason: Promise<unknown> = signal;
    let cleanupInput: () => void = () => undefined;
    let stoppedEarly = false;
    if (useUi && store && io.stdin.isTTY) {
      // Let the banner be read before the UI takes the screen (it comes back on exit).
      human.write('Press Enter to open the live view (Ctrl-C stops)… ');
      stoppedEarly =
        (await Promise.race([waitForEnter(io.stdin), signal.then(() => 'signal')])) === 'signal';
    }
    if (stoppedEarly) {
      // Ctrl-C before the UI opened: nothing more to start.
    } else if (useUi && store) {
      const ui = startUi({
        store,
        controls: proxy.controls,
        info: {
          listen: `${clientHost}:${proxy.port}`,
          caName: ca.name,
          caSha256: ca.summary.sha256,
        },
        stdin: io.stdin,
        stdout: io.stdout,
        source: `lab http://lab.test/  tour ${TOUR_KEY_LABEL}`,
      });
      // The UI owns the keyboard; Ctrl-T is a byte it does not bind, so listening for it next
      // to blessed is safe. The tour's narration would tear the screen: the flows tell it.
      const onData = (chunk: Buffer | string): void => {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (b.length === 1 && b[0] === TOUR_KEY) runTour(() => undefined);
      };
      io.stdin.on('data', onData);
      cleanupInput = () => io.stdin.removeListener('data', onData);
      stopReason = Promise.race([ui.done, signal]).finally(() => ui.destroy());
    } else {
      if (io.stdin.isTTY) {
        const onData = (chunk: Buffer | string): void => {
          if (String(chunk).includes('\n'))
            runTour((line) => void human.write(`victim: ${line}\n`));
        };
        io.stdin.setEncoding('utf8');
        io.stdin.on('data', onData);
        cleanupInput = () => {
          io.stdin.removeListener('data', onData);
          io.stdin.pause();
        };
      }
    }

    await stopReason;
    stopping.abort();
    cleanupInput();
    human.write('mitm-lab: stopping…\n');
    await launched.shutdown();
    await lab.close();
    io.stdin.pause?.();
    human.write('mitm-lab: stopped.\n');
    return 0;
  },
};

interface BannerInfo {
  proxyUrl: string;
  mode: string;
  caName: string;
  caSha256: string;
  caCreated: boolean;
  caPath: string;
  lab: RunningLab;
  ui: boolean;
  stdinTty: boolean;
  caDirFlag: string;
}

/** The banner: where things are, and the first things to try, ready to copy. */
export function banner(b: BannerInfo): string {
  const p = b.proxyUrl;
  const login = `-d user=${VICTIM_ACCOUNT.user} -d password=${VICTIM_ACCOUNT.password}`;
  const tourLine = b.ui
    ? `  Live view:  ${TOUR_KEY_LABEL} runs the victim tour (normal device, then compromised on the next press);\n              q quits, ? lists the keys, f forgets refused hosts.\n`
    : b.stdinTty
      ? '  Press Enter here to run the victim tour (normal device, then compromised on the next press).\n'
      : '';
  return `
mitm-lab — proxy ${p}  (mode ${b.mode})
  CA:   ${b.caName}${b.caCreated ? '  (just created)' : ''}
        SHA-256 ${b.caSha256}
        ${b.caPath}
  Lab:  bank.test, lab.test and ${GALLERY.length} gallery hosts on loopback, routed by the proxy
        (certificates from the "${LAB_ROOT_CN}": ${b.lab.rootPath})

Try, in another terminal:
  1. Plain HTTP: the password crosses in clear, the proxy shows it
     curl -x ${p} ${login} http://bank.test/login
${httpsTries(b.mode, p, login, b.caPath, b.lab.rootPath)}
  The scripted victim:  npx mitm-lab victim${b.caDirFlag} --proxy ${p}   (add --profile compromised)
  Step by step:         npx mitm-lab demo${b.caDirFlag} --proxy ${p}
  A browser:            chromium --proxy-server=${p} --user-data-dir=$(mktemp -d) http://lab.test/
${tourLine}  Stop: Ctrl-C.
`;
}

/** Tries 2 and 3 of the banner: what HTTPS does depends on the mode. */
function httpsTries(mode: string, p: string, login: string, caPath: string, rootPath: string) {
  const trusting = `curl -x ${p} --cacert ${caPath} ${login} https://bank.test/login`;
  const normal = `curl -x ${p} ${login} https://bank.test/login`;
  if (mode === 'eavesdrop')
    return `  2. HTTPS in eavesdrop mode: never forged, the proxy sees only names, sizes and timing
     curl -x ${p} --cacert ${rootPath} ${login} https://bank.test/login
  3. Press m in the UI (or restart with --mode auto) to let the proxy forge certificates`;
  const after =
    mode === 'intercept'
      ? 'every time: intercept mode always forges'
      : 'auto mode then\n     tunnels bank.test and shows only what an eavesdropper sees (press f in the UI to reset)';
  return `  2. HTTPS on a device that trusts the mitm-lab CA: decrypted, password included
     ${trusting}
  3. HTTPS on a normal device: curl refuses the forged certificate (exit 60); ${after}
     ${normal}`;
}

function waitForEnter(stdin: NodeJS.ReadStream): Promise<'enter'> {
  return new Promise((resolve) => {
    const done = (): void => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', done);
      stdin.pause();
      resolve('enter');
    };
    const onData = (chunk: Buffer | string): void => {
      if (String(chunk).includes('\n') || String(chunk).includes('\r')) done();
    };
    stdin.on('data', onData);
    stdin.once('end', done);
    stdin.resume();
  });
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
