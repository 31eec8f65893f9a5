// The proxy engine's public face: what the CLI and the lab import.
export { startProxy } from './engine.ts';
export type { ProxyOptions, ProxyStats, ResolveRule, RunningProxy } from './options.ts';
export { DEFAULT_BODY_LIMIT_BYTES, DEFAULT_CAPTURE_LIMIT_BYTES } from './options.ts';
export { DEFAULT_TIMEOUTS, type Timeouts } from './timeouts.ts';
export { SNI_CONTEXT_CACHE_MAX } from './sni-contexts.ts';
export { formatResolveRule, parseResolveRule, Resolver } from './resolve.ts';
export { parseConnectTarget } from './connect.ts';
export { parseAllowTarget, type AllowedTarget } from './target-guard.ts';
export { parseTamperRules, TamperRulesError, TAMPER_MAX_BYTES, type TamperRule } from './tamper.ts';
