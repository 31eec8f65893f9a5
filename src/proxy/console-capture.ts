// http-mitm-proxy writes to console.* unconditionally (14 call sites: "SNI enabled…", socket
// errors, every `_onError`), which would tear the blessed screen and pollute the headless
// output. Two ways to catch it were considered:
//  - patching console only while our code calls into the library: misses most of its output,
//    which comes later from socket and request callbacks, not from inside our calls;
//  - patching console for the whole run: would also swallow the CLI's own console output.
// So the patch is installed when the first proxy starts, and routes a call to `diag` only
// when the calling frame is inside node_modules/http-mitm-proxy (read from the stack, which
// costs a stack capture per console call — console calls are rare); every other call goes to
// the real console untouched. The diag goes to every running proxy: the CLI runs one. (Telling
// several proxies in one process apart took an AsyncLocalStorage, which switches on async
// hooks for every socket, timer and promise of the process: a few per cent of the CPU of every
// request, issue 12 — too much for a label only tests with two proxies could see.)
import { format } from 'node:util';

export type DiagSink = (level: 'info' | 'warn' | 'error', message: string) => void;

const METHODS = ['log', 'info', 'debug', 'warn', 'error', 'trace'] as const;
type Method = (typeof METHODS)[number];
const LEVEL: Record<Method, 'info' | 'warn' | 'error'> = {
  log: 'info',
  info: 'info',
  debug: 'info',
  trace: 'info',
  warn: 'warn',
  error: 'error',
};
const LIBRARY_FRAME = /[\\/]node_modules[\\/]http-mitm-proxy[\\/]/;

const sinks = new Set<DiagSink>();
let installed = false;
const target = globalThis.console as unknown as Record<Method, (...args: unknown[]) => void>;

function install(): void {
  if (installed) return;
  installed = true;
  for (const method of METHODS) {
    const original = target[method];
    target[method] = function capturedConsole(...args: unknown[]): void {
      const stack = new Error().stack ?? '';
      // Frame 0 is this function; the caller's frames follow.
      if (!LIBRARY_FRAME.test(stack.split('\n').slice(2, 4).join('\n'))) {
        original.apply(globalThis.console, args);
        return;
      }
      // Library output after the last proxy closed (its sockets' teardown callbacks) is
      // dropped: nobody is listening for it, and it must not reach the terminal.
      if (sinks.size === 0) return;
      const message = format(...args);
      for (const sink of sinks) sink(LEVEL[method], message);
    };
  }
}

/**
 * Route the library's console output to `sink` (from `fn`, which starts the proxy, on) until
 * `release` unregisters it; the patch stays (other callers pass through untouched).
 */
export function captureLibraryConsole<T>(
  sink: DiagSink,
  fn: () => T,
): { result: T; release(): void } {
  sinks.add(sink);
  install();
  const result = fn();
  return {
    result,
    release() {
      sinks.delete(sink);
    },
  };
}
