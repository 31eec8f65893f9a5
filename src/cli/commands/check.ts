// `mitm-lab check [N] --events FILE [--json]`: the lab exercises' checkpoints, ticked from an
// events file alone (src/lessons). Exit 0 when the exercise (or, without N, every exercise) is
// complete, 1 when not, 2 on a usage error.
import path from 'node:path';
import {
  EXERCISES,
  exerciseById,
  foldProgress,
  type ExerciseProgress,
} from '../../lessons/index.ts';
import type { ProxyEvent } from '../../events/types.ts';
import { usageError } from '../../util/lab-error.ts';
import { defaultCaDir, parseCommandArgs } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';
import { readEventsFile } from '../events-file.ts';

const HELP = `mitm-lab check — which exercise checkpoints your events show done

Usage: mitm-lab check [N] --events FILE [--json]

Reads an events file written by the proxy (start or proxy with --events FILE) and ticks each
checkpoint of the lab exercises (docs/labs/) from what the events show. With N, lists that
exercise's checkpoints and the hint for the first one not yet done; without N, one line per
exercise. The file may still be growing: a last line cut short is ignored.

Exercises:
${EXERCISES.map((e) => `  ${e.id}  ${e.title}`).join('\n')}

Options:
  --events FILE   the events file (JSON Lines, see docs/events.md)
  --json          print one JSON object:
                  {"exercises":[{"id","title","done","checkpoints":[{"id","title","done","hint"}]}]}
  -h, --help      this help

Example:
  npm start -- --events lab.jsonl          terminal 1: the lab, recording events
  mitm-lab check 1 --events lab.jsonl      terminal 2: how far exercise 1 is

Exit codes: 0 complete (exercise N, or every exercise), 1 not yet, 2 unknown exercise or a
file that is not an events file.
`;

/**
 * The values of a hint's `{proxy}`, `{ca}` and `{labRoot}`: the proxy the file's last
 * `proxy.listening` names, and the default CA folder's files (what `npm start` uses).
 */
function hintFill(events: readonly ProxyEvent[], env: NodeJS.ProcessEnv): Record<string, string> {
  const caDir = defaultCaDir(env);
  const fill: Record<string, string> = {
    ca: path.relative(process.cwd(), path.join(caDir, 'certs', 'ca.pem')) || 'certs/certs/ca.pem',
    labRoot:
      path.relative(process.cwd(), path.join(caDir, 'lab', 'root.pem')) || 'certs/lab/root.pem',
  };
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type !== 'proxy.listening') continue;
    const host = e.host === '0.0.0.0' ? '127.0.0.1' : e.host === '::' ? '::1' : e.host;
    fill['proxy'] = `http://${host.includes(':') ? `[${host}]` : host}:${e.port}`;
    break;
  }
  return fill;
}

const filled = (text: string, fill: Record<string, string>): string =>
  text.replace(/\{(\w+)\}/g, (all, name: string) => fill[name] ?? all);

function text(list: ExerciseProgress[], one: boolean, truncated: boolean): string {
  const out: string[] = [];
  for (const ex of list) {
    const done = ex.checkpoints.filter((c) => c.done).length;
    out.push(
      `Exercise ${ex.id}: ${ex.title}  ${done}/${ex.checkpoints.length}${ex.done ? '  done' : ''}`,
    );
    if (!one) continue;
    let hinted = false;
    for (const c of ex.checkpoints) {
      out.push(`  [${c.done ? 'x' : ' '}] ${c.title}`);
      if (!c.done && !hinted) {
        out.push(`      next: ${c.hint}`);
        hinted = true;
      }
    }
  }
  if (truncated)
    out.push('(the last line of the file was cut short and left out: a proxy still writing?)');
  return `${out.join('\n')}\n`;
}

export const command: Command = {
  name: 'check',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'check',
      argv,
      { events: { type: 'string' }, json: { type: 'boolean' } },
      HELP,
      io,
      1,
    );
    if (!parsed) return 0;
    const file = parsed.values.events;
    if (typeof file !== 'string' || file === '')
      throw usageError('check needs --events FILE', 'see `mitm-lab check --help`');
    const n = parsed.positionals[0];
    if (n !== undefined && !exerciseById(n))
      throw usageError(
        `there is no exercise "${n}"`,
        `exercises: ${EXERCISES.map((e) => e.id).join(', ')} (see \`mitm-lab check --help\`)`,
      );
    const { events, truncatedLastLine } = readEventsFile(file);
    const fill = hintFill(events, io.env);
    const all = foldProgress(events).map((ex) => ({
      ...ex,
      checkpoints: ex.checkpoints.map((c) => ({ ...c, hint: filled(c.hint, fill) })),
    }));
    const shown = n === undefined ? all : all.filter((e) => e.id === n);
    if (parsed.values.json) {
      const json = {
        exercises: shown.map((ex) => ({
          id: ex.id,
          title: ex.title,
          done: ex.done,
          checkpoints: ex.checkpoints.map((c) => ({
            id: c.id,
            title: c.title,
            done: c.done,
            hint: c.hint,
          })),
        })),
      };
      io.stdout.write(`${JSON.stringify(json)}\n`);
    } else io.stdout.write(text(shown, n !== undefined, truncatedLastLine));
    return shown.every((e) => e.done) ? 0 : 1;
  },
};
