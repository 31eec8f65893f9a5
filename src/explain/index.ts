// The explain layer's public face: teaching text as data (catalog.ts, shaped by explanation.ts),
// and the lookup from events/flows (explain.ts). Everything each of them exports is public.
export * from './catalog.ts';
export * from './explain.ts';
export * from './explanation.ts';
export * from './render.ts';
