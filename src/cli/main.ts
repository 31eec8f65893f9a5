// The composition root's front door: `mitm-lab <command> [options]`. It knows the commands by
// name and loads each lazily; it maps errors to exit codes: 0 ok, 1 runtime failure,
// 2 usage error (see DESIGN.md "Contracts").
import { LabError } from '../util/lab-error.ts';
import type { Command, CommandIO } from './command.ts';

interface Entry {
  summary: string;
  load: () => Promise<{ command: Command }>;
}

/** Every command, in the order `mitm-lab --help` lists them. */
export const COMMANDS: Record<string, Entry> = {
  start: {
    summary: 'the built-in lab + the proxy + the terminal UI (what `npm start` runs)',
    load: () => import('./commands/start.ts'),
  },
  proxy: {
    summary: 'run only the intercepting proxy (default 127.0.0.1:8080)',
    load: () => import('./commands/proxy.ts'),
  },
  lab: {
    summary: 'serve only the built-in lab sites and the broken-certificate gallery',
    load: () => import('./commands/lab.ts'),
  },
  victim: {
    summary: 'a scripted victim that logs in to the lab through the proxy',
    load: () => import('./commands/victim.ts'),
  },
  demo: {
    summary: 'the victim step by step, waiting for a key between steps (for narrating)',
    load: () => import('./commands/demo.ts'),
  },
  attach: {
    summary: "show a running proxy's terminal UI from its --feed URL (e.g. on a projector)",
    load: () => import('./commands/attach.ts'),
  },
  replay: {
    summary: 'the terminal UI on a recorded events file (a demo when the live one fails)',
    load: () => import('./commands/replay.ts'),
  },
  check: {
    summary: 'which lab exercise checkpoints an events file shows done',
    load: () => import('./commands/check.ts'),
  },
  report: {
    summary: 'what HTTPS does not hide: hosts, volumes and plain-HTTP secrets in an events file',
    load: () => import('./commands/report.ts'),
  },
  classroom: {
    summary: "the instructor's live grid of every student's lesson progress",
    load: () => import('./commands/classroom.ts'),
  },
  ca: {
    summary: 'the throwaway CA: ca init | info | export | remove',
    load: () => import('./commands/ca.ts'),
  },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, e]) => `  ${n.padEnd(width)}  ${e.summary}`);
  return `mitm-lab — a man-in-the-middle teaching proxy

Shows, live, what an eavesdropper on the wire sees, what a man in the middle reads when the
client trusts its CA, and why certificate validation stops it when the client does not.

Usage: mitm-lab <command> [options]

Commands:
${lines.join('\n')}

Run \`mitm-lab <command> --help\` for each command's options.
Exit codes: 0 ok, 1 runtime failure, 2 usage error.
Start here: \`npm start\` (or \`mitm-lab start\`), then follow the banner.
`;
}

export async function main(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(mainHelp());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write('mitm-lab 0.1.0\n');
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr.write(`mitm-lab: unknown command "${name}"\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const { command } = await entry.load();
    return await command.run(rest, io);
  } catch (err) {
    return reportError(err, io);
  }
}

function reportError(err: unknown, io: CommandIO): number {
  if (err instanceof LabError) {
    io.stderr.write(`mitm-lab: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`);
    return err.kind === 'usage' ? 2 : 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`mitm-lab: unexpected error: ${message}\n`);
  if (io.env['MITM_LAB_DEBUG'] && err instanceof Error && err.stack)
    io.stderr.write(`${err.stack}\n`);
  else io.stderr.write('  (set MITM_LAB_DEBUG=1 for the stack trace, and please report it)\n');
  return 1;
}

function defaultIO(): CommandIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
}
