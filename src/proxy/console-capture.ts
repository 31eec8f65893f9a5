// http-mitm-proxy writes to console.* unconditionally (14 call sites: "SNI enabled…", socket
// errors, every `_onError`), which would tear the blessed screen and pollute the headless
// output. Two ways to catch it were considered:
//  - patching console only while our code calls into the library: misses most of its output,
//    which comes later from socket and request callbacks, not from inside our calls;
//  - patching console for the whole run: would also swallow the CLI's own console output.
// So the patch is installed when the first proxy starts, and routes a call to `diag` only
// when the calling frame is inside node_modules/http-mitm-proxy (read from the stack, which
// costs a stack capture per console call — console calls are rare); every other call goes to
// the real console untouched. The proxy it belongs to comes from AsyncLocalStorage (each
// proxy listens inside its own context, so its sockets' callbacks inherit it); when it cannot
// be told (several proxies in one process, context lost), every running proxy gets the diag.
import { AsyncLocalStorage } from 'node:async_hooks';
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

const context = new AsyncLocalStorage<DiagSink>();
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
      const own = context.getStore();
      if (own && !sinks.has(own)) return; // from a proxy that has closed
      const to = own ? [own] : [...sinks];
      for (const sink of to) sink(LEVEL[method], message);
    };
  }
}

/**
 * Route the library's console output to `sink` while `fn` and everything asynchronously
 * descended from it runs (servers started inside keep the context for their sockets).
 * `release` unregisters the sink; the patch stays (other callers pass through untouched).
 */
export function captureLibraryConsole<T>(
  sink: DiagSink,
  fn: () => T,
): { result: T; release(): void } {
  sinks.add(sink);
  install();
  const result = context.run(sink, fn);
  return {
    result,
    release() {
      sinks.delete(sink);
    },
  };
}
