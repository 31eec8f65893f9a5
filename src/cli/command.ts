// What every `mitm-lab <command>` module exports. Commands live one per file under
// src/cli/commands/ and are loaded lazily by main.ts, so `mitm-lab ca info` never pays for
// blessed or the proxy engine.

export interface CommandIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  /** The word after `mitm-lab`. */
  name: string;
  /** Full `--help` text, ending in a newline. */
  help: string;
  /** Runs the command; resolves to the exit code (0 ok, 1 failure; usage errors throw LabError). */
  run(argv: string[], io: CommandIO): Promise<number>;
}
