// Running out of file descriptors (issue 13, item 2): how the engine's parts recognise it.

/** Error codes that mean the process ran out of file descriptors. */
export function isDescriptorShortage(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
