// Making a folder and its missing parents, one level at a time.
//
// Not `mkdirSync(dir, { recursive: true })`: on Node 20 it never returns for a path under a
// folder that refuses new entries with ENOENT (`/proc/x`: `mkdir` says ENOENT although /proc
// exists, and the recursive walk retries that level forever at 100 % CPU — issue 13, item 15).
// Level by level, every error is the system's own, at once.
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Create `dir` and any missing parent with `mode` (masked by the umask, as mkdir does). Returns
 * the first folder it created, or undefined when `dir` already existed (as mkdirSync's
 * recursive form does). Throws the fs error (ENOENT, EACCES, ENOTDIR, EEXIST for a file…).
 */
export function makeDirs(dir: string, mode: number): string | undefined {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    let exists = false;
    try {
      const st = statSync(p);
      if (!st.isDirectory()) {
        const err: NodeJS.ErrnoException = new Error(`ENOTDIR: not a directory, mkdir '${p}'`);
        err.code = 'ENOTDIR';
        err.path = p;
        throw err;
      }
      exists = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (exists) break;
    missing.push(p);
    if (path.dirname(p) === p) break; // the root itself is missing: mkdir will say why
  }
  missing.reverse();
  for (const p of missing) {
    try {
      mkdirSync(p, { mode });
    } catch (err) {
      // Another process made it between our look and mkdir: fine, it is a folder now.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(p).isDirectory()) throw err;
    }
  }
  return missing[0];
}
