// `mitm-lab classroom`: the instructor's live grid of every student's lesson progress. Students
// join with `npx mitm-lab start --classroom URL --name NAME`; the class record can be kept
// (`--events FILE`) and reopened (`--replay FILE`, `--json` for the grid as data).
import fs from 'node:fs';
import os from 'node:os';
import {
  Roster,
  startClassroomServer,
  type ClassRecord,
  type ClassroomServer,
} from '../../classroom/index.ts';
import { startClassroomUi } from '../../ui/classroom.ts';
import { LabError, usageError } from '../../util/lab-error.ts';
import { parseCommandArgs, parseHostPort } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';
import { isLoopback } from '../proxy-options.ts';
import { onStopSignal } from '../signals.ts';

const HELP = `mitm-lab classroom — every student's lesson progress, live, on the instructor's screen

Usage: mitm-lab classroom [options]
       mitm-lab classroom --replay FILE [--json]

Starts a classroom server and shows a grid: one row per student, one column per exercise
(checkpoints done/total, ticking live), the student's last outcome, how long since they were
last heard from, and the class totals. Students join by running, in their mitm-lab folder:

  npx mitm-lab start --classroom 'ws://HOST:PORT/?token=TOKEN' --name THEIR-NAME

(the exact command, with a new token, and its QR code are on screen: g). Only which lab
checkpoints are done and counts of flows by badge are sent; never URLs, headers, bodies,
passwords, host names or keys (docs/classroom.md).

Options:
  --listen HOST:PORT  where the classroom listens (default 127.0.0.1:4000: this machine only).
                      For a class on a LAN give the address explicitly, e.g. 0.0.0.0:4000 or
                      192.168.1.10:4000 (a warning says it is reachable by the network; the
                      class token still guards it)
  --token TOKEN       the class token (default: a new random one each start). Keep one across
                      restarts so students reconnect by themselves without a new command
  --events FILE       keep the class record as JSON Lines (appended; 0600)
  --replay FILE       open a class record instead of listening (what --events wrote)
  --json              with --replay: print the grid as one JSON object and exit
  --headless          no grid: print a line per join, leave and change (also without a TTY)
  -h, --help          this help

Exit codes: 0 ok, 1 runtime failure (the port is in use), 2 usage error.
`;

/** The default port: easy to read off a projector, away from the proxy's 8080. */
const DEFAULT_PORT = 4000;

function readRecords(file: string): ClassRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(
      `cannot read the class record ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'give the file written by mitm-lab classroom --events FILE',
    );
  }
  const out: ClassRecord[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as ClassRecord;
      if (typeof r.at === 'string' && typeof r.kind === 'string') out.push(r);
      else throw new Error('not a record');
    } catch {
      if (i === lines.length - 1) break; // a classroom still writing: the line is unfinished
      throw usageError(
        `${file} line ${i + 1} is not a class record`,
        'give the file written by mitm-lab classroom --events FILE',
      );
    }
  }
  return out;
}

/** A LAN address students can reach, for the join command when listening on all interfaces. */
function lanAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

export const command: Command = {
  name: 'classroom',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const parsed = parseCommandArgs(
      'classroom',
      argv,
      {
        listen: { type: 'string' },
        token: { type: 'string' },
        events: { type: 'string' },
        replay: { type: 'string' },
        json: { type: 'boolean' },
        headless: { type: 'boolean' },
      },
      HELP,
      io,
    );
    if (!parsed) return 0;
    const v = parsed.values;
    const roster = new Roster();
    const tty = io.stdout.isTTY === true && io.stdin.isTTY === true && v.headless !== true;

    if (typeof v.replay === 'string') {
      for (const r of readRecords(v.replay)) roster.apply(r);
      if (v.json === true || !tty) {
        io.stdout.write(`${JSON.stringify(roster.toJSON())}\n`);
        return 0;
      }
      const ui = startClassroomUi({
        roster,
        joinCommand: '(a recording: nobody can join)',
        joinUrl: 'mitm-lab classroom replay',
        source: `replay of ${v.replay}`,
        stdin: io.stdin,
        stdout: io.stdout,
      });
      await ui.done;
      return 0;
    }
    if (v.json === true) throw usageError('--json is for --replay FILE', 'see --help');

    const listen = v.listen
      ? parseHostPort(v.listen, '--listen')
      : { host: '127.0.0.1', port: DEFAULT_PORT };
    if (v.token !== undefined && !/^[\w-]{16,64}$/.test(v.token))
      throw usageError(
        '--token wants 16-64 letters, digits, - or _',
        'or leave it out for a new random one',
      );
    const lan = !isLoopback(listen.host);
    if (lan)
      io.stderr.write(
        `mitm-lab classroom: WARNING: listening on ${listen.host}: anyone on the network can reach it; the class token guards who may join\n`,
      );

    let sink: number | null = null;
    if (typeof v.events === 'string') {
      try {
        sink = fs.openSync(v.events, 'a', 0o600);
        fs.fchmodSync(sink, 0o600);
      } catch (err) {
        throw usageError(
          `cannot write the class record ${v.events}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          'give --events a writable file in an existing folder',
        );
      }
    }
    const record = (r: ClassRecord): void => {
      roster.apply(r);
      if (sink !== null) fs.writeSync(sink, `${JSON.stringify(r)}\n`);
      if (!tty) headlessLine(r);
    };
    const reported = new Map<string, string>();
    const headlessLine = (r: ClassRecord): void => {
      if (r.kind === 'open') return;
      if (r.kind === 'left') {
        io.stdout.write(`${r.at.slice(11, 19)} LEFT     ${r.name} (${r.why})\n`);
        reported.delete(r.name);
        return;
      }
      const row = roster.get(r.state.name);
      if (!row) return;
      const cells = roster
        .cells(row)
        .map((c) => `${c.id}:${c.done}/${c.total}`)
        .join(' ');
      if (reported.get(row.name) === cells) return;
      io.stdout.write(
        `${r.at.slice(11, 19)} ${reported.has(row.name) ? 'PROGRESS' : 'JOINED  '} ${row.name}  ${cells}\n`,
      );
      reported.set(row.name, cells);
    };

    let server: ClassroomServer;
    try {
      server = await startClassroomServer({
        host: listen.host,
        port: listen.port,
        ...(v.token ? { token: v.token } : {}),
        onRecord: record,
      });
    } catch (err) {
      if (sink !== null) fs.closeSync(sink);
      const code = (err as NodeJS.ErrnoException).code;
      throw new LabError(
        'runtime',
        `cannot listen on ${listen.host}:${listen.port}: ${code === 'EADDRINUSE' ? 'the port is in use' : String(err)}`,
        code === 'EADDRINUSE' ? 'give another port: --listen HOST:PORT' : 'check --listen',
      );
    }
    // The address students use: the one given, or this machine's LAN address for 0.0.0.0.
    const shown =
      listen.host === '0.0.0.0' || listen.host === '::'
        ? (lanAddress() ?? listen.host)
        : listen.host;
    const joinUrl = `ws://${shown.includes(':') ? `[${shown}]` : shown}:${server.port}/?token=${server.token}`;
    const joinCommand = `npx mitm-lab start --classroom '${joinUrl}' --name NAME`;
    io.stdout.write(
      `mitm-lab classroom on ${listen.host}:${server.port}\nStudents join with:\n  ${joinCommand}\n`,
    );

    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const off = onStopSignal(() => stop());
    if (tty) {
      const ui = startClassroomUi({
        roster,
        joinCommand,
        joinUrl,
        source: `listening on ${listen.host}:${server.port}${lan ? ' (LAN)' : ''}`,
        stdin: io.stdin,
        stdout: io.stdout,
      });
      await Promise.race([ui.done, stopped]);
      ui.destroy();
    } else {
      await stopped;
    }
    off();
    await server.close();
    if (sink !== null) fs.closeSync(sink);
    io.stdout.write('mitm-lab classroom: stopped.\n');
    return 0;
  },
};
