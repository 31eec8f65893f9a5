// `--keylog FILE`: TLS secrets in the SSLKEYLOGFILE format (NSS key log: one
// `LABEL <client_random> <secret>` line each; https://datatracker.ietf.org/doc/draft-ietf-tls-keylogfile/)
// for both legs — client↔proxy and proxy↔server — so Wireshark can decrypt a capture of
// either. The engine passes Node's `keylog` event lines; nothing here sees events, by design:
// secrets never travel on the event bus.
//
// The file holds session secrets: created (or narrowed) to mode 0600, appended with
// synchronous writes so a line is on disk before the handshake it unlocks goes further.
import fs from 'node:fs';
import { LabError } from '../util/lab-error.ts';

/** Session secrets: readable by the owner only. */
export const KEYLOG_FILE_MODE = 0o600;

export interface KeylogSink {
  /** The file path. */
  readonly path: string;
  /** Lines written so far. */
  readonly lines: number;
  /** Why writing stopped, or null while it works. */
  readonly error: string | null;
  /** Append one key log line (a trailing newline is added when missing). Never throws. */
  write(line: string | Buffer): void;
  /** Close the file. Idempotent; never rejects. */
  close(): Promise<void>;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Open `path` for appending key log lines. Throws LabError('config') when it cannot be opened.
 * An existing file is kept (appended to) but narrowed to 0600 when we own it.
 */
export function openKeylogSink(path: string): KeylogSink {
  if (path === '') throw new LabError('usage', '--keylog needs a file name');
  let fd: number | null;
  try {
    fd = fs.openSync(path, 'a', KEYLOG_FILE_MODE);
  } catch (err) {
    throw new LabError(
      'config',
      `cannot write the key log ${path}: ${reason(err)}`,
      'give --keylog a writable file path (its folder must exist)',
    );
  }
  try {
    // The mode given to open only applies when it creates the file.
    if ((fs.fstatSync(fd).mode & 0o777) !== KEYLOG_FILE_MODE) fs.fchmodSync(fd, KEYLOG_FILE_MODE);
  } catch (err) {
    fs.closeSync(fd);
    throw new LabError(
      'config',
      `the key log ${path} is readable by others and cannot be narrowed to 0600: ${reason(err)}`,
      'choose a file you own, or remove the existing one',
    );
  }
  let lines = 0;
  let error: string | null = null;
  return {
    path,
    get lines() {
      return lines;
    },
    get error() {
      return error;
    },
    write(line: string | Buffer): void {
      if (fd === null || error !== null) return;
      const text = Buffer.isBuffer(line) ? line.toString('latin1') : line;
      if (text.trim() === '') return;
      try {
        fs.writeSync(fd, text.endsWith('\n') ? text : `${text}\n`);
        lines++;
      } catch (err) {
        // A key log failure must not break a connection: remember it, stop writing.
        error = reason(err);
      }
    },
    async close(): Promise<void> {
      if (fd === null) return;
      const f = fd;
      fd = null;
      await new Promise<void>((resolve) => fs.close(f, () => resolve()));
    },
  };
}
