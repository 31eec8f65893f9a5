// Waiting for Ctrl-C or a polite kill, for the long-running commands (proxy, start, lab).

/** Resolves on the first SIGINT or SIGTERM, and stops listening for them then. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
