// `mitm-lab replay FILE`: the terminal UI on an events file a proxy wrote with --events — the
// same flows, lessons (l) and leak report (w) as the live session, so an instructor has a
// recorded demo when the live one fails, and `check`, `report` and the UI agree on one file.
// Read-only: the keys that act on a proxy say there is none.
import { FlowStore } from '../../store/index.ts';
import { startUi } from '../../ui/index.ts';
import { LabError, usageError } from '../../util/lab-error.ts';
import { parseCommandArgs, parsePositiveInt } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';
import { readEventsFile } from '../events-file.ts';
import { LAB_EXPLAIN_CONTEXT } from '../explain-context.ts';
import { UI_OPTIONS, UI_OPTIONS_HELP } from '../proxy-session.ts';
import { liveLessons } from '../ui-lessons.ts';

const HELP = `mitm-lab replay — the terminal UI on a recorded events file

Usage: mitm-lab replay [options] FILE

Opens the same terminal UI as \`mitm-lab start\` on an events file written by
\`mitm-lab start --events FILE\` (or proxy): every flow, the five views, the Lessons panel (l)
and what HTTPS does not hide (w), as they were. Keep one from a rehearsal: when the live demo
fails in the room, replay it. \`mitm-lab check\` and \`mitm-lab report\` read the same file and
agree with what the UI shows.

Nothing runs: the keys that act on a proxy (m, f, R, t) say so. A file still being written
(its last line unfinished) is read up to its last whole line.

Options:
  --speed N      play the events at N times the recorded pace (gaps longer than 2 s are cut
                 to 2 s); default: everything at once
  --reveal       show passwords, cookies and tokens from the start (hidden by default: r
                 toggles them)
  --max-flows N  flows kept in the list (default 2000; the oldest go first)
${UI_OPTIONS_HELP}  -h, --help     this help

Example:
  npx mitm-lab start --events lab.jsonl      (the rehearsal; q quits)
  npx mitm-lab replay lab.jsonl              (in the room)

Exit codes: 0 quit, 1 stdout is not a terminal, 2 a usage error (no file, not an events file).
`;

/** Longest pause of a paced replay, ms: a coffee break in the recording is not replayed. */
const MAX_GAP_MS = 2000;

export const command: Command = {
  name: 'replay',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'replay',
      argv,
      {
        speed: { type: 'string' },
        reveal: { type: 'boolean' },
        'max-flows': { type: 'string' },
        ...UI_OPTIONS,
      },
      HELP,
      io,
      1,
    );
    if (!parsed) return 0;
    const file = parsed.positionals[0];
    if (!file)
      throw usageError(
        'replay needs an events file',
        'for example: npx mitm-lab replay lab.jsonl (written by start --events lab.jsonl)',
      );
    let speed = 0;
    const speedText = parsed.values.speed;
    if (typeof speedText === 'string') {
      speed = Number(speedText);
      if (!/^\d+(\.\d+)?$/.test(speedText.trim()) || !(speed > 0))
        throw usageError(`--speed wants a positive number, got "${speedText}"`, 'e.g. --speed 2');
    }
    const maxFlowsText = parsed.values['max-flows'];
    const maxFlows =
      typeof maxFlowsText === 'string'
        ? parsePositiveInt(maxFlowsText, '--max-flows', 1_000_000)
        : 2000;
    const { events, truncatedLastLine } = readEventsFile(file);
    if (!io.stdout.isTTY)
      throw new LabError(
        'runtime',
        'replay shows a terminal UI and stdout is not a terminal',
        `run it in a terminal; for text, try: npx mitm-lab report --events ${file}`,
      );

    const store = new FlowStore({ maxFlows });
    const l = events.find((e) => e.type === 'proxy.listening');
    const listen = l ? `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}` : 'recorded';
    const lessons = liveLessons({
      proxy: `http://${listen}`,
      ca: '<the mitm-lab CA: npx mitm-lab ca info>',
    });
    const feed = (i: number): void => {
      const e = events[i]!;
      store.enqueue(e);
      lessons.apply(e);
    };
    if (speed === 0) for (let i = 0; i < events.length; i++) feed(i);

    const ui = startUi({
      store,
      lessons,
      readOnlyWhy: 'in a replay (nothing runs: it is a recording)',
      info: {
        listen,
        caName: l?.type === 'proxy.listening' ? l.caName : '',
        caSha256: l?.type === 'proxy.listening' ? l.caSha256 : '',
      },
      stdin: io.stdin,
      stdout: io.stdout,
      source: `replay of ${file} (${events.length} events${truncatedLastLine ? ', last line unfinished' : ''})`,
      redact: parsed.values.reveal !== true,
      mouse: parsed.values.mouse === true,
      explain: LAB_EXPLAIN_CONTEXT,
    });

    // Paced: each event after the recorded gap (divided by the speed, at most MAX_GAP_MS).
    let timer: ReturnType<typeof setTimeout> | null = null;
    if (speed > 0) {
      let i = 0;
      const next = (): void => {
        timer = null;
        if (i >= events.length) {
          ui.notify('replay: the end of the recording. q quits', 10_000);
          return;
        }
        feed(i);
        const gap =
          i + 1 < events.length ? Date.parse(events[i + 1]!.at) - Date.parse(events[i]!.at) : 0;
        i++;
        timer = setTimeout(next, Math.min(MAX_GAP_MS, Math.max(0, gap / speed) || 0));
      };
      next();
    }
    await ui.done;
    if (timer) clearTimeout(timer);
    return 0;
  },
};
