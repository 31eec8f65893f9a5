/** Arguments for `python3` that run `command` (program and its arguments) on a 120x40 pty. */
export function ptyArgs(command: readonly string[]): string[];
