// The real proxy pointed at a running lab (its resolve rules, its root as the upstream trust),
// with every event collected — what the lab and sink tests put between a client and the lab.
import type { Ca } from '../../../src/ca/index.ts';
import { EventBus } from '../../../src/events/bus.ts';
import type { ProxyEvent } from '../../../src/events/types.ts';
import type { RunningLab } from '../../../src/lab/index.ts';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../../src/proxy/index.ts';

export interface LabProxy {
  proxy: RunningProxy;
  bus: EventBus;
  /** Every event the proxy emitted, in order. */
  events: ProxyEvent[];
}

/** startProxy on 127.0.0.1 port 0, mode auto, routed to `lab`; `extra` adds or overrides. */
export async function startLabProxy(
  ca: Ca,
  lab: RunningLab,
  extra: Partial<ProxyOptions> = {},
): Promise<LabProxy> {
  const bus = extra.bus ?? new EventBus();
  const events: ProxyEvent[] = [];
  bus.on((e) => events.push(e));
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    mode: 'auto',
    ca,
    bus,
    resolve: lab.resolve,
    upstreamCa: [lab.rootPem],
    ...extra,
  });
  return { proxy, bus, events };
}
