// Waiting for Ctrl-C, a polite kill or a closed terminal, for the long-running commands
// (proxy, start, lab).

/**
 * The signals that ask a long-running command to stop: Ctrl-C (SIGINT), a polite kill
 * (SIGTERM), and the terminal going away (SIGHUP: a closed window, a dropped SSH session).
 * Without a handler SIGHUP would end the process on the spot, losing the HAR (issue 13).
 */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Call `fn` on every stop signal until the returned function is called. While subscribed, the
 * signals no longer end the process by themselves: `fn` decides.
 */
export function onStopSignal(fn: (signal: NodeJS.Signals) => void): () => void {
  for (const s of STOP_SIGNALS) process.on(s, fn);
  return () => {
    for (const s of STOP_SIGNALS) process.removeListener(s, fn);
  };
}

/** Resolves on the first stop signal (with its name), and stops listening for them then. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const off = onStopSignal((signal) => {
      off();
      resolve(signal);
    });
  });
}
