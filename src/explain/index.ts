// The explain layer's public face: teaching text as data, and the lookup from events/flows.
export {
  ALERT_CODES,
  CATALOG,
  UPSTREAM_CODES,
  type AlertCode,
  type ExplanationKey,
  type UpstreamCode,
} from './catalog.ts';
export {
  explain,
  fillExplanation,
  fillSlots,
  keyFor,
  rejectKey,
  tunnelKey,
  upstreamKey,
  type ExplainableFlow,
  type FilledExplanation,
} from './explain.ts';
export {
  SLOTS,
  type ClientViews,
  type Explanation,
  type SlotName,
  type SlotValues,
} from './explanation.ts';
