// The CA layer's public face: what the proxy engine, the lab and the CLI import.
export {
  CA_DAYS_DEFAULT,
  CA_DAYS_MAX,
  CA_ORGANISATION,
  DEFAULT_LEAF_KEY,
  DEFAULT_PERMITTED_DNS,
  DEFAULT_PERMITTED_IPS,
  LEAF_CACHE_MAX,
  LEAF_DAYS_MAX,
  LEAF_KEY_NAMES,
  LEAF_KEY_TYPES,
  caExists,
  caModes,
  caPaths,
  leafKeyPathOf,
  leafKeys,
  openCa,
  removeCa,
} from './authority.ts';
export type { Ca, CaOptions, Leaf, LeafKeyType } from './authority.ts';
export { describeCertificate, summarize } from './describe.ts';
export {
  buildCertificate,
  derToPem,
  generateEcKeyPair,
  generateRsaKeyPair,
  pemToDer,
  readNameConstraints,
  signatureAlgorithmOid,
} from './forge.ts';
export type { CertSpec, KeyPair, NameConstraints } from './forge.ts';
export { hostKind, normalizeHost, normalizePermit, withinConstraints } from './names.ts';
