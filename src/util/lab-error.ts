// The one error class mitm-lab throws, for usage and configuration problems only (runtime
// trouble on a connection is an event, never a throw). `cli/` maps `kind` to the exit code:
// usage → 2, everything else → 1.

export type LabErrorKind = 'usage' | 'config' | 'runtime';

export class LabError extends Error {
  override readonly name = 'LabError';

  constructor(
    /** `usage`: the command line is wrong (exit 2); `config`/`runtime`: exit 1. */
    readonly kind: LabErrorKind,
    message: string,
    /** A hint printed under the message: what to do about it. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function usageError(message: string, hint?: string): LabError {
  return new LabError('usage', message, hint);
}
