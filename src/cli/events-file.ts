// Reading an events file written by `--events FILE` (JSON Lines, docs/events.md), for the
// commands that replay one (`check`). A proxy may still be writing it: a last line cut short is
// left out, not an error. Anything else that is not an event is a usage error with a sentence.
import { readFileSync } from 'node:fs';
import { eventFromJson } from '../events/json.ts';
import type { ProxyEvent } from '../events/types.ts';
import { usageError } from '../util/lab-error.ts';

export interface EventsFile {
  events: ProxyEvent[];
  /** True when the last line was cut short (a proxy still writing) and left out. */
  truncatedLastLine: boolean;
}

function isEvent(x: unknown): x is { type: string; id: string } {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as { type?: unknown }).type === 'string' &&
    typeof (x as { id?: unknown }).id === 'string'
  );
}

/** Read and check an events file; throws a usage LabError naming the file and the line. */
export function readEventsFile(file: string): EventsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'there is no such file'
        : code === 'EISDIR'
          ? 'it is a folder'
          : code === 'EACCES'
            ? 'permission denied'
            : ((err as Error).message ?? String(err));
    throw usageError(
      `cannot read the events file ${file}: ${why}`,
      'give the file a proxy wrote with --events FILE (mitm-lab start --events lab.jsonl)',
    );
  }
  const lines = text.split('\n');
  const endsClean = text.endsWith('\n') || text.length === 0;
  const events: ProxyEvent[] = [];
  let truncatedLastLine = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const last = i === lines.length - 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (last && !endsClean) {
        truncatedLastLine = true; // a proxy still writing: the line is not finished yet
        continue;
      }
      throw usageError(
        `${file} is not an events file: line ${i + 1} is not JSON`,
        'events files are JSON Lines written by --events FILE (see docs/events.md)',
      );
    }
    if (!isEvent(parsed))
      throw usageError(
        `${file} is not an events file: line ${i + 1} is not a mitm-lab event (no "type" and "id")`,
        'events files are JSON Lines written by --events FILE (see docs/events.md)',
      );
    events.push(eventFromJson(parsed));
  }
  return { events, truncatedLastLine };
}
