// The files a proxy session writes (--events, --har, --keylog, --pcap) and the CA folder, checked
// before anything starts: a mistake found at exit is found too late (issue 13, item 15: a --har
// in a missing folder was accepted and every flow was lost at exit, with exit code 0; --har or
// --keylog could overwrite the CA's own files; --ca-dir /proc/x spun at 100 % CPU). Each problem
// is a usage error (exit 2) whose sentence names the option.
import { accessSync, constants, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { makeDirs } from '../util/dirs.ts';
import { LabError } from '../util/lab-error.ts';
import { mebibytes, type ProxySettings } from './proxy-options.ts';

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? (err instanceof Error ? err.message : String(err));
}

/** `p` with every symbolic link of its existing part resolved (the rest appended as given). */
function realish(p: string): string {
  const rest: string[] = [];
  for (let at = path.resolve(p); ; at = path.dirname(at)) {
    try {
      return path.join(realpathSync(at), ...rest.reverse());
    } catch {
      if (path.dirname(at) === at) return path.resolve(p);
      rest.push(path.basename(at));
    }
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Make sure the CA folder can be used: an existing folder, or one this user can create (it is
 * created now, 0700, as the CA would be moments later). Throws a usage LabError otherwise.
 */
export function checkCaDir(caDir: string): void {
  const st = statOrNull(caDir);
  if (st && !st.isDirectory())
    throw new LabError(
      'usage',
      `--ca-dir ${caDir}: that is a file, not a folder`,
      'give --ca-dir (or MITM_LAB_CA_DIR) a folder, new or holding a mitm-lab CA',
    );
  if (st) return;
  try {
    makeDirs(caDir, 0o700);
  } catch (err) {
    throw new LabError(
      'usage',
      `--ca-dir ${caDir}: cannot create that folder (${why(err)})`,
      'give --ca-dir (or MITM_LAB_CA_DIR) a folder you can create and write',
      { cause: err },
    );
  }
}

/**
 * Check every output file of a session before it starts: its folder exists and is writable, it
 * is not a folder itself, it is not inside the CA folder (which holds the CA's private key and
 * the lab's), no two outputs are the same file, and an --events file is not already over its
 * --events-max-mb. Throws a usage LabError naming the option.
 */
export function checkOutputPaths(settings: ProxySettings): void {
  const outputs: [option: string, file: string][] = [];
  if (settings.events !== null && settings.events !== '-')
    outputs.push(['--events', settings.events]);
  if (settings.har !== null) outputs.push(['--har', settings.har]);
  if (settings.keylog !== null) outputs.push(['--keylog', settings.keylog]);
  if (settings.pcap !== null) outputs.push(['--pcap', settings.pcap]);
  const caReal = realish(settings.caDir);
  const seen = new Map<string, string>();
  for (const [option, file] of outputs) {
    if (file.trim() === '') throw new LabError('usage', `${option} needs a file name`);
    const abs = path.resolve(file);
    const folder = path.dirname(abs);
    const real = realish(abs);
    if (inside(real, caReal))
      throw new LabError(
        'usage',
        `${option} ${file}: that is inside the CA folder ${settings.caDir}, which holds the CA's private key`,
        'write outputs somewhere else (the CA folder is for the CA only)',
      );
    const folderStat = statOrNull(folder);
    if (!folderStat)
      throw new LabError(
        'usage',
        `${option} ${file}: the folder ${folder} does not exist`,
        'create it first, or give a path in a folder that exists (nothing would be saved at exit)',
      );
    if (!folderStat.isDirectory())
      throw new LabError('usage', `${option} ${file}: ${folder} is not a folder`);
    const fileStat = statOrNull(abs);
    if (fileStat?.isDirectory())
      throw new LabError('usage', `${option} ${file}: that is a folder; give a file name`);
    try {
      accessSync(folder, constants.W_OK);
      if (fileStat) accessSync(abs, constants.W_OK);
    } catch (err) {
      throw new LabError(
        'usage',
        `${option} ${file}: cannot write there (${why(err)})`,
        'give a path in a folder you can write',
      );
    }
    const other = seen.get(real);
    if (other)
      throw new LabError(
        'usage',
        `${option} ${file}: ${other} writes to the same file`,
        'give each output a file of its own',
      );
    seen.set(real, option);
    if (
      option === '--events' &&
      fileStat &&
      !settings.fresh &&
      settings.eventsMaxBytes > 0 &&
      fileStat.size >= settings.eventsMaxBytes
    )
      throw new LabError(
        'usage',
        `--events ${file}: it already holds ${(fileStat.size / 1024 / 1024).toFixed(1)} MiB, ` +
          `over --events-max-mb ${mebibytes(settings.eventsMaxBytes)}`,
        'give a new file, remove this one, or raise --events-max-mb (0 = no limit)',
      );
  }
}
