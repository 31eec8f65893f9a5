// `mitm-lab start` (what `npm start` runs): the built-in lab + the proxy in auto mode (upstream
// trusting the lab public root, lab names routed to the lab's loopback ports) + the terminal
// UI at once when stdin and stdout are a terminal (its start page shows the commands to
// copy, `t` runs the victim tour), else the headless printer after a banner with the same
// commands. The session itself (UI or headless, feed, shutdown) is shared with `mitm-lab
// proxy` in ../proxy-session.ts; this file adds the lab, the banner and the tour.
import path from 'node:path';
import {
  GALLERY,
  LAB_ROOT_CN,
  VICTIM_ACCOUNT,
  startLab,
  type RunningLab,
} from '../../lab/index.ts';
import { chromiumCommand } from '../../lessons/index.ts';
import { parseProxyUrl, runVictim, type VictimProfile } from '../../victim/index.ts';
import type { Command, CommandIO } from '../command.ts';
import { PROXY_OPTIONS_HELP } from '../proxy-options.ts';
import { readSessionArgs, runProxySession, UI_OPTIONS_HELP } from '../proxy-session.ts';

const HELP = `mitm-lab start — the built-in lab + the proxy + the terminal UI (what \`npm start\` runs)

Usage: mitm-lab start [options]      (npm start -- [options])

Starts, on this machine only:
  - the lab: bank.test (HTTP and HTTPS: login form, account, bearer-token API, WebSocket
    chat), the index http://lab.test/ and the broken-certificate gallery, with certificates
    from the "${LAB_ROOT_CN}" (it plays the public web PKI);
  - the proxy, in auto mode by default, which routes every lab name to the lab and trusts
    the lab root when it validates upstream servers. It is offline: a name outside the lab
    (and outside --resolve) gets a 502 at once ("not a lab name") and no DNS query is sent
    (a browser's background requests included); --online reaches real sites;
  - the terminal UI at once when stdin and stdout are a terminal. Its start page (shown
    while there are no flows, and at any time with g) has the commands to copy: curl over
    HTTP, HTTPS without and with --cacert, the victim, Chromium. Otherwise (or --headless)
    it prints the same commands as a banner, then one line per event.

Options:
${PROXY_OPTIONS_HELP}  --online               also reach real sites (looked up with the system resolver); without
                         it, names outside the lab are refused at once and nothing is looked up
  --headless             no terminal UI: the banner, then one line per event on stdout
${UI_OPTIONS_HELP}  -h, --help             this help

The victim tour: t in the terminal UI (or Enter with --headless on a terminal) runs the
scripted victim in-process — first a normal device, then, on the next press, a compromised
one (each tour first makes auto mode forget refused hosts, so it starts fresh). Each step's
result shows in the UI's footer and on the start page (g). From another terminal:
\`mitm-lab victim\` or \`mitm-lab demo\` (step by step).

A projector: add --feed, then run the printed \`npx mitm-lab attach '…'\` (g shows it in the UI).

Stop with Ctrl-C (or q in the UI, SIGTERM, or closing the terminal): everything closes and
the HAR (--har) is written; a second Ctrl-C while stopping writes it at once and exits.
Exit codes: 0 stopped normally, 1 could not start (e.g. port in use) or could not write the
HAR, 2 bad options (bad paths included: they are checked before anything starts).
`;

/**
 * What a client asking the offline lab for a real site reads (in the 502 and the event): no
 * resolver is asked, so a classroom without internet answers at once and a browser's
 * background hosts leak no DNS queries.
 */
export const OFFLINE_REFUSAL =
  'not a lab name: mitm-lab start is offline; use --online to reach real sites';

export const command: Command = {
  name: 'start',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const args = readSessionArgs('start', argv, HELP, io, { online: true });
    if (!args) return 0;
    const { settings } = args;
    const lab = await startLab({ dir: path.join(settings.caDir, 'lab') });
    return runProxySession({
      settings,
      io,
      headless: args.headless,
      mouse: args.mouse,
      extra: {
        resolve: lab.resolve,
        upstreamCa: [lab.rootPem],
        ...(args.online ? {} : { refuseUnknownNames: OFFLINE_REFUSAL }),
      },
      cleanup: () => lab.close(),
      describe: (ctx) => {
        const { proxy, ca } = ctx.launched;
        const tourUrl = settings.auth
          ? ctx.proxyUrl.replace(
              'http://',
              `http://${encodeURIComponent(settings.auth.user)}:${encodeURIComponent(settings.auth.pass)}@`,
            )
          : ctx.proxyUrl;
        // The in-process tour: alternate normal / compromised, each starting fresh.
        let tourRunning = false;
        let nextProfile: VictimProfile = 'normal';
        const tour = (
          print: (line: string) => void,
          beforeStep?: (index: number, total: number, title: string) => Promise<void>,
        ): Promise<void> => {
          if (ctx.signal.aborted) return Promise.resolve();
          if (tourRunning) {
            print('the victim tour is still running: wait for its last step');
            return Promise.resolve();
          }
          tourRunning = true;
          const profile = nextProfile;
          nextProfile = profile === 'normal' ? 'compromised' : 'normal';
          const n = proxy.controls.forgetRejected();
          print(
            `victim tour: a ${profile} device${n ? ` (forgot ${n} refused host${n === 1 ? '' : 's'} first)` : ''}`,
          );
          return runVictim({
            proxy: parseProxyUrl(tourUrl),
            profile,
            trust: [
              { name: LAB_ROOT_CN, pem: lab.rootPem },
              ...(profile === 'compromised' ? [{ name: ca.name, pem: ca.certPem }] : []),
            ],
            print,
            signal: ctx.signal,
            ...(beforeStep ? { beforeStep } : {}),
          })
            .then(() => {
              if (!ctx.signal.aborted)
                print(`victim tour done (${profile}); t runs the ${nextProfile} device next`);
            })
            .catch((err: unknown) => print(`victim tour failed: ${String(err)}`))
            .finally(() => {
              tourRunning = false;
            });
        };
        const info: BannerInfo = {
          proxyUrl: ctx.proxyUrl,
          mode: settings.mode,
          caName: ca.name,
          caSha256: ca.summary.sha256,
          caCreated: ca.created,
          caPath: ca.certPath,
          lab,
          ui: ctx.ui,
          stdinTty: ctx.stdinTty,
          caDirFlag: args.caDirGiven ? ` --ca-dir ${settings.caDir}` : '',
        };
        return {
          banner: banner(info),
          guide: guideLines(info),
          source: 'lab http://lab.test/',
          tour,
          fill: { labRoot: lab.rootPath },
        };
      },
    });
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

/** The commands worth copying, shared by the banner and the UI's start page. */
function tries(b: BannerInfo): { title: string; command: string }[] {
  const p = b.proxyUrl;
  const login = `-d user=${VICTIM_ACCOUNT.user} -d password=${VICTIM_ACCOUNT.password}`;
  const list = [
    {
      title: '1. Plain HTTP: the password crosses in clear, the proxy shows it',
      command: `curl -x ${p} ${login} http://bank.test/login`,
    },
  ];
  if (b.mode === 'eavesdrop') {
    list.push(
      {
        title:
          '2. HTTPS in eavesdrop mode: never forged, the proxy sees only names, sizes and timing',
        command: `curl -x ${p} --cacert ${b.lab.rootPath} ${login} https://bank.test/login`,
      },
      {
        title:
          '3. Press m in the UI (or restart with --mode auto) to let the proxy forge certificates',
        command: '',
      },
    );
  } else {
    const after =
      b.mode === 'intercept'
        ? 'every time: intercept mode always forges'
        : 'auto mode then tunnels bank.test and shows only what an eavesdropper sees (press f in the UI to reset)';
    list.push(
      {
        title: '2. HTTPS on a device that trusts the mitm-lab CA: decrypted, password included',
        command: `curl -x ${p} --cacert ${b.caPath} ${login} https://bank.test/login`,
      },
      {
        title: `3. HTTPS on a normal device: curl refuses the forged certificate (exit 60); ${after}`,
        command: `curl -x ${p} ${login} https://bank.test/login`,
      },
    );
  }
  list.push(
    {
      title: 'The scripted victim (add --profile compromised):',
      command: `npx mitm-lab victim${b.caDirFlag} --proxy ${p}`,
    },
    { title: 'Step by step:', command: `npx mitm-lab demo${b.caDirFlag} --proxy ${p}` },
    {
      title: 'A browser:',
      command: chromiumCommand(p, 'http://lab.test/'),
    },
  );
  return list;
}

/** The UI's start page: the banner's content, one command per line. */
export function guideLines(b: BannerInfo): string[] {
  return [
    `Proxy ${b.proxyUrl} (mode ${b.mode})   CA ${b.caName}`,
    `CA SHA-256 ${b.caSha256}`,
    `CA certificate ${b.caPath}`,
    `Lab public root (what the lab's real sites are signed by) ${b.lab.rootPath}`,
    '',
    ...tries(b).flatMap((t) => (t.command ? [t.title, `   ${t.command}`] : [t.title])),
    '',
    'The victim tour, here: press t. It goes step by step in a panel: Enter runs each step',
    '(a normal device; t again: a compromised one).',
    'The lessons (docs/labs/): press l for every exercise, ticked as you do it.',
    'g shows this page again; q quits.',
  ];
}

/** The banner: where things are, and the first things to try, ready to copy. */
export function banner(b: BannerInfo): string {
  const p = b.proxyUrl;
  const tourLine = b.stdinTty
    ? '  Press Enter here to run the victim tour (normal device, then compromised on the next press).\n'
    : '';
  const lines = tries(b)
    .map((t) => `  ${t.title}${t.command ? `\n     ${t.command}` : ''}`)
    .join('\n');
  return `
mitm-lab — proxy ${p}  (mode ${b.mode})
  CA:   ${b.caName}${b.caCreated ? '  (just created)' : ''}
        SHA-256 ${b.caSha256}
        ${b.caPath}
  Lab:  bank.test, lab.test and ${GALLERY.length} gallery hosts on loopback, routed by the proxy
        (certificates from the "${LAB_ROOT_CN}": ${b.lab.rootPath})

Try, in another terminal:
${lines}
${tourLine}  Stop: Ctrl-C.
`;
}
