// The scripted victim: a client that browses the lab through the proxy as a normal or a
// compromised device (src/lab holds the servers and the PKI it browses; this folder, the client).
export { runVictim, clientWords, victimStepIds, unknownSteps } from './victim.ts';
export type { VictimOptions, VictimSummary, TrustedRoot } from './victim.ts';
export { parseProxyUrl } from './proxy-client.ts';
export type { ProxyAddress } from './proxy-client.ts';
export { VICTIM_PROFILES } from './types.ts';
export type {
  VictimProfile,
  VictimRecord,
  VictimStepRecord,
  VictimStartRecord,
  VictimEndRecord,
  VictimOutcome,
} from './types.ts';
