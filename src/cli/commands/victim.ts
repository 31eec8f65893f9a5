// `mitm-lab victim`: the scripted victim browses the lab through a running proxy and says, step
// by step, what the client experienced. `demo` reuses everything here and waits between steps.
import { createWriteStream, type WriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { openCa } from '../../ca/index.ts';
import { LAB_ROOT_CN, readLabRoot } from '../../lab/index.ts';
import {
  VICTIM_PROFILES,
  parseProxyUrl,
  runVictim,
  unknownSteps,
  victimStepIds,
  type ProxyAddress,
  type TrustedRoot,
  type VictimOptions,
  type VictimProfile,
  type VictimRecord,
  type VictimSummary,
} from '../../victim/index.ts';
import { LabError } from '../../util/lab-error.ts';
import { defaultCaDir, parseCommandArgs } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';

export const DEFAULT_PROXY_URL = 'http://127.0.0.1:8080';

/** Options shared by `victim` and `demo`. */
export const VICTIM_OPTIONS = {
  proxy: { type: 'string' },
  profile: { type: 'string' },
  events: { type: 'string' },
  'ca-dir': { type: 'string' },
  only: { type: 'string' },
} as const;

export const VICTIM_OPTIONS_HELP = `  --proxy URL            the proxy to browse through (default ${DEFAULT_PROXY_URL});
                         user:pass@ in the URL is sent as Proxy-Authorization
  --profile PROFILE      which device the victim is:
                           normal       trusts only the lab public root, like a healthy
                                        device trusts the public web PKI (default)
                           compromised  also trusts the mitm-lab CA: a corporate or
                                        infected device
  --events FILE|-        write the victim's own record of each step as JSON Lines (see
                         docs/lab.md); - = stdout (the narration then goes to stderr)
  --ca-dir DIR           where the CA and the lab PKI live (default: $MITM_LAB_CA_DIR, else
                         <project>/certs): the same folder \`mitm-lab start\` uses
  --only STEPS           run only these steps (comma-separated):
                         ${victimStepIds()
                           .filter((s) => !s.startsWith('gallery:'))
                           .join(', ')},
                         gallery (every gallery host) or gallery:ID (e.g. gallery:expired)
`;

const HELP = `mitm-lab victim — a scripted victim browses the built-in lab through the proxy

Usage: mitm-lab victim [options]

It logs in to bank.test over plain HTTP, then over HTTPS, uses the bearer-token API and the
WebSocket chat, then visits every host of the broken-certificate gallery. After each step
it prints what the client experienced, in the client's own words (Node's error messages),
what a browser would have shown, and what that means. A step refused on its first attempt
is retried once, like a user pressing reload: in auto mode the proxy then tunnels the host,
so the retry meets the real server.

Options:
${VICTIM_OPTIONS_HELP}  -h, --help             this help

Needs a running proxy with the lab: start \`npm start\` (or \`mitm-lab start\`) in another
terminal first. To see the compromised profile decrypted after a normal run, press f in the
proxy's UI first (auto mode remembers hosts the normal victim refused, and tunnels them).

Examples:
  mitm-lab victim                              the normal device
  mitm-lab victim --profile compromised        a device that trusts the mitm-lab CA
  mitm-lab victim --only http-login,https-login --events victim.jsonl

Exit codes: 0 the tour ran (refusals are the lesson, not failures), 1 the proxy could not be
reached or a step broke for another reason, 2 bad options.
`;

type VictimValues = {
  proxy?: string | undefined;
  profile?: string | undefined;
  events?: string | undefined;
  'ca-dir'?: string | undefined;
  only?: string | undefined;
};

export interface VictimSetup {
  proxy: ProxyAddress;
  profile: VictimProfile;
  trust: TrustedRoot[];
  only: string[] | undefined;
  events: string | null;
}

/** Validate the shared options and load the roots the device trusts. */
export async function prepareVictim(values: VictimValues, io: CommandIO): Promise<VictimSetup> {
  const profile = (values.profile ?? 'normal') as VictimProfile;
  if (!VICTIM_PROFILES.includes(profile))
    throw new LabError(
      'usage',
      `--profile wants ${VICTIM_PROFILES.join(' or ')}, got "${values.profile}"`,
    );
  const proxy = parseProxyUrl(values.proxy ?? DEFAULT_PROXY_URL);
  let only: string[] | undefined;
  if (values.only !== undefined) {
    only = values.only
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = unknownSteps(only);
    if (only.length === 0 || bad.length > 0)
      throw new LabError(
        'usage',
        `--only: unknown step ${bad.map((b) => `"${b}"`).join(', ') || '(none given)'}`,
        `steps: ${victimStepIds().join(', ')}`,
      );
  }
  const caDir = values['ca-dir'] ? path.resolve(values['ca-dir']) : defaultCaDir(io.env);
  const root = readLabRoot(path.join(caDir, 'lab'));
  const trust: TrustedRoot[] = [{ name: LAB_ROOT_CN, pem: root.pem }];
  if (profile === 'compromised') {
    const ca = await openCa({ dir: caDir, create: false });
    trust.push({ name: ca.name, pem: ca.certPem });
  }
  await assertReachable(proxy);
  return { proxy, profile, trust, only, events: values.events ?? null };
}

/** Fail early, with a hint, when nothing listens where the proxy should be. */
async function assertReachable(proxy: ProxyAddress): Promise<void> {
  const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const s = net.connect({ host: proxy.host, port: proxy.port });
    s.setTimeout(3000, () => {
      s.destroy();
      resolve(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    });
    s.once('connect', () => {
      s.end();
      resolve(null);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e));
  });
  if (error)
    throw new LabError(
      'runtime',
      `cannot reach the proxy at ${proxy.url} (${error.code ?? error.message})`,
      'start it first in another terminal: npm start   (or give --proxy URL)',
    );
}

/** Run the tour with the narration on `out` and the JSONL record where --events says. */
export async function runTour(
  setup: VictimSetup,
  io: CommandIO,
  extra: Pick<VictimOptions, 'beforeStep'> = {},
): Promise<VictimSummary> {
  const narration = setup.events === '-' ? io.stderr : io.stdout;
  let file: WriteStream | null = null;
  let record: ((r: VictimRecord) => void) | undefined;
  if (setup.events === '-') record = (r) => void io.stdout.write(`${JSON.stringify(r)}\n`);
  else if (setup.events !== null) {
    const f = createWriteStream(setup.events, { flags: 'w' });
    await new Promise<void>((resolve, reject) => {
      f.once('open', () => resolve());
      f.once('error', (err) =>
        reject(new LabError('usage', `--events ${setup.events}: cannot write it (${err.message})`)),
      );
    });
    file = f;
    record = (r) => void f.write(`${JSON.stringify(r)}\n`);
  }
  try {
    return await runVictim({
      proxy: setup.proxy,
      profile: setup.profile,
      trust: setup.trust,
      print: (line) => void narration.write(`${line}\n`),
      ...(record ? { record } : {}),
      ...(setup.only ? { only: setup.only } : {}),
      ...extra,
    });
  } finally {
    if (file) await new Promise<void>((resolve) => file.end(() => resolve()));
  }
}

/** 0 when every step got an answer (ok, refused, TLS failure, HTTP error); 1 otherwise. */
export function tourExitCode(summary: VictimSummary): number {
  const broken = summary.steps.some((s) => s.outcome === 'proxy-error' || s.outcome === 'timeout');
  return broken ? 1 : 0;
}

export const command: Command = {
  name: 'victim',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs('victim', argv, VICTIM_OPTIONS, HELP, io);
    if (!parsed) return 0;
    const setup = await prepareVictim(parsed.values, io);
    const summary = await runTour(setup, io);
    return tourExitCode(summary);
  },
};
