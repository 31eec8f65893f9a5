// One running proxy session, as `mitm-lab proxy` and `mitm-lab start` both run it: choose the
// terminal UI (stdin and stdout are terminals, no --headless, no JSONL on stdout) or the
// headless printer, wire the flow store, launch the proxy with its sinks and feed, show the
// caller's banner (headless) or start page (UI), run until Ctrl-C / SIGTERM / SIGHUP / q, then
// shut down in order (proxy, HAR, sinks, feed, then the caller's own cleanup such as the lab).
// A second stop signal while stopping writes the HAR at once and exits.
import { EventBus } from '../events/bus.ts';
import type { ResolveRule } from '../proxy/index.ts';
import { attachHeadlessPrinter } from '../sinks/headless.ts';
import type { RunningUi, UiOptions } from '../ui/index.ts';
import { parseCommandArgs } from './args.ts';
import type { CommandIO } from './command.ts';
import {
  launchProxy,
  PROXY_OPTIONS,
  readProxyOptions,
  type LaunchedProxy,
  type ProxySettings,
} from './proxy-options.ts';
import { checkCaDir, checkOutputPaths } from './output-paths.ts';
import { onStopSignal } from './signals.ts';
import { writeUserFile } from './user-files.ts';

/** What the caller knows once the proxy runs, to describe it. */
export interface SessionContext {
  launched: LaunchedProxy;
  /** The proxy as a client should write it, e.g. `http://127.0.0.1:8080`. */
  proxyUrl: string;
  /** `host:port` of the same, for the UI header. */
  clientListen: string;
  /** The terminal UI is shown (else the headless printer). */
  ui: boolean;
  /** stdin is a terminal (headless: Enter can run the tour). */
  stdinTty: boolean;
  /** Aborted when the session stops (e.g. to stop a running tour). */
  signal: AbortSignal;
}

/** How the caller presents its session. */
export interface SessionPage {
  /** Printed before anything else in headless mode (the UI shows `guide` instead). */
  banner: string;
  /** The UI's start page (empty state and `g`): commands to copy, one per line. */
  guide: string[];
  /** A note for the UI header (e.g. `lab http://lab.test/`). */
  source?: string;
  /**
   * The victim tour (start): `t` in the UI, Enter on a headless terminal. `beforeStep` (the UI's
   * tour panel) is awaited before each step; without it the steps run one after the other.
   */
  tour?: (
    print: (line: string) => void,
    beforeStep?: (index: number, total: number, title: string) => Promise<void>,
  ) => Promise<void> | void;
  /** Values for the lessons' `{labRoot}` and other slots beyond `{proxy}` and `{ca}`. */
  fill?: Record<string, string>;
}

export interface SessionOptions {
  settings: ProxySettings;
  io: CommandIO;
  /** --headless was given. */
  headless: boolean;
  /** --mouse was given: clicks and the wheel in the terminal UI. */
  mouse?: boolean;
  /**
   * Added resolve rules and upstream roots (start: the lab's), and the sentence that refuses
   * names no rule covers (start without --online: the offline lab asks no resolver).
   */
  extra?: { resolve?: ResolveRule[]; upstreamCa?: string[]; refuseUnknownNames?: string };
  describe(ctx: SessionContext): SessionPage;
  /** Runs after the proxy closed, or when it failed to start (start: close the lab). */
  cleanup?: () => Promise<void>;
}

/** Options of every command that can show the terminal UI (start, proxy, attach). */
export const UI_OPTIONS = { mouse: { type: 'boolean' } } as const;
export const UI_OPTIONS_HELP = `  --mouse                let the terminal UI take clicks and the wheel (off by default:
                         with it on, the terminal cannot select text to copy)
`;

/** What `proxy` and `start` read from their command line before a session starts. */
export interface SessionArgs {
  settings: ProxySettings;
  headless: boolean;
  mouse: boolean;
  /** --ca-dir was given (so printed commands must repeat it). */
  caDirGiven: boolean;
  /** --online was given (start only: real sites are looked up and reached). */
  online: boolean;
}

/**
 * Parse the options `proxy` and `start` share (the proxy's, the UI's and --headless);
 * null after printing `help` for --help.
 */
export function readSessionArgs(
  command: string,
  argv: string[],
  help: string,
  io: CommandIO,
  accept: { online?: boolean } = {},
): SessionArgs | null {
  const options = {
    ...PROXY_OPTIONS,
    ...UI_OPTIONS,
    headless: { type: 'boolean' },
    ...(accept.online ? { online: { type: 'boolean' as const } } : {}),
  } as const;
  const parsed = parseCommandArgs(command, argv, options, help, io);
  if (!parsed) return null;
  const settings = readProxyOptions(parsed.values, io.env);
  // Before anything starts (the lab, the CA): a bad path is a sentence and exit 2 now, not
  // lost flows at exit.
  checkCaDir(settings.caDir);
  checkOutputPaths(settings);
  return {
    settings,
    headless: parsed.values.headless === true,
    mouse: parsed.values.mouse === true,
    caDirGiven: parsed.values['ca-dir'] !== undefined,
    online: (parsed.values as { online?: boolean }).online === true,
  };
}

/** The line that tells a second terminal how to show this proxy (printed and on the page). */
export function projectorLine(feedUrl: string): string {
  return `Projector: npx mitm-lab attach '${feedUrl}'`;
}

/** Run a proxy session until stopped; resolves to the exit code. */
export async function runProxySession(opts: SessionOptions): Promise<number> {
  const { settings, io } = opts;
  const useUi =
    io.stdout.isTTY === true &&
    io.stdin.isTTY === true && // the UI needs a keyboard (q, t, Ctrl-C)
    !opts.headless &&
    settings.events !== '-';
  // JSONL on stdout owns stdout; the human lines then go to stderr.
  const human = settings.events === '-' ? io.stderr : io.stdout;
  for (const w of settings.warnings) io.stderr.write(`mitm-lab: WARNING: ${w}\n`);

  // The terminal UI (blessed, ~14 MB) is loaded only when it is shown: a headless proxy runs
  // without it (issue 12, idle memory).
  const uiModule = useUi ? import('../ui/index.ts') : null;
  uiModule?.catch(() => undefined); // a failure is reported where it is awaited, below
  // So are what only the UI uses (the flow store, the lessons, the lab gallery's words) and the
  // classroom reporter (--classroom): a headless proxy carries none of them (issue 12, idle
  // memory). Loaded before the proxy starts, so none of them misses an event.
  const [{ liveLessons }, { LAB_EXPLAIN_CONTEXT }] = useUi
    ? await Promise.all([import('./ui-lessons.ts'), import('./explain-context.ts')])
    : [{ liveLessons: null }, { LAB_EXPLAIN_CONTEXT: null }];
  const classroom = settings.classroom ? await import('../classroom/index.ts') : null;
  const bus = new EventBus();
  const store = useUi ? new (await import('../store/index.ts')).FlowStore() : null;
  // The lessons see the same events as the store, from the first (a late subscriber would
  // miss proxy.listening and the first connections).
  const fill: Record<string, string> = {};
  const lessons = liveLessons ? liveLessons(fill) : null;
  if (store) bus.on((e) => store.enqueue(e));
  const printer = store ? null : attachHeadlessPrinter(bus, human);
  /** Our own lines on the printer's stream: after the traffic lines it still holds. */
  const say = (text: string): void => {
    printer?.flush();
    human.write(text);
  };
  if (lessons) bus.on((e) => lessons.apply(e));

  let launched: LaunchedProxy;
  try {
    // With the UI, `e` always has somewhere to write: the --har file, else a new file here.
    launched = await launchProxy(settings, io, { bus, harForExport: useUi, ...opts.extra });
  } catch (err) {
    await opts.cleanup?.();
    throw err;
  }
  const { proxy, feed } = launched;
  const clientHost = ['0.0.0.0', '::'].includes(proxy.host) ? '127.0.0.1' : proxy.host;
  const hostPart = clientHost.includes(':') ? `[${clientHost}]` : clientHost;
  const stopping = new AbortController();
  const page = opts.describe({
    launched,
    proxyUrl: `http://${hostPart}:${proxy.port}`,
    clientListen: `${hostPart}:${proxy.port}`,
    ui: useUi,
    stdinTty: io.stdin.isTTY === true,
    signal: stopping.signal,
  });
  const projector = feed ? projectorLine(feed.url) : null;
  // The classroom: one line says exactly what leaves the machine; its news goes to the UI's
  // footer (or a line, headless) and never holds up the proxy.
  let classroomNews: (text: string) => void = (text) => say(`mitm-lab: ${text}\n`);
  const reporter =
    settings.classroom && classroom
      ? classroom.startClassroomReporter({
          url: settings.classroom.url,
          name: settings.classroom.name,
          bus,
          onStatus: (text) => classroomNews(text),
        })
      : null;
  const classroomLine =
    settings.classroom && classroom
      ? classroom.classroomNotice(settings.classroom.url, settings.classroom.name)
      : null;
  if (classroomLine) io.stderr.write(`mitm-lab: ${classroomLine}\n`);
  Object.assign(
    fill,
    { proxy: `http://${hostPart}:${proxy.port}`, ca: launched.ca.certPath },
    page.fill,
  );

  // One subscription for the whole session: the first stop signal stops it; one more while it
  // is stopping means "now" (see below). Subscribed, the signals never kill the process by
  // themselves, so the HAR is never lost to a second Ctrl-C or a closed terminal.
  let onSignal: (sig: NodeJS.Signals) => void = () => undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  const stopListening = onStopSignal((sig) => onSignal(sig));
  // A terminal that went away (SIGHUP) makes writes to it fail: that must not crash the
  // shutdown that saves the HAR.
  const outputGone = (): void => undefined;
  for (const out of new Set([io.stdout, io.stderr])) out.on?.('error', outputGone);
  let stopReason: Promise<unknown> = signal;
  let cleanupInput: () => void = () => undefined;
  if (uiModule && store && LAB_EXPLAIN_CONTEXT) {
    let ui: RunningUi;
    const tour = page.tour;
    const uiOpts: UiOptions = {
      store,
      controls: proxy.controls,
      explain: LAB_EXPLAIN_CONTEXT,
      info: {
        listen: `${hostPart}:${proxy.port}`,
        caName: launched.ca.name,
        caSha256: launched.ca.summary.sha256,
      },
      stdin: io.stdin,
      stdout: io.stdout,
      mouse: opts.mouse === true,
      // Warnings first (the UI hides what went to stderr before it), then the projector line.
      guide: [
        ...settings.warnings.map((w) => `WARNING: ${w}`),
        ...(classroomLine ? [classroomLine] : []),
        // The command on a line of its own, indented: the start page never wraps it.
        ...(feed
          ? ['Projector (run in a second terminal):', `   npx mitm-lab attach '${feed.url}'`]
          : []),
        ...(settings.warnings.length || projector ? [''] : []),
        ...page.guide,
      ],
      // The narration goes to the UI's tour panel and start page: printing would tear the screen.
      actions: {
        ...(tour ? { tour: (print, beforeStep) => tour(print, beforeStep) } : {}),
        saveText: (text) => writeUserFile('mitm-lab-commands.txt', text),
      },
      ...(lessons ? { lessons } : {}),
    };
    const note = [page.source, feed ? `feed :${feed.port} (g: attach command)` : undefined]
      .filter(Boolean)
      .join('  ');
    if (note) uiOpts.source = note;
    try {
      ui = (await uiModule).startUi(uiOpts);
    } catch (err) {
      // No terminal UI after all: do not leave the proxy (and the lab) running behind the error.
      stopListening();
      await launched.shutdown();
      await opts.cleanup?.();
      throw err;
    }
    const running = ui;
    classroomNews = (text) => running.notify(text, 8000);
    stopReason = Promise.race([running.done, signal]).finally(() => running.destroy());
  } else {
    say(page.banner);
    if (projector) say(`${projector}\n`);
    const tour = page.tour;
    if (tour && io.stdin.isTTY) {
      const onData = (chunk: Buffer | string): void => {
        if (String(chunk).includes('\n')) tour((line) => say(`victim: ${line}\n`));
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
  onSignal = (sig) => {
    say(`mitm-lab: ${sig} again: stopping now\n`);
    const saved = launched.saveHarNow();
    process.exit(saved ? 0 : 1);
  };
  stopping.abort();
  reporter?.close();
  cleanupInput();
  say('mitm-lab: stopping…\n');
  const saved = await launched.shutdown();
  await opts.cleanup?.();
  io.stdin.pause?.();
  stopListening();
  say('mitm-lab: stopped.\n');
  for (const out of new Set([io.stdout, io.stderr])) out.removeListener?.('error', outputGone);
  return saved ? 0 : 1;
}
