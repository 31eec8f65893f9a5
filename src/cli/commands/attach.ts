// `mitm-lab attach URL`: the terminal UI of a running proxy, from its event feed (--feed), on
// another terminal: typically the projector, while the instructor's own terminal keeps the
// proxy. Events are folded into a local flow store and shown by the same UI as `start`: the
// proof that views depend on events only. Read-only: mode, forget and export stay with the
// proxy.
import { followFeed, parseFeedUrl } from '../../feed/index.ts';
import { FlowStore } from '../../store/index.ts';
import { startUi } from '../../ui/index.ts';
import { liveLessons } from '../ui-lessons.ts';
import { LAB_EXPLAIN_CONTEXT } from '../explain-context.ts';
import { UI_OPTIONS } from '../proxy-session.ts';
import { LabError } from '../../util/lab-error.ts';
import { parseCommandArgs, parsePositiveInt } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';

const HELP = `mitm-lab attach - show a running proxy's terminal UI from its event feed

Usage: mitm-lab attach [options] URL

  URL   the feed URL a proxy started with --feed (mitm-lab start --feed, or
        mitm-lab proxy --feed) printed, for example
        ws://127.0.0.1:41234/?token=Xy3...  (loopback only; the token changes every run).
        Headless, the proxy prints "Projector: npx mitm-lab attach '...'"; in its terminal UI
        the same line is on the start page (press g there).

Options:
  --reveal          start with passwords, cookies and tokens shown (default: hidden until r)
  --max-flows N     flows kept in this viewer (default 2000)
  --mouse           let the UI take clicks and the wheel (off by default: it stops the
                    terminal's own text selection)
  -h, --help        this help

What you get: the same screen as \`mitm-lab start\`, replaying what happened before you
attached (the proxy keeps the recent history), then live. Keys: ? lists them. m (mode),
f (forget refused hosts) and e (HAR export) act on the proxy, and t (the victim tour) runs
in start: they are not available here. Quitting the viewer (q) leaves the proxy running.

If the feed drops this viewer (it fell too far behind) or the connection breaks, attach
reconnects by itself (waits of 1, 2, 4, then 5 s; about a minute in all) and shows the
proxy's recent history again; the footer says what is happening. When the proxy stops, the
footer says so and q quits. A restarted proxy has a new feed URL: attach to that one.

Typical use, projector on a second terminal:
  terminal 1:  mitm-lab start --feed            (shows the attach command: g in its UI)
  terminal 2:  npx mitm-lab attach 'ws://127.0.0.1:PORT/?token=...'
Quote the URL: shells treat ? and & specially.

Exit codes: 0 quit, or the proxy stopped; 1 cannot connect (refused, wrong token), or the
feed was lost and reconnecting failed; 2 bad URL or options.
`;

/** How long a reconnect notice stays in the footer (the next one replaces it sooner). */
const RECONNECT_NOTE_MS = 8000;

export const command: Command = {
  name: 'attach',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'attach',
      argv,
      { reveal: { type: 'boolean' }, 'max-flows': { type: 'string' }, ...UI_OPTIONS },
      HELP,
      io,
      1,
    );
    if (!parsed) return 0;
    const urlText = parsed.positionals[0];
    if (!urlText)
      throw new LabError('usage', 'attach needs the feed URL', 'see `mitm-lab attach --help`');
    const url = parseFeedUrl(urlText);
    const maxFlowsText = parsed.values['max-flows'];
    const maxFlows =
      typeof maxFlowsText === 'string'
        ? parsePositiveInt(maxFlowsText, '--max-flows', 1_000_000)
        : 2000;
    const store = new FlowStore({ maxFlows });
    // {proxy} is filled once the feed's hello names it; the CA file is on the proxy's side.
    const fill: Record<string, string> = { ca: '<the mitm-lab CA: npx mitm-lab ca info>' };
    const lessons = liveLessons(fill);
    let skipped = 0;
    // Set once the UI is up; news before that (there is none: the first connect throws) is dropped.
    let status: (text: string) => void = () => {};
    const client = await followFeed(url.href, {
      onEvent: (e) => {
        store.enqueue(e);
        lessons.apply(e);
      },
      onSkipped: (n) => (skipped += n),
      // The feed replays its history on a reconnect: start from it, not from a doubled list.
      onReset: () => {
        store.clear();
        lessons.clear();
      },
      onStatus: (text) => status(text),
    });
    // Connect first: a wrong token or a stopped proxy is the likelier mistake to report.
    if (!io.stdout.isTTY) {
      client.close();
      throw new LabError(
        'runtime',
        'attach shows a terminal UI and stdout is not a terminal',
        'run it in a terminal; for a log of events use --events FILE on the proxy',
      );
    }
    const l = client.hello.listening;
    if (l) fill['proxy'] = `http://${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;
    const ui = startUi({
      lessons,
      readOnlyWhy: 'when attached (use the key on the proxy)',
      store,
      info: {
        listen: l ? `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}` : 'unknown',
        caName: l?.caName ?? '',
        caSha256: l?.caSha256 ?? '',
      },
      stdin: io.stdin,
      stdout: io.stdout,
      source: `attached to ${url.host}`,
      redact: parsed.values['reveal'] !== true,
      mouse: parsed.values.mouse === true,
      explain: LAB_EXPLAIN_CONTEXT,
    });
    status = (text) =>
      ui.notify(text.startsWith('reconnected') ? text : `feed lost: ${text}`, RECONNECT_NOTE_MS);
    let ended: { reason: string; normal: boolean } | null = null;
    void client.ended.then((c) => {
      ended = c;
      ui.notify(
        `feed closed: ${c.reason}${skipped ? ` (${skipped} events skipped)` : ''}. q quits`,
      );
    });
    await ui.done;
    client.close();
    const why = ended as { reason: string; normal: boolean } | null;
    if (why) {
      io.stderr.write(`mitm-lab attach: ${why.reason}\n`);
      return why.normal ? 0 : 1;
    }
    return 0;
  },
};
