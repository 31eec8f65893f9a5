// The lab's stand-in for the public web PKI: "mitm-lab Lab Public Root" → "mitm-lab Lab
// Intermediate" → leaves, like a real CA chain. The scripted victim trusts this root (as a
// browser trusts the public roots); the attacker's proxy does not hold its key — it only
// trusts it for upstream validation, as a real proxy trusts the system store.
//
// A second, unrelated chain ("mitm-lab Untrusted Root" → intermediate) exists only so the
// gallery can show a well-formed chain to a root nobody trusts.
//
// Created once under <caDir>/lab/ (folder 0700, keys 0600), reused afterwards, regenerated as a
// whole if a file is missing, unreadable, inconsistent or close to expiry. Both roots are
// name-constrained to `.test`, so a lab root someone imports into a browser and forgets
// cannot vouch for real sites.
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildCertificate, generateRsaKeyPair, type KeyPair } from '../ca/forge.ts';
import { makeDirs } from '../util/dirs.ts';
import { LabError } from '../util/lab-error.ts';

/** Root lifetime: long, like a public root, and well beyond any workshop. */
const ROOT_VALIDITY_DAYS = 3650;
/** Intermediate lifetime: shorter than the root, as in the real web PKI. */
const INTERMEDIATE_VALIDITY_DAYS = 1825;
/** Regenerate when a CA certificate has less than this left, so no lab breaks mid-session. */
const RENEW_BEFORE_DAYS = 30;
/** Backdate CA certificates a little: clients with a slightly slow clock must still accept them. */
const BACKDATE_MS = 60 * 60 * 1000;
/** Lab names live under `.test` only (RFC 2606); the roots may not sign anything else. */
const PERMITTED_DNS = ['test'];
const DAY_MS = 24 * 60 * 60 * 1000;

export const LAB_ROOT_CN = 'mitm-lab Lab Public Root';
export const LAB_INTERMEDIATE_CN = 'mitm-lab Lab Intermediate';
export const UNTRUSTED_ROOT_CN = 'mitm-lab Untrusted Root';
export const UNTRUSTED_INTERMEDIATE_CN = 'mitm-lab Untrusted Intermediate';
const ORG = 'mitm-lab (lab use only)';

/** A certificate authority the lab can issue from. */
export interface LabIssuer {
  certPem: string;
  privateKeyPem: string;
}

/** What a TLS server needs: the private key and the chain it sends (leaf first, no root). */
export interface ServerCredentials {
  keyPem: string;
  /** Leaf followed by the intermediate, like real servers (the root is never sent). */
  chainPem: string;
  /** The leaf alone. */
  leafPem: string;
}

export interface LabPki {
  /** The folder, `<caDir>/lab`. */
  dir: string;
  /** The lab public root: what the victim (and the proxy, upstream) trust. */
  rootPem: string;
  /** Where the root certificate is, for `curl --cacert` and python `cafile=`. */
  rootPath: string;
  /** True when this call created the PKI. */
  created: boolean;
  /** Issue a leaf from the lab intermediate for `host` (SANs default to `DNS:host`). */
  issueLeaf(spec: LeafSpec): ServerCredentials;
  /** Issue a leaf from the untrusted chain (well-formed, but nobody trusts its root). */
  issueUntrustedLeaf(spec: LeafSpec): ServerCredentials;
  /** A self-signed leaf for `host` (no CA at all). */
  selfSignedLeaf(spec: LeafSpec): ServerCredentials;
}

export interface LeafSpec {
  host: string;
  /** Subject alternative names, `DNS:…`/`IP:…`; default `[DNS:host]`. */
  sans?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Use the weak RSA-1024 key instead of the shared RSA-2048 leaf key. */
  weakKey?: boolean;
}

/** Leaf lifetime when not given: short, like modern public certificates. */
const LEAF_VALIDITY_DAYS = 90;

const FILES = {
  root: 'root.pem',
  rootKey: 'root.key',
  intermediate: 'intermediate.pem',
  intermediateKey: 'intermediate.key',
  leafKey: 'leaf.key',
  weakKey: 'weak-leaf.key',
  untrustedRoot: 'untrusted-root.pem',
  untrustedRootKey: 'untrusted-root.key',
  untrustedIntermediate: 'untrusted-intermediate.pem',
  untrustedIntermediateKey: 'untrusted-intermediate.key',
} as const;
type FileKey = keyof typeof FILES;
type Material = Record<FileKey, string>;

/** Open the lab PKI in `dir`, creating it on first use. */
export function openLabPki(dir: string, now: Date = new Date()): LabPki {
  const abs = path.resolve(dir);
  try {
    makeDirs(abs, 0o700);
    chmodSync(abs, 0o700);
  } catch (err) {
    throw new LabError('config', `cannot create the lab PKI folder ${abs}`, String(err), {
      cause: err,
    });
  }
  let material = loadMaterial(abs, now);
  const created = material === null;
  if (material === null) {
    material = createMaterial(now);
    saveMaterial(abs, material);
  }
  return makePki(abs, material, created);
}

function makePki(dir: string, m: Material, created: boolean): LabPki {
  const leafKey = keyPairOf(m.leafKey);
  const weakKey = keyPairOf(m.weakKey);
  const intermediate: LabIssuer = { certPem: m.intermediate, privateKeyPem: m.intermediateKey };
  const untrusted: LabIssuer = {
    certPem: m.untrustedIntermediate,
    privateKeyPem: m.untrustedIntermediateKey,
  };
  const issue = (spec: LeafSpec, issuer: LabIssuer | null): ServerCredentials => {
    const key = spec.weakKey ? weakKey : leafKey;
    const notBefore = spec.notBefore ?? new Date(Date.now() - BACKDATE_MS);
    const leafPem = buildCertificate({
      subject: { CN: spec.host, O: ORG },
      publicKeyPem: key.publicKeyPem,
      issuer: issuer ?? { selfSignWith: key.privateKeyPem },
      notBefore,
      notAfter: spec.notAfter ?? new Date(notBefore.getTime() + LEAF_VALIDITY_DAYS * DAY_MS),
      sans: spec.sans ?? [`DNS:${spec.host}`],
    });
    return {
      keyPem: key.privateKeyPem,
      leafPem,
      chainPem: issuer ? `${leafPem.trimEnd()}\n${issuer.certPem.trimEnd()}\n` : leafPem,
    };
  };
  return {
    dir,
    rootPem: m.root,
    rootPath: path.join(dir, FILES.root),
    created,
    issueLeaf: (spec) => issue(spec, intermediate),
    issueUntrustedLeaf: (spec) => issue(spec, untrusted),
    selfSignedLeaf: (spec) => issue(spec, null),
  };
}

function keyPairOf(privateKeyPem: string): KeyPair {
  const publicKeyPem = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' });
  return { privateKeyPem, publicKeyPem: publicKeyPem.toString() };
}

function createMaterial(now: Date): Material {
  const start = new Date(now.getTime() - BACKDATE_MS);
  const chain = (rootCN: string, interCN: string) => {
    const rootKey = generateRsaKeyPair(2048);
    const root = buildCertificate({
      subject: { CN: rootCN, O: ORG },
      publicKeyPem: rootKey.publicKeyPem,
      issuer: { selfSignWith: rootKey.privateKeyPem },
      notBefore: start,
      notAfter: new Date(start.getTime() + ROOT_VALIDITY_DAYS * DAY_MS),
      isCa: true,
      pathLen: 1,
      permittedDns: PERMITTED_DNS,
    });
    const interKey = generateRsaKeyPair(2048);
    const inter = buildCertificate({
      subject: { CN: interCN, O: ORG },
      publicKeyPem: interKey.publicKeyPem,
      issuer: { certPem: root, privateKeyPem: rootKey.privateKeyPem },
      notBefore: start,
      notAfter: new Date(start.getTime() + INTERMEDIATE_VALIDITY_DAYS * DAY_MS),
      isCa: true,
      pathLen: 0,
    });
    return { root, rootKey: rootKey.privateKeyPem, inter, interKey: interKey.privateKeyPem };
  };
  const lab = chain(LAB_ROOT_CN, LAB_INTERMEDIATE_CN);
  const other = chain(UNTRUSTED_ROOT_CN, UNTRUSTED_INTERMEDIATE_CN);
  return {
    root: lab.root,
    rootKey: lab.rootKey,
    intermediate: lab.inter,
    intermediateKey: lab.interKey,
    leafKey: generateRsaKeyPair(2048).privateKeyPem,
    // RSA-1024: the weak-key gallery host. Generated once, like the others.
    weakKey: generateRsaKeyPair(1024).privateKeyPem,
    untrustedRoot: other.root,
    untrustedRootKey: other.rootKey,
    untrustedIntermediate: other.inter,
    untrustedIntermediateKey: other.interKey,
  };
}

/** Read the saved material; null when anything is missing or not usable (then we recreate). */
function loadMaterial(dir: string, now: Date): Material | null {
  const m = {} as Material;
  for (const k of Object.keys(FILES) as FileKey[]) {
    try {
      m[k] = readFileSync(path.join(dir, FILES[k]), 'utf8');
    } catch {
      return null; // missing (first run, or a partial earlier run): recreate everything
    }
  }
  return usable(m, now) ? m : null;
}

function usable(m: Material, now: Date): boolean {
  try {
    const horizon = now.getTime() + RENEW_BEFORE_DAYS * DAY_MS;
    for (const [rootPem, interPem] of [
      [m.root, m.intermediate],
      [m.untrustedRoot, m.untrustedIntermediate],
    ] as const) {
      const root = new X509Certificate(rootPem);
      const inter = new X509Certificate(interPem);
      if (!inter.verify(root.publicKey) || !inter.checkIssued(root)) return false;
      if (Date.parse(root.validTo) < horizon || Date.parse(inter.validTo) < horizon) return false;
    }
    // The keys must be the certificates' keys (a hand-edited folder must not half-work).
    const same = (certPem: string, keyPem: string) =>
      new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
    return (
      same(m.root, m.rootKey) &&
      same(m.intermediate, m.intermediateKey) &&
      same(m.untrustedRoot, m.untrustedRootKey) &&
      same(m.untrustedIntermediate, m.untrustedIntermediateKey) &&
      keyPairOf(m.leafKey).publicKeyPem.length > 0 &&
      keyPairOf(m.weakKey).publicKeyPem.length > 0
    );
  } catch {
    return false; // unparsable PEM: recreate rather than serve a half-broken lab
  }
}

function saveMaterial(dir: string, m: Material): void {
  // Write every file under a temporary name, then rename: a crash leaves either the old
  // complete set or files that fail `usable` and get recreated.
  for (const k of Object.keys(FILES) as FileKey[]) {
    const target = path.join(dir, FILES[k]);
    const tmp = `${target}.${process.pid}.tmp`;
    const isKey = FILES[k].endsWith('.key');
    try {
      writeFileSync(tmp, m[k], { mode: isKey ? 0o600 : 0o644 });
      renameSync(tmp, target);
      chmodSync(target, isKey ? 0o600 : 0o644);
    } catch (err) {
      throw new LabError('config', `cannot write ${target}`, String(err), { cause: err });
    }
  }
}

/**
 * The lab root as created by an earlier `startLab` (the victim trusts it), without creating
 * anything: a victim must trust the root the running lab serves, not a new one.
 */
export function readLabRoot(dir: string): { pem: string; path: string } {
  const file = path.join(path.resolve(dir), FILES.root);
  try {
    const pem = readFileSync(file, 'utf8');
    new X509Certificate(pem); // throws on garbage
    return { pem, path: file };
  } catch (err) {
    throw new LabError(
      'config',
      `no lab public root in ${path.resolve(dir)}`,
      'start the lab first (`npm start` or `mitm-lab lab`), with the same --ca-dir',
      { cause: err },
    );
  }
}
