// `mitm-lab demo`: the scripted victim, one step at a time, waiting for Enter between steps so
// an instructor can narrate while the proxy's UI shows each step arrive. `--auto` runs straight
// through (for recordings and tests).
import readline from 'node:readline';
import { parseCommandArgs } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';
import {
  VICTIM_OPTIONS,
  VICTIM_OPTIONS_HELP,
  prepareVictim,
  runTour,
  tourExitCode,
} from './victim.ts';

const HELP = `mitm-lab demo — the scripted victim step by step, for narrating

Usage: mitm-lab demo [options]

Runs the same tour as \`mitm-lab victim\` against a running \`mitm-lab start\`, but stops before
each step and waits for Enter, so you can point at the proxy's screen while you explain.
Type q and Enter to stop early. When stdin ends (e.g. piped), the rest runs straight through.

Options:
  --auto                 do not wait: run every step straight through
${VICTIM_OPTIONS_HELP}  -h, --help             this help

A workshop in three commands (two terminals):
  npm start                                    terminal 1: lab + proxy + terminal UI
  mitm-lab demo                                terminal 2: the normal device
  (press f in the UI, then)
  mitm-lab demo --profile compromised          the same device, now trusting the mitm-lab CA

Exit codes: 0 the tour ran (or was stopped with q), 1 the proxy could not be reached, 2 bad
options.
`;

class Stopped extends Error {}

export const command: Command = {
  name: 'demo',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'demo',
      argv,
      { ...VICTIM_OPTIONS, auto: { type: 'boolean' } },
      HELP,
      io,
    );
    if (!parsed) return 0;
    const setup = await prepareVictim(parsed.values, io);
    if (parsed.values.auto) return tourExitCode(await runTour(setup, io));

    const prompt = setup.events === '-' ? io.stderr : io.stdout;
    const lines = readline.createInterface({ input: io.stdin, terminal: false });
    // Lines typed (or piped) ahead of time are kept, so "Enter Enter q" works however fast
    // it arrives.
    const buffered: string[] = [];
    const pending: ((line: string | null) => void)[] = [];
    let ended = false;
    lines.on('line', (l) => {
      const waiter = pending.shift();
      if (waiter) waiter(l);
      else buffered.push(l);
    });
    lines.on('close', () => {
      ended = true;
      for (const p of pending.splice(0)) p(null);
    });
    const nextLine = (): Promise<string | null> => {
      const ready = buffered.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return ended ? Promise.resolve(null) : new Promise((resolve) => pending.push(resolve));
    };
    try {
      const summary = await runTour(setup, io, {
        async beforeStep(index, total, title) {
          if (ended && buffered.length === 0) return;
          prompt.write(`\n-- next: step ${index}/${total}, ${title}. Enter to go, q to stop -- `);
          const answer = await nextLine();
          if (answer === null) prompt.write('(input ended: running the rest straight through)\n');
          else if (answer.trim().toLowerCase() === 'q') throw new Stopped();
        },
      });
      return tourExitCode(summary);
    } catch (err) {
      if (err instanceof Stopped) {
        prompt.write('stopped.\n');
        return 0;
      }
      throw err;
    } finally {
      lines.close();
    }
  },
};
