// A test fixture, not a test: the engine alone in a process, started with options given as one
// JSON argument (time limits the CLI does not offer), printing every event as JSON Lines on
// stdout and `listening on http://127.0.0.1:PORT` on stderr — what ./helpers.ts reads from the
// real CLI too. Run as `node --import tsx proxy-child.ts '{"caDir":…}'`; SIGTERM stops it,
// SIGUSR2 makes it print `stats {…}` (the proxy's own counts, RunningProxy.stats) on stderr.
import { openCa } from '../../src/ca/index.ts';
import { EventBus } from '../../src/events/bus.ts';
import type { Mode, ProxyEvent } from '../../src/events/types.ts';
import { startProxy, type ResolveRule, type Timeouts } from '../../src/proxy/index.ts';
import { governHeap } from '../../src/util/heap-growth.ts';

export interface ChildOptions {
  mode?: Mode;
  timeouts?: Partial<Timeouts>;
  resolve?: ResolveRule[];
  upstreamCa?: string[];
  /** Print only events of these types (default: all). Long runs keep their output small. */
  print?: ProxyEvent['type'][];
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions & { caDir: string };
const ca = await openCa({ dir: options.caDir });
const bus = new EventBus();
// The heap as the program runs it (src/cli/proxy-options.ts).
governHeap(bus);
const print = options.print ? new Set<string>(options.print) : null;
bus.on((e) => {
  if (!print || print.has(e.type)) process.stdout.write(`${JSON.stringify(e)}\n`);
});
const proxy = await startProxy({
  host: '127.0.0.1',
  port: 0,
  mode: options.mode ?? 'auto',
  ca,
  bus,
  ...(options.timeouts ? { timeouts: options.timeouts } : {}),
  ...(options.resolve ? { resolve: options.resolve } : {}),
  ...(options.upstreamCa ? { upstreamCa: options.upstreamCa } : {}),
});
process.stderr.write(`listening on ${proxy.url}\n`);
process.on('SIGUSR2', () => process.stderr.write(`stats ${JSON.stringify(proxy.stats())}\n`));
process.once('SIGTERM', () => {
  void proxy.close().then(() => process.exit(0));
});
