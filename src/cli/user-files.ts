// Files the terminal UI writes on a key (`y`: the commands, `e`: a HAR without --har): in the
// folder the user started mitm-lab from, where they look first, under a name that says what it
// is; the system's temporary folder when that one is not writable. 0600: they may hold the
// proxy's credentials and what crossed in clear.
import { chmod, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Write `text` to `name` in the working folder (or the temporary one); resolves to the path. */
export async function writeUserFile(name: string, text: string): Promise<string> {
  const first = path.resolve(name);
  try {
    await writeFile(first, text, { mode: 0o600 });
    await chmod(first, 0o600); // the mode above only applies to a new file
    return first;
  } catch {
    const fallback = path.join(os.tmpdir(), name);
    await writeFile(fallback, text, { mode: 0o600 });
    await chmod(fallback, 0o600);
    return fallback;
  }
}

/** `mitm-lab-2026-12-05T10-49-50.har`: a new name each export, sorted by time. */
export function timestampedName(prefix: string, ext: string, now = new Date()): string {
  return `${prefix}-${now.toISOString().slice(0, 19).replace(/:/g, '-')}.${ext}`;
}
