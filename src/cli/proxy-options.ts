// The proxy's command-line options, shared by `mitm-lab proxy` and `mitm-lab start` (which
// adds the lab and the terminal UI around the same proxy): the option table for parseArgs,
// their --help lines, turning parsed values into ProxySettings (every mistake a usage
// error naming the option), and `launchProxy`, which opens the CA and the sinks and starts
// the engine — so both commands behave the same way and flush the HAR the same way.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_LEAF_KEY,
  LEAF_KEY_NAMES,
  LEAF_KEY_TYPES,
  openCa,
  type Ca,
  type LeafKeyType,
} from '../ca/index.ts';
import { EventBus } from '../events/bus.ts';
import { CLIENT_TLS_MAXES, MODES, type ClientTlsMax, type Mode } from '../events/types.ts';
import {
  parseAllowTarget,
  parseResolveRule,
  type AllowedTarget,
  startProxy,
  type ResolveRule,
  type RunningProxy,
  parseTamperRules,
  TamperRulesError,
  type TamperRule,
} from '../proxy/index.ts';
import { BANK_TAMPER_RULES } from '../lab/bank-data.ts';
// The feed, the HAR, the key log and the pcap are loaded only when asked for (issue 12, idle
// memory: a proxy that does not use them does not carry their code).
import type { FeedServer } from '../feed/index.ts';
import type { HarRecorder } from '../sinks/har.ts';
import { DEFAULT_EVENTS_MAX_BYTES, openJsonlSink } from '../sinks/jsonl.ts';
import { validName } from '../classroom/protocol.ts';
import { timestampedName } from './user-files.ts';
import { LabError } from '../util/lab-error.ts';
import { governHeap } from '../util/heap-growth.ts';
import { defaultCaDir, parseHostPort } from './args.ts';
import type { CommandIO } from './command.ts';

/** parseArgs option table (spread it into a command's own table). */
export const PROXY_OPTIONS = {
  listen: { type: 'string' },
  mode: { type: 'string' },
  'client-tls-max': { type: 'string' },
  auth: { type: 'string' },
  resolve: { type: 'string', multiple: true },
  'allow-target': { type: 'string', multiple: true },
  'upstream-ca': { type: 'string', multiple: true },
  'insecure-upstream': { type: 'boolean' },
  'ca-dir': { type: 'string' },
  'leaf-key': { type: 'string' },
  events: { type: 'string' },
  'events-max-mb': { type: 'string' },
  fresh: { type: 'boolean' },
  har: { type: 'string' },
  keylog: { type: 'string' },
  pcap: { type: 'string' },
  tamper: { type: 'string' },
  feed: { type: 'boolean' },
  'feed-listen': { type: 'string' },
  classroom: { type: 'string' },
  name: { type: 'string' },
} as const;

/** The --help lines for PROXY_OPTIONS (two-space indent, aligned). */
export const PROXY_OPTIONS_HELP = `  --listen HOST:PORT     where the proxy listens (default 127.0.0.1:8080; port 0 = any free
                         port, the real one is printed). Any non-loopback address must be
                         given explicitly, prints a warning, and should come with --auth
  --mode MODE            what to do with HTTPS (CONNECT) traffic:
                           auto       forge a certificate; if the client refuses it, tunnel
                                      that host from then on (default)
                           intercept  always forge (clients that do not trust the CA fail)
                           eavesdrop  never forge: tunnel, and show what a passive observer sees
  --client-tls-max 1.2|1.3
                         the highest TLS version the proxy offers clients on the forged
                         certificate's leg (default 1.3). With 1.2 the forged certificate
                         crosses the wire in clear, as in every TLS 1.2 handshake; v in the
                         terminal UI switches it for new connections
  --auth USER:PASS       require Proxy-Authorization (Basic); others get 407. After 5 wrong
                         passwords from one address, each further 407 waits (20 ms, doubling
                         every 200 more, at most 1 s; a right password clears the count)
  --resolve NAME[:PORT]=ADDR[:PORT]
                         the proxy resolves NAME (or *.DOMAIN) to ADDR (repeatable); with
                         ports, NAME:PORT goes to ADDR:PORT (bank.test:443=127.0.0.1:41235,
                         what \`mitm-lab lab\` prints). Names under .localhost always resolve
                         to 127.0.0.1
  --allow-target HOST[:PORT]
                         let clients reach HOST (or only HOST:PORT) on the proxy's own machine
                         (repeatable). Unless the proxy listens on 127.0.0.1 or ::1, targets
                         on its own machine (loopback, link-local, its addresses; by address,
                         or by a name that resolves there) get 403 if no --resolve rule or
                         --allow-target names them; the proxy's own address and port get 403
                         always (a loop)
  --upstream-ca FILE     also trust this root (PEM) for upstream servers (repeatable)
  --insecure-upstream    do not validate upstream certificates, nor hold servers to the key,
                         signature and TLS-version policy (NOT recommended: a proxy must
                         not make its users less safe than a direct connection)
  --tamper RULES         change what the proxy relays, as a man in the middle can (exercise 9):
                         RULES is bank (the built-in rules: on bank.test's transfer page and
                         transfer, the attacker's IBAN and amount; the confirmation shows
                         the victim's own) or a JSON file of rules (docs/proxy.md,
                         "Tampering"). Only plain HTTP and decrypted HTTPS can be changed: a
                         client that refuses the forged certificate gets the real bytes or
                         nothing. Changed flows are marked "tampered" in events and the UI
  --ca-dir DIR           the CA folder (default: $MITM_LAB_CA_DIR, else <project>/certs);
                         the CA is created there on first use
  --leaf-key ecdsa|rsa   the key every forged certificate shares: ${LEAF_KEY_NAMES.ecdsa} (default,
                         the cheaper handshake) or ${LEAF_KEY_NAMES.rsa}, for a client that takes only
                         RSA. The CA is the same either way: no new trust needed
  --events FILE|-        write every event as JSON Lines to FILE (- = stdout); see docs/events.md.
                         The file is 0600 (it holds what crossed in clear, passwords too)
  --events-max-mb N      stop writing the --events file when it reaches N MiB, with a last
                         line saying so; the proxy goes on (default ${DEFAULT_EVENTS_MAX_BYTES / 1024 / 1024}; 0 = no limit;
                         not applied to -)
  --fresh                start from a clean lab state: empty the --events file instead of
                         appending to it, so \`mitm-lab check\` counts only this session (in
                         the UI, R resets a running session the same way)
  --har FILE             write a HAR 1.2 file of the HTTP flows on exit (Ctrl-C, SIGTERM, a
                         closed terminal, q; a second Ctrl-C writes it at once and exits)
  --keylog FILE          append TLS secrets in SSLKEYLOGFILE format (both legs), for Wireshark
                         (0600)
  --pcap FILE            write both legs of every connection (client <-> proxy, proxy <->
                         server) as pcapng for Wireshark / tshark (0600; the bounded wire
                         capture, framed as TCP). With the --keylog file, tshark -r FILE -o
                         tls.keylog_file:KEYS -Y http shows the decrypted requests on both legs.
                         --events, --har, --keylog and --pcap must be in an existing folder,
                         outside the CA folder (checked at start)
  --feed                 serve the events to \`mitm-lab attach\` (a projector on another
                         terminal): prints "Projector: npx mitm-lab attach 'ws://127.0.0.1:PORT/?token=…'"
                         (loopback only, a new random token each run)
  --feed-listen HOST:PORT
                         where the feed listens (implies --feed; loopback addresses only;
                         default 127.0.0.1:0 = any free port)
  --classroom URL        report your lesson progress to the instructor's \`mitm-lab classroom\`
                         (the ws://…?token=… URL it shows; needs --name). Only which lab
                         checkpoints are done and counts of flows by badge leave the machine
                         (printed at start; see docs/classroom.md); reconnects by itself
  --name NAME            your name in the classroom (1-32 letters, digits, space . _ ' -)
`;

type ProxyValues = {
  listen?: string | undefined;
  mode?: string | undefined;
  'client-tls-max'?: string | undefined;
  auth?: string | undefined;
  resolve?: string[] | undefined;
  'allow-target'?: string[] | undefined;
  'upstream-ca'?: string[] | undefined;
  'insecure-upstream'?: boolean | undefined;
  'ca-dir'?: string | undefined;
  'leaf-key'?: string | undefined;
  events?: string | undefined;
  'events-max-mb'?: string | undefined;
  fresh?: boolean | undefined;
  har?: string | undefined;
  keylog?: string | undefined;
  pcap?: string | undefined;
  tamper?: string | undefined;
  feed?: boolean | undefined;
  'feed-listen'?: string | undefined;
  classroom?: string | undefined;
  name?: string | undefined;
};

/** What the options say, validated. */
export interface ProxySettings {
  host: string;
  port: number;
  mode: Mode;
  /** `--client-tls-max`: the highest TLS version offered on the forged leg. */
  clientTlsMax: ClientTlsMax;
  auth: { user: string; pass: string } | null;
  resolve: ResolveRule[];
  /** `--allow-target`: targets on the proxy's own machine clients may reach anyway. */
  allowTargets: AllowedTarget[];
  /** PEM text of each --upstream-ca file. */
  upstreamCa: string[];
  insecureUpstream: boolean;
  caDir: string;
  /** The key the forged leaves share (--leaf-key). */
  leafKey: LeafKeyType;
  /** JSONL target: a path, `-` (stdout), or null. */
  events: string | null;
  /** The events file stops at this many bytes (0 = no limit). */
  eventsMaxBytes: number;
  /** `--fresh`: the events file is emptied at start rather than appended to. */
  fresh: boolean;
  har: string | null;
  keylog: string | null;
  /** `--tamper RULES`: the rules (built-in `bank` or a file), and the name it was given by. */
  tamper: { source: string; rules: TamperRule[] } | null;
  /** `--pcap FILE`: both legs as pcapng, or null. */
  pcap: string | null;
  /** `--classroom URL --name NAME`: where to report lesson progress, or null. */
  classroom: { url: string; name: string } | null;
  /** Where the event feed listens (--feed / --feed-listen), or null: no feed. */
  feed: { host: string; port: number } | null;
  /** Sentences to print before starting (non-loopback listen, insecure upstream). */
  warnings: string[];
}

export const DEFAULT_LISTEN = '127.0.0.1:8080';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === 'localhost';
}

/** Validate parsed option values. Throws a usage LabError naming the option. */
export function readProxyOptions(values: ProxyValues, env: NodeJS.ProcessEnv): ProxySettings {
  const warnings: string[] = [];
  const listen = parseHostPort(values.listen ?? DEFAULT_LISTEN, '--listen');
  const mode = (values.mode ?? 'auto') as Mode;
  if (!MODES.includes(mode)) {
    throw new LabError('usage', `--mode wants one of ${MODES.join(', ')}, got "${values.mode}"`);
  }
  const clientTlsMax = (values['client-tls-max'] ?? '1.3') as ClientTlsMax;
  if (!CLIENT_TLS_MAXES.includes(clientTlsMax))
    throw new LabError(
      'usage',
      `--client-tls-max wants 1.2 or 1.3, got "${values['client-tls-max']}"`,
      'for example --client-tls-max 1.2 (the forged certificate then crosses the wire in clear)',
    );
  let auth: ProxySettings['auth'] = null;
  if (values.auth !== undefined) {
    const i = values.auth.indexOf(':');
    if (i <= 0 || i === values.auth.length - 1) {
      throw new LabError(
        'usage',
        '--auth wants USER:PASS (both non-empty)',
        'for example --auth student:s3cret',
      );
    }
    auth = { user: values.auth.slice(0, i), pass: values.auth.slice(i + 1) };
  }
  if (!isLoopback(listen.host)) {
    warnings.push(
      `listening on ${listen.host}:${listen.port}: anyone who can reach this address can use the proxy` +
        (auth ? '' : ' (add --auth USER:PASS to require a password)'),
    );
  }
  const resolve = (values.resolve ?? []).map(parseResolveRule);
  const allowTargets = (values['allow-target'] ?? []).map((text) => {
    const t = parseAllowTarget(text);
    if (!t)
      throw new LabError(
        'usage',
        `--allow-target wants HOST[:PORT] (port 1-65535), got "${text}"`,
        'for example --allow-target 127.0.0.1:5432 or --allow-target [::1]:8000',
      );
    return t;
  });
  const upstreamCa = (values['upstream-ca'] ?? []).map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new LabError(
        'usage',
        `--upstream-ca ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
    if (!text.includes('-----BEGIN CERTIFICATE-----')) {
      throw new LabError(
        'usage',
        `--upstream-ca ${file}: no PEM certificate in it`,
        'convert DER with: openssl x509 -inform der -in FILE -out FILE.pem',
      );
    }
    return text;
  });
  const insecureUpstream = values['insecure-upstream'] === true;
  if (insecureUpstream) {
    warnings.push(
      'UPSTREAM CERTIFICATES ARE NOT VALIDATED (--insecure-upstream): anyone between this proxy and ' +
        'the servers can impersonate them, and clients behind the proxy cannot tell',
    );
  }
  let feed: ProxySettings['feed'] = null;
  if (values['feed-listen'] !== undefined) {
    feed = parseHostPort(values['feed-listen'], '--feed-listen');
    if (!isLoopback(feed.host))
      throw new LabError(
        'usage',
        `--feed-listen ${values['feed-listen']}: the event feed listens on loopback only`,
        'use 127.0.0.1:PORT (attach from a terminal on the same machine)',
      );
  } else if (values.feed === true) feed = { host: '127.0.0.1', port: 0 };
  const classroom = readClassroom(values.classroom, values.name);
  const leafKey = (values['leaf-key'] ?? DEFAULT_LEAF_KEY) as LeafKeyType;
  if (!LEAF_KEY_TYPES.includes(leafKey))
    throw new LabError(
      'usage',
      `--leaf-key wants ${LEAF_KEY_TYPES.join(' or ')}, got "${values['leaf-key']}"`,
      'for example --leaf-key rsa (for a client that accepts only RSA certificates)',
    );
  const tamper = values.tamper !== undefined ? readTamper(values.tamper) : null;
  if (tamper)
    warnings.push(
      `--tamper ${tamper.source}: this proxy CHANGES what it relays on plain-HTTP and decrypted flows (rules: ${tamper.rules.map((r) => r.name).join(', ')})`,
    );
  let eventsMaxBytes = DEFAULT_EVENTS_MAX_BYTES;
  const maxMb = values['events-max-mb'];
  if (maxMb !== undefined) {
    const n = Number(maxMb);
    if (!/^\d+(\.\d+)?$/.test(maxMb.trim()) || !Number.isFinite(n))
      throw new LabError(
        'usage',
        `--events-max-mb wants a number of MiB (0 = no limit), got "${maxMb}"`,
        'for example --events-max-mb 64',
      );
    // Whole bytes, never past N MiB (rounding 0.05 MiB up to 52,429 bytes let a file end 0.2
    // byte over it); a limit above 0 stays one (0 alone means none).
    eventsMaxBytes = n > 0 ? Math.max(1, Math.floor(n * 1024 * 1024)) : 0;
  }
  return {
    host: listen.host,
    port: listen.port,
    mode,
    clientTlsMax,
    auth,
    resolve,
    allowTargets,
    upstreamCa,
    insecureUpstream,
    caDir: values['ca-dir'] ? path.resolve(values['ca-dir']) : defaultCaDir(env),
    leafKey,
    events: values.events ?? null,
    eventsMaxBytes,
    fresh: values.fresh === true,
    har: values.har ?? null,
    keylog: values.keylog ?? null,
    pcap: values.pcap ?? null,
    tamper,
    feed,
    classroom,
    warnings,
  };
}

/** `--tamper bank` (the lab's built-in rules) or `--tamper FILE` (JSON), checked. */
function readTamper(value: string): { source: string; rules: TamperRule[] } {
  if (value === 'bank') return { source: 'bank', rules: BANK_TAMPER_RULES.map((r) => ({ ...r })) };
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (err) {
    throw new LabError(
      'usage',
      `--tamper ${value}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      'give --tamper bank (the built-in rules) or a JSON rules file, see docs/proxy.md "Tampering"',
    );
  }
  try {
    return { source: value, rules: parseTamperRules(text, `--tamper ${value}`) };
  } catch (err) {
    if (err instanceof TamperRulesError) throw new LabError('usage', err.message);
    throw err;
  }
}

/** `--classroom URL --name NAME`, checked: a ws:// URL with a token, and a showable name. */
function readClassroom(
  url: string | undefined,
  name: string | undefined,
): ProxySettings['classroom'] {
  if (url === undefined && name === undefined) return null;
  if (url === undefined)
    throw new LabError(
      'usage',
      '--name is for the classroom and needs --classroom URL',
      "for example --classroom 'ws://192.168.1.10:4000/?token=…' --name Ada",
    );
  if (name === undefined)
    throw new LabError(
      'usage',
      '--classroom needs --name NAME: the name the instructor sees',
      'for example --name Ada',
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LabError(
      'usage',
      `--classroom ${url}: not a URL`,
      'copy the join command the instructor shows (ws://HOST:PORT/?token=…)',
    );
  }
  if (parsed.protocol !== 'ws:' || !parsed.port || !parsed.searchParams.get('token'))
    throw new LabError(
      'usage',
      `--classroom ${url}: wants ws://HOST:PORT/?token=…`,
      'copy the join command the instructor shows',
    );
  if (!validName(name))
    throw new LabError(
      'usage',
      `--name "${name}": use 1-32 letters, digits, spaces or . _ ' -, starting with a letter or digit`,
      'for example --name Ada',
    );
  return { url, name };
}

export interface LaunchedProxy {
  proxy: RunningProxy;
  ca: Ca;
  bus: EventBus;
  /** Null without --har. */
  har: HarRecorder | null;
  /** The event feed (--feed), or null. Closed by shutdown(). */
  feed: FeedServer | null;
  /**
   * Close the proxy, write the HAR, flush the sinks. Idempotent. False when the HAR could not
   * be written (the session then exits 1: the flows are lost, and that must not look like 0).
   */
  shutdown(): Promise<boolean>;
  /**
   * Write the HAR now, synchronously (a second Ctrl-C: the process exits right after). False
   * when it could not be written. True without --har.
   */
  saveHarNow(): boolean;
}

/**
 * Open the CA, the sinks (--events, --har, --keylog, --pcap) and start the proxy. `extra` adds the
 * lab's resolve rules and roots (for `start`). Subscribe your own listeners to `bus` (pass it
 * in) before calling, so nothing emitted at start is missed.
 */
export async function launchProxy(
  settings: ProxySettings,
  io: CommandIO,
  extra: {
    bus?: EventBus;
    /**
     * Record a HAR even without --har, so the UI's `e` writes one (to a new file in the working
     * folder, see user-files.ts). Nothing is written at exit without --har.
     */
    harForExport?: boolean;
    resolve?: ResolveRule[];
    upstreamCa?: string[];
    refuseUnknownNames?: string;
  } = {},
): Promise<LaunchedProxy> {
  const bus = extra.bus ?? new EventBus();
  const ca = await openCa({ dir: settings.caDir, leafKey: settings.leafKey });
  const closers: (() => Promise<void> | void)[] = [];
  // The heap's growth: held down while many clients are connected, and by what survives
  // (src/util/heap-growth.ts).
  closers.push(governHeap(bus));
  if (settings.events !== null) {
    const sink = openJsonlSink(settings.events, bus, {
      stdout: io.stdout,
      maxBytes: settings.eventsMaxBytes,
      truncate: settings.fresh,
      limitLabel: `--events-max-mb ${mebibytes(settings.eventsMaxBytes)}`,
    });
    closers.push(() => sink.close());
  }
  const har =
    settings.har !== null || extra.harForExport === true
      ? new (await import('../sinks/har.ts')).HarRecorder(bus)
      : null;
  const keylog =
    settings.keylog !== null
      ? (await import('../sinks/keylog.ts')).openKeylogSink(settings.keylog)
      : null;
  if (keylog) closers.push(() => keylog.close());
  // After the proxy closed (closers run then), so the last connections' conn.close are in it.
  const pcap =
    settings.pcap !== null
      ? (await import('../sinks/pcap.ts')).openPcapSink(settings.pcap, bus)
      : null;
  if (pcap) closers.push(() => pcap.close());
  let proxy: RunningProxy;
  let feed: FeedServer | null = null;
  try {
    // Before the proxy, so the feed's history starts with proxy.listening (attach's header).
    if (settings.feed) {
      const { startFeedServer } = await import('../feed/index.ts');
      const server = await startFeedServer({ bus, ...settings.feed });
      feed = server;
      closers.push(() => server.close());
    }
    proxy = await startProxy({
      host: settings.host,
      port: settings.port,
      mode: settings.mode,
      clientTlsMax: settings.clientTlsMax,
      ca,
      bus,
      ...(settings.auth ? { auth: settings.auth } : {}),
      resolve: [...settings.resolve, ...(extra.resolve ?? [])],
      allowTargets: settings.allowTargets,
      upstreamCa: [...settings.upstreamCa, ...(extra.upstreamCa ?? [])],
      insecureUpstream: settings.insecureUpstream,
      ...(extra.refuseUnknownNames !== undefined
        ? { refuseUnknownNames: extra.refuseUnknownNames }
        : {}),
      ...(keylog ? { keylog: keylog.write.bind(keylog) } : {}),
      pcap: pcap !== null,
      ...(settings.tamper ? { tamper: settings.tamper.rules } : {}),
    });
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
  if (har && settings.har) {
    const file = settings.har;
    proxy.controls.exportHar = async () => {
      await har.writeTo(file);
      return file;
    };
  } else if (har) {
    proxy.controls.exportHar = async () => {
      const file = path.resolve(timestampedName('mitm-lab', 'har'));
      try {
        await har.writeTo(file);
        return file;
      } catch {
        // The working folder is not writable: the temporary one is.
        const fallback = path.join(os.tmpdir(), path.basename(file));
        await har.writeTo(fallback);
        return fallback;
      }
    };
  }
  const harFailed = (err: unknown): boolean => {
    io.stderr.write(
      `mitm-lab: could not write the HAR to ${settings.har}: ${err instanceof Error ? err.message : String(err)}\n` +
        '  its flows are lost; give --har a path in a folder that exists and stays writable\n',
    );
    return false;
  };
  let done: Promise<boolean> | null = null;
  const shutdown = (): Promise<boolean> =>
    (done ??= (async () => {
      await proxy.close();
      let ok = true;
      if (har && settings.har) {
        try {
          await har.writeTo(settings.har);
          io.stderr.write(`mitm-lab: HAR written to ${settings.har}\n`);
        } catch (err) {
          ok = harFailed(err);
        }
      }
      for (const close of closers) await close();
      return ok;
    })());
  const saveHarNow = (): boolean => {
    if (!har || !settings.har) return true;
    try {
      har.writeToSync(settings.har);
      io.stderr.write(`mitm-lab: HAR written to ${settings.har}\n`);
      return true;
    } catch (err) {
      return harFailed(err);
    }
  };
  return { proxy, ca, bus, har, feed, shutdown, saveHarNow };
}

/** A byte limit as the MiB a user would have typed: `52428` → `0.05`, `268435456` → `256`. */
export function mebibytes(bytes: number): string {
  return String(Number((bytes / 1024 / 1024).toFixed(4)));
}
