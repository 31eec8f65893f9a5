// `--events FILE` (or `-`): every ProxyEvent as one JSON object per line (JSON Lines), in the
// order the bus delivered them. The shape of each line is the event contract (docs/events.md):
// captured bytes as base64 (../events/json.ts).
//
// Files are appended with synchronous writes, the lines of one turn of the event loop together
// (one write per burst, not one per event: under load a write per event cost the proxy a
// twentieth of its CPU, issue 12), and at once on exit: `tail -f` sees an event within a turn of
// the event loop, and a crash, Ctrl-C or `process.exit` loses nothing. Opening
// problems are a config error at start (LabError, exit 1 with the reason); a write failure
// later (disk full, a closed pipe) becomes one `diag` event, and the sink stops — the proxy
// keeps running.
//
// The file holds what crossed in clear (the lab's passwords, cookies): it is 0600, also when it
// existed before with a wider mode. It is bounded (`maxBytes`, --events-max-mb): a load test
// writes ~270 MB a minute (issue 13). At the limit the sink writes one last line — a `diag`
// event saying it stopped, also emitted for the UI — and stops; the proxy goes on.
import fs from 'node:fs';
import type { EventBus } from '../events/bus.ts';
import { eventJson } from '../events/json.ts';
import type { ProxyEvent } from '../events/types.ts';
import { coalesceFlushes } from '../util/coalesce.ts';
import { LabError } from '../util/lab-error.ts';

/** Mode of a created log file: it holds captured bodies (the lab's passwords, cookies). */
const EVENTS_FILE_MODE = 0o600;

export interface JsonlSink {
  /** The file path, or `-` for stdout. */
  readonly target: string;
  /** Lines so far (written together at the end of each turn of the event loop). */
  readonly lines: number;
  /** Why the sink stopped writing, or null while it works. */
  readonly error: string | null;
  /** Stop listening and flush. Idempotent; never rejects. */
  close(): Promise<void>;
}

export interface JsonlOptions {
  /** Where `-` writes (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  /**
   * A file stops growing at this many bytes, counting what it held before (0 = no limit;
   * default DEFAULT_EVENTS_MAX_BYTES). Not applied to `-`: a pipe's reader decides.
   */
  maxBytes?: number;
  /** How the limit was given, for the stop message (e.g. `--events-max-mb 256`). */
  limitLabel?: string;
  /** Empty the file first instead of appending (`--fresh`: a new session's progress). */
  truncate?: boolean;
}

/** Default bound of an events file: 256 MiB (hours of a workshop; about a minute of a load test). */
export const DEFAULT_EVENTS_MAX_BYTES = 256 * 1024 * 1024;
/** Lines held for the end of the turn beyond this many characters are written at once. */
const MAX_HELD_CHARS = 256 * 1024;

function reason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && typeof e.message === 'string') return e.message;
  return String(err);
}

/**
 * Start writing the bus's events to `target` (a file path, appended to unless `truncate`; or
 * `-` for stdout).
 * Throws LabError('config') when the file cannot be opened for writing.
 */
export function openJsonlSink(target: string, bus: EventBus, opts: JsonlOptions = {}): JsonlSink {
  if (target === '') throw new LabError('usage', '--events needs a file name, or - for stdout');
  let fd: number | null = null;
  const out = target === '-' ? (opts.stdout ?? process.stdout) : null;
  let size = 0;
  if (out === null) {
    try {
      fd = fs.openSync(target, opts.truncate === true ? 'w' : 'a', EVENTS_FILE_MODE);
    } catch (err) {
      throw new LabError(
        'config',
        `cannot write the events log ${target}: ${reason(err)}`,
        'give --events a writable file path (its folder must exist), or - for stdout',
      );
    }
    try {
      // The mode given to open only applies when it creates the file.
      const st = fs.fstatSync(fd);
      size = st.size;
      if ((st.mode & 0o777) !== EVENTS_FILE_MODE) fs.fchmodSync(fd, EVENTS_FILE_MODE);
    } catch (err) {
      fs.closeSync(fd);
      throw new LabError(
        'config',
        `the events log ${target} is readable by others and cannot be narrowed to 0600: ${reason(err)}`,
        'choose a file you own, or remove the existing one',
      );
    }
  }
  const maxBytes = out === null ? (opts.maxBytes ?? DEFAULT_EVENTS_MAX_BYTES) : 0;
  let lines = 0;
  let error: string | null = null;
  let closed = false;
  /** The limit was reached: the next line (the stop notice) is the last. */
  let full = false;

  const fail = (err: unknown): void => {
    if (error !== null) return;
    error = reason(err);
    unsubscribe();
    process.removeListener('exit', flush);
    bus.emit({
      type: 'diag',
      connId: null,
      level: 'error',
      source: 'sink',
      message: `events log ${target}: writing stopped: ${error}`,
    });
  };
  const onStreamError = (err: unknown): void => fail(err);
  out?.on('error', onStreamError);

  /** Lines not yet written (this turn of the event loop's). */
  let held = '';
  function flush(): void {
    if (held === '') return;
    const text = held;
    held = '';
    try {
      if (fd !== null) fs.writeSync(fd, text);
      else out?.write(text);
    } catch (err) {
      fail(err);
    }
  }
  // Held lines go out at the end of this turn of the event loop (no interval: docs/sinks.md
  // promises an event is in the file within a turn).
  const scheduled = coalesceFlushes(0, flush);
  // process.exit() runs no more turns of the event loop: what is held goes out on 'exit'.
  process.on('exit', flush);
  const write = (line: string): void => {
    held += line;
    lines++;
    if (maxBytes > 0) size += Buffer.byteLength(line);
    if (held.length >= MAX_HELD_CHARS) flush();
    else scheduled.request();
  };

  const unsubscribe = bus.on((event: ProxyEvent) => {
    if (error !== null || closed) return;
    const line = `${eventJson(event)}\n`;
    if (full) {
      // The stop notice, emitted below: the file's last line.
      write(line);
      error = `reached ${opts.limitLabel ?? `${maxBytes} bytes`}`;
      unsubscribe();
      return;
    }
    if (maxBytes > 0 && size + Buffer.byteLength(line) > maxBytes) {
      full = true;
      bus.emit({
        type: 'diag',
        connId: null,
        level: 'warn',
        source: 'sink',
        message:
          `events log ${target}: writing stopped at ${opts.limitLabel ?? `${maxBytes} bytes`}; ` +
          'the proxy goes on (a larger limit, or 0 for none, on the next start)',
      });
      return;
    }
    write(line);
  });

  return {
    target,
    get lines() {
      return lines;
    },
    get error() {
      return error;
    },
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      scheduled.cancel();
      flush();
      process.removeListener('exit', flush);
      if (fd !== null) {
        const f = fd;
        fd = null;
        await new Promise<void>((resolve) => fs.close(f, () => resolve()));
      } else if (out) {
        // Do not end stdout (others write there); wait for what we queued to drain.
        const needsDrain = (out as { writableNeedDrain?: boolean }).writableNeedDrain === true;
        if (needsDrain && error === null) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              out.removeListener('drain', done);
              out.removeListener('close', done);
              out.removeListener('error', done);
              resolve();
            };
            out.once('drain', done);
            out.once('close', done);
            out.once('error', done);
          });
        }
        out.removeListener('error', onStreamError);
      }
    },
  };
}
