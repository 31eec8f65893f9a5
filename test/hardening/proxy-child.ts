// A test fixture, not a test: the engine alone in a process, started with options given as one
// JSON argument (time limits the CLI does not offer), printing every event as JSON Lines on
// stdout and `listening on http://127.0.0.1:PORT` on stderr — what ./helpers.ts reads from the
// real CLI too. Run as `node --import tsx proxy-child.ts '{"caDir":…}'`; SIGTERM stops it.
import { openCa } from '../../src/ca/index.ts';
import { EventBus } from '../../src/events/bus.ts';
import type { Mode } from '../../src/events/types.ts';
import { startProxy, type ResolveRule, type Timeouts } from '../../src/proxy/index.ts';

export interface ChildOptions {
  mode?: Mode;
  timeouts?: Partial<Timeouts>;
  resolve?: ResolveRule[];
  upstreamCa?: string[];
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChildOptions & { caDir: string };
const ca = await openCa({ dir: options.caDir });
const bus = new EventBus();
bus.on((e) => process.stdout.write(`${JSON.stringify(e)}\n`));
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
process.once('SIGTERM', () => {
  void proxy.close().then(() => process.exit(0));
});
