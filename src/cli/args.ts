// Command-line parsing on node:util parseArgs, with mitm-lab's conventions: `--help`/`-h` on
// every command, unknown options and stray words are usage errors (exit 2) that name the
// command's --help, and shared option parsers (HOST:PORT, directories) live here once.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LabError } from '../util/lab-error.ts';
import type { CommandIO } from './command.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<T extends Options> {
  values: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true }>>['values'];
  positionals: string[];
}

/**
 * Parse `argv` for `command`. Returns null after printing the help when `--help` was given.
 * `maxPositionals` (default 0) bounds the stray words accepted.
 */
export function parseCommandArgs<T extends Options>(
  command: string,
  argv: string[],
  options: T,
  help: string,
  io: CommandIO,
  maxPositionals = 0,
): Parsed<T> | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new LabError(
      'usage',
      err instanceof Error
        ? err.message.replace(/\. To specify a positional.*$/s, '.')
        : String(err),
      `see \`mitm-lab ${command} --help\``,
    );
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(help);
    return null;
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new LabError(
      'usage',
      `unexpected argument "${parsed.positionals[maxPositionals]}"`,
      `see \`mitm-lab ${command} --help\``,
    );
  }
  return { values: parsed.values as Parsed<T>['values'], positionals: parsed.positionals };
}

/** Parse `HOST:PORT`, `[v6]:PORT` or `PORT` (host 127.0.0.1). Port 0 means "any free port". */
export function parseHostPort(text: string, option: string): { host: string; port: number } {
  const m =
    /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new LabError(
      'usage',
      `${option} wants HOST:PORT (for example 127.0.0.1:8080), got "${text}"`,
      'port 0 picks a free port; the real one is printed',
    );
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** Parse a positive whole number option. */
export function parsePositiveInt(
  text: string,
  option: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new LabError('usage', `${option} wants a whole number from 1 to ${max}, got "${text}"`);
  }
  return n;
}

/** The project's own folder (where package.json is), whatever the current directory. */
export const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where the CA lives unless `--ca-dir` or MITM_LAB_CA_DIR says otherwise. */
export function defaultCaDir(env: NodeJS.ProcessEnv): string {
  return env['MITM_LAB_CA_DIR']
    ? path.resolve(env['MITM_LAB_CA_DIR'])
    : path.join(PROJECT_DIR, 'certs');
}
