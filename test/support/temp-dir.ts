// A fresh folder under the OS temp dir for one test file (or one test), removed by `cleanup`.
// Tests never write into the repo's certs/: every CA, log and HAR goes in one of these.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TempDir {
  /** Absolute path of the new, empty folder. */
  dir: string;
  /** Remove the folder and everything in it (never throws when it is already gone). */
  cleanup(): void;
}

/** `mkdtemp` under the OS temp dir; `prefix` names the test in `ls /tmp` when one leaks. */
export function tempDir(prefix = 'mitm-lab-'): TempDir {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
