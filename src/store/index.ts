// The flow store's public face: views import from here.
export { DEFAULT_MAX_BYTES, FlowStore, type FlowStoreOptions } from './flow-store.ts';
export {
  BADGES,
  isTampered,
  FLOW_OUTCOMES,
  type Badge,
  type BadgeCounts,
  type ConnInfo,
  type Flow,
  type FlowOutcome,
  type ListeningInfo,
  type StoredBody,
} from './flow.ts';
export { HstsMemory, type HstsSeen } from './hsts.ts';
export {
  describeFilter,
  isEmptyFilter,
  matchesFilter,
  parseFilter,
  type FlowFilter,
} from './filter.ts';
export { requestBytes, responseBytes, upstreamErrorBytes } from './retained.ts';
