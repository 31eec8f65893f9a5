// The throwaway certificate authority: created on first use (or by `mitm-lab ca init`),
// loaded and checked otherwise, and the fast leaf minter the proxy engine calls for every
// intercepted host. Safety first (DESIGN.md "ca"): a unique dated name that says what it is,
// a short life, name constraints to lab names by default, keys 0600 in a 0700 folder.
//
// The files sit where http-mitm-proxy looks (`certs/ca.pem`, `keys/ca.private.key`,
// `keys/ca.public.key`), so the library loads this CA and never mints its own.
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
} from 'node:crypto';
import {
  chmodSync,
  existsSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { CertSummary } from '../events/types.ts';
import { makeDirs } from '../util/dirs.ts';
import { LabError } from '../util/lab-error.ts';
import { describeCertificate, describeKey, fingerprint256 } from './describe.ts';
import {
  buildCertificate,
  buildCertificateAsync,
  type CertSpec,
  generateEcKeyPair,
  generateRsaKeyPair,
  keyType,
  pemToDer,
  randomSerialHex,
  readNameConstraints,
} from './forge.ts';
import { hostKind, normalizeHost, normalizePermit, withinConstraints } from './names.ts';
import { shiftOldest } from '../util/bounded.ts';

/** Default CA lifetime: a month is long enough for a course and short enough to be forgotten safely. */
export const CA_DAYS_DEFAULT = 30;
/** Longest CA lifetime `--days` accepts: this is a throwaway, not infrastructure. */
export const CA_DAYS_MAX = 397;
/** Leaves live at most this long (and never past the CA). */
export const LEAF_DAYS_MAX = 30;
/** notBefore is backdated by a day so a client whose clock runs a little slow still accepts. */
const BACKDATE_MS = 24 * 60 * 60 * 1000;
/** Re-mint a cached leaf when it has less than this left (a long-running proxy). */
const LEAF_RENEW_MS = 24 * 60 * 60 * 1000;
/** Leaves kept in memory: one per host; a workshop touches tens, a crawl thousands. */
export const LEAF_CACHE_MAX = 1000;
/** RSA-2048: what browsers accept everywhere and node:crypto generates in ~50–200 ms. */
const KEY_BITS = 2048;
/**
 * The key every forged leaf shares: ECDSA P-256 by default — a forged handshake signs with it in
 * about a tenth of RSA-2048's time (issue 12), and curl, Python, OpenSSL, Node, wget, Chromium and
 * Firefox accept it — or RSA-2048 (`--leaf-key rsa`) for a client that takes only RSA. The CA
 * itself is RSA-2048 either way, so trusting it covers both.
 */
export const LEAF_KEY_TYPES = ['ecdsa', 'rsa'] as const;
export type LeafKeyType = (typeof LEAF_KEY_TYPES)[number];
export const DEFAULT_LEAF_KEY: LeafKeyType = 'ecdsa';
/** How each leaf key type is named to people. */
export const LEAF_KEY_NAMES: Record<LeafKeyType, string> = {
  ecdsa: 'ECDSA P-256',
  rsa: 'RSA-2048',
};
/** The organisation every certificate of ours carries, so anyone inspecting one knows. */
export const CA_ORGANISATION = 'mitm-lab — for lab use only';
/** Permitted DNS subtrees by default: RFC 2606 `.test` names and RFC 6761 `localhost`. */
export const DEFAULT_PERMITTED_DNS: readonly string[] = ['test', 'localhost'];
/**
 * Permitted IP subtrees by default: loopback only. Without an iPAddress subtree, IP SANs
 * would be unconstrained (constraints apply per name type), and the CA could then forge a
 * certificate for any site reached by address.
 */
export const DEFAULT_PERMITTED_IPS: readonly string[] = ['127.0.0.0/8', '::1/128'];

export interface CaOptions {
  /** The CA folder, e.g. `<project>/certs`; created 0700 when missing. */
  dir: string;
  /** CA lifetime in days when created (default 30). */
  days?: number;
  /** Extra permitted names when created: DNS names (covering their subdomains), IPs or CIDRs. */
  permit?: string[];
  /** No name constraints when created: the CA can then impersonate any site. */
  unconstrained?: boolean;
  /** Create the CA when missing (default true); false → LabError('config') when there is none. */
  create?: boolean;
  /** Open an expired CA anyway (for `ca info` to describe it); mintLeaf still refuses. */
  allowExpired?: boolean;
  /** The key the forged leaves share (default ECDSA P-256; made when missing). */
  leafKey?: LeafKeyType;
}

/** One minted leaf certificate (all leaves of a CA share one key). */
export interface Leaf {
  /** The normalised host it names (DNS name or IP literal). */
  host: string;
  certPem: string;
  keyPem: string;
  /** True when it came from the cache. */
  cached: boolean;
  /**
   * Milliseconds from asking for the leaf to having it (mintLeafAsync: including the wait for
   * the thread pool's signature).
   */
  mintMs: number;
  summary: CertSummary;
}

export interface Ca {
  /** The CA folder. */
  dir: string;
  /** `<dir>/certs/ca.pem`: the certificate to give clients. */
  certPath: string;
  /** `<dir>/keys/ca.private.key` (0600). */
  keyPath: string;
  /** `<dir>/keys/ca.public.key`. */
  publicKeyPath: string;
  /**
   * The key all leaves share (0600): `<dir>/keys/leaf-ecdsa.private.key`, or
   * `<dir>/keys/leaf.private.key` for RSA (`leafKeyType`).
   */
  leafKeyPath: string;
  /** What kind of key the leaves share. */
  leafKeyType: LeafKeyType;
  /**
   * SHA-256 of the shared leaf key's SubjectPublicKeyInfo, base64. This, not the CA's, is what
   * Chromium's `--ignore-certificate-errors-spki-list` matches: it compares the list with the
   * certificates the server sends, and the proxy sends only the leaf (test/e2e/chromium).
   */
  leafSpkiSha256: string;
  certPem: string;
  /** Subject CN, e.g. `mitm-lab throwaway CA 2026-11-23 3f9a1c`. */
  name: string;
  summary: CertSummary;
  /**
   * Permitted subtrees, null when unconstrained: DNS names (`test`, `localhost`) then IP
   * ranges in CIDR form (`127.0.0.0/8`, `::1/128`).
   */
  constraints: string[] | null;
  /** True when this call created the CA. */
  created: boolean;
  /** May this CA sign `host` (name constraints)? False for an invalid name. */
  permits(host: string): boolean;
  /** Sync, fast, cached; throws LabError for bad or not-permitted names. */
  mintLeaf(host: string): Leaf;
  /**
   * The same, with the signature computed off the event loop (libuv's thread pool); rejects
   * with the same LabError. A cached leaf resolves at once; concurrent mints of one new host
   * share one signature.
   */
  mintLeafAsync(host: string): Promise<Leaf>;
}

/** Where each file of a CA folder lives. */
export function caPaths(dir: string) {
  const root = path.resolve(dir);
  return {
    dir: root,
    certPath: path.join(root, 'certs', 'ca.pem'),
    keyPath: path.join(root, 'keys', 'ca.private.key'),
    publicKeyPath: path.join(root, 'keys', 'ca.public.key'),
    /** The shared RSA-2048 leaf key (the name older CAs have). */
    leafKeyPath: path.join(root, 'keys', 'leaf.private.key'),
    /** The shared ECDSA P-256 leaf key. */
    leafEcdsaKeyPath: path.join(root, 'keys', 'leaf-ecdsa.private.key'),
  };
}

/** Where the shared leaf key of each type lives in a CA folder. */
export function leafKeyPathOf(dir: string, type: LeafKeyType): string {
  const p = caPaths(dir);
  return type === 'ecdsa' ? p.leafEcdsaKeyPath : p.leafKeyPath;
}

/**
 * The SHA-256 of a private key's SubjectPublicKeyInfo, base64: what Chromium's
 * `--ignore-certificate-errors-spki-list` names.
 */
export function spkiSha256(privateKeyPem: string): string {
  return createHash('sha256')
    .update(createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' }))
    .digest('base64');
}

/** The shared leaf keys a CA folder holds, by type, with their SPKI hashes (for `ca info`). */
export function leafKeys(dir: string): { type: LeafKeyType; path: string; spkiSha256: string }[] {
  const out: { type: LeafKeyType; path: string; spkiSha256: string }[] = [];
  for (const type of LEAF_KEY_TYPES) {
    const file = leafKeyPathOf(dir, type);
    if (!existsSync(file)) continue;
    try {
      out.push({ type, path: file, spkiSha256: spkiSha256(readFileSync(file, 'utf8')) });
    } catch {
      continue; // unreadable: loadCa says so when that key is used
    }
  }
  return out;
}

/** Open the CA in `opts.dir`, creating it when missing (unless `create: false`). */
export async function openCa(opts: CaOptions): Promise<Ca> {
  const p = caPaths(opts.dir);
  if (!caExists(opts.dir)) {
    if (opts.create === false)
      throw new LabError('config', `no CA in ${p.dir}`, 'run `mitm-lab ca init` to create one');
    try {
      createCa(p, opts);
      return loadCa(p, true, false, opts.leafKey ?? DEFAULT_LEAF_KEY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process created the key first: fall through and wait for its certificate.
    }
  }
  await waitWhileBeingCreated(p);
  return loadCa(p, false, opts.allowExpired === true, opts.leafKey ?? DEFAULT_LEAF_KEY);
}

/** How long a CA key without its certificate counts as "being created" by another process. */
const CREATING_GRACE_MS = 15_000;

async function waitWhileBeingCreated(p: ReturnType<typeof caPaths>): Promise<void> {
  for (let i = 0; i < CREATING_GRACE_MS / 50; i++) {
    if (existsSync(p.certPath) || !existsSync(p.keyPath)) return;
    if (Date.now() - statSync(p.keyPath).mtimeMs > CREATING_GRACE_MS) return; // a crash: report it
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** True when the folder holds any CA file (complete or not). */
export function caExists(dir: string): boolean {
  const p = caPaths(dir);
  return existsSync(p.certPath) || existsSync(p.keyPath);
}

/** Delete the CA files (and the shared leaf key); returns the paths removed. */
export function removeCa(dir: string): string[] {
  const p = caPaths(dir);
  const removed: string[] = [];
  for (const file of [p.certPath, p.keyPath, p.publicKeyPath, p.leafKeyPath, p.leafEcdsaKeyPath]) {
    if (existsSync(file)) {
      rmSync(file);
      removed.push(file);
    }
  }
  return removed;
}

function createCa(p: ReturnType<typeof caPaths>, opts: CaOptions): void {
  const days = opts.days ?? CA_DAYS_DEFAULT;
  if (!Number.isInteger(days) || days < 1 || days > CA_DAYS_MAX)
    throw new LabError('usage', `CA lifetime must be 1 to ${CA_DAYS_MAX} days, got ${days}`);
  const dns = [...DEFAULT_PERMITTED_DNS];
  const ips = [...DEFAULT_PERMITTED_IPS];
  for (const value of opts.permit ?? []) {
    const { kind, base } = normalizePermit(value);
    const list = kind === 'dns' ? dns : ips;
    if (!list.includes(base)) list.push(base);
  }
  if (opts.unconstrained && opts.permit && opts.permit.length > 0)
    throw new LabError('usage', '--permit and --unconstrained contradict each other', 'give one');

  makePrivateDir(p.dir);
  makePrivateDir(path.dirname(p.certPath));
  makePrivateDir(path.dirname(p.keyPath));

  const now = Date.now();
  const date = new Date(now).toISOString().slice(0, 10);
  // Two mitm-lab processes may start at once on a fresh folder: the CA key is created
  // exclusively ('wx'), and the loser waits for the winner's certificate (openCa).
  const name = `mitm-lab throwaway CA ${date} ${randomBytes(3).toString('hex')}`;
  const caKey = generateRsaKeyPair(KEY_BITS);
  // Both leaf keys now (the ECDSA one is the default; the RSA one serves --leaf-key rsa).
  const leafKey = generateRsaKeyPair(KEY_BITS);
  const leafEcdsaKey = generateEcKeyPair();
  const certPem = buildCertificate({
    subject: { CN: name, O: CA_ORGANISATION },
    publicKeyPem: caKey.publicKeyPem,
    issuer: { selfSignWith: caKey.privateKeyPem },
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + days * 24 * 60 * 60 * 1000),
    isCa: true,
    pathLen: 0,
    ...(opts.unconstrained ? {} : { permittedDns: dns, permittedIps: ips }),
  });
  // Keys first and the certificate last: a crash midway leaves no ca.pem that looks complete.
  writeFileSync(p.keyPath, caKey.privateKeyPem, { mode: 0o600, flag: 'wx' });
  chmodSync(p.keyPath, 0o600);
  writeFileSync(p.publicKeyPath, caKey.publicKeyPem, { mode: 0o644 });
  writePrivate(p.leafKeyPath, leafKey.privateKeyPem);
  writePrivate(p.leafEcdsaKeyPath, leafEcdsaKey.privateKeyPem);
  // Renamed into place, so a process waiting for it never reads half a certificate.
  const staging = `${p.certPath}.${process.pid}.tmp`;
  writeFileSync(staging, certPem, { mode: 0o644 });
  renameSync(staging, p.certPath);
}

/** Entries a folder may hold for us to treat it as the CA's own (and tighten it to 0700). */
const CA_FOLDER_ENTRIES = new Set(['certs', 'keys', 'README.md', '.gitkeep']);

/**
 * Make `dir` (0700). An existing folder is tightened only when it is clearly the CA's own —
 * `--ca-dir /tmp` or a home folder must never be chmod-ed; the keys inside are 0600 anyway.
 */
function makePrivateDir(dir: string): void {
  let created: string | undefined;
  try {
    created = makeDirs(dir, 0o700);
  } catch (err) {
    // The folder comes from --ca-dir or MITM_LAB_CA_DIR: a usage problem, said in a sentence.
    throw new LabError(
      'usage',
      `cannot create the CA folder ${dir}: ${(err as Error).message}`,
      'give --ca-dir (or MITM_LAB_CA_DIR) a folder you can create and write',
      { cause: err },
    );
  }
  if (created !== undefined || readdirSync(dir).every((e) => CA_FOLDER_ENTRIES.has(e)))
    chmodSync(dir, 0o700); // mkdir's mode is masked by the umask and skips existing folders
}

function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its old mode through writeFileSync
}

function readOrFail(file: string, what: string): string {
  if (!existsSync(file))
    throw new LabError(
      'config',
      `the CA in ${path.dirname(path.dirname(file))} is incomplete: ${what} ${file} is missing`,
      'run `mitm-lab ca init --force` to replace it with a new CA (then trust the new one)',
    );
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new LabError(
      'config',
      `cannot read ${what} ${file}: ${(err as Error).message}`,
      'check its owner and permissions',
      { cause: err },
    );
  }
}

function loadCa(
  p: ReturnType<typeof caPaths>,
  created: boolean,
  allowExpired: boolean,
  leafKeyType: LeafKeyType,
): Ca {
  const certPem = readOrFail(p.certPath, 'the CA certificate');
  const keyPem = readOrFail(p.keyPath, 'the CA private key');
  const replace =
    'run `mitm-lab ca init --force` to replace it with a new CA (then trust the new one)';
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    throw new LabError('config', `${p.certPath} is not a readable certificate`, replace, {
      cause: err,
    });
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new LabError('config', `${p.keyPath} is not a readable private key`, replace, {
      cause: err,
    });
  }
  if (!x509.checkPrivateKey(key))
    throw new LabError(
      'config',
      `the CA key ${p.keyPath} does not match the certificate ${p.certPath}`,
      replace,
    );
  if (!x509.ca) throw new LabError('config', `${p.certPath} is not a CA certificate`, replace);
  const notAfter = new Date(x509.validTo).getTime();
  if (notAfter <= Date.now() && !allowExpired)
    throw new LabError(
      'config',
      `the CA in ${p.dir} expired on ${new Date(notAfter).toISOString().slice(0, 10)}`,
      'run `mitm-lab ca init --force` to make a new one (then trust the new one)',
    );
  // Keys must stay private even if someone copied the folder around with a loose umask.
  chmodSync(p.keyPath, 0o600);

  const leafKeyPath = leafKeyPathOf(p.dir, leafKeyType);
  const leafKeyPem = readOrMakeLeafKey(leafKeyPath, leafKeyType);
  if (!existsSync(p.publicKeyPath))
    writeFileSync(
      p.publicKeyPath,
      createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string,
      { mode: 0o644 },
    );

  const nc = readNameConstraints(certPem);
  const dns = nc?.dns ?? [];
  const ips = nc?.ips ?? [];
  const summary = describeCertificate(certPem);
  return new Authority(
    p,
    leafKeyPath,
    leafKeyType,
    certPem,
    keyPem,
    leafKeyPem,
    summary,
    nc ? [...dns, ...ips] : null,
    dns,
    ips,
    x509,
    created,
  );
}

/**
 * The shared leaf key of `type` at `file`: read (and checked to be that type), or made when
 * missing — a CA written by http-mitm-proxy or an older mitm-lab lacks the ECDSA one. Two
 * processes may make it at once: the file is created exclusively, and the loser reads it.
 */
function readOrMakeLeafKey(file: string, type: LeafKeyType): string {
  if (!existsSync(file)) {
    const pem = (type === 'ecdsa' ? generateEcKeyPair() : generateRsaKeyPair(KEY_BITS))
      .privateKeyPem;
    try {
      writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
      return pem;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const pem = readOrFail(file, 'the leaf key');
  let actual: string;
  try {
    actual = keyType(pem);
  } catch (err) {
    throw new LabError(
      'config',
      `${file} is not a readable private key`,
      `delete it and a new one is made`,
      { cause: err },
    );
  }
  if (actual !== (type === 'ecdsa' ? 'ec' : 'rsa'))
    throw new LabError(
      'config',
      `${file} holds a ${actual.toUpperCase()} key, not the ${LEAF_KEY_NAMES[type]} key the leaves should share`,
      `delete it and a new one is made`,
    );
  chmodSync(file, 0o600);
  return pem;
}

class Authority implements Ca {
  readonly dir: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly publicKeyPath: string;
  readonly leafSpkiSha256: string;
  readonly name: string;
  private readonly leafPublicKeyPem: string;
  /** The shared leaf key as a summary names it (`EC prime256v1`, `RSA 2048`). */
  private readonly leafKeyDescription: string;
  private readonly caNotBefore: number;
  private readonly caNotAfter: number;
  /** Map iteration order is insertion order: re-inserting on a hit makes it an LRU. */
  private readonly cache = new Map<
    string,
    { leaf: Omit<Leaf, 'cached' | 'mintMs'>; renewAt: number }
  >();
  /** Leaves being signed off the event loop, by host (mintLeafAsync). */
  private readonly minting = new Map<string, Promise<Leaf>>();

  constructor(
    p: ReturnType<typeof caPaths>,
    readonly leafKeyPath: string,
    readonly leafKeyType: LeafKeyType,
    readonly certPem: string,
    private readonly keyPem: string,
    private readonly leafKeyPem: string,
    readonly summary: CertSummary,
    readonly constraints: string[] | null,
    private readonly dns: string[],
    private readonly ips: string[],
    x509: X509Certificate,
    readonly created: boolean,
  ) {
    this.dir = p.dir;
    this.certPath = p.certPath;
    this.keyPath = p.keyPath;
    this.publicKeyPath = p.publicKeyPath;
    this.name = summary.subjectCN ?? summary.subject;
    const leafPublicKey = createPublicKey(leafKeyPem);
    this.leafPublicKeyPem = leafPublicKey.export({ type: 'spki', format: 'pem' }) as string;
    this.leafKeyDescription = describeKey(leafPublicKey);
    this.leafSpkiSha256 = spkiSha256(leafKeyPem);
    this.caNotBefore = new Date(x509.validFrom).getTime();
    this.caNotAfter = new Date(x509.validTo).getTime();
  }

  permits(host: string): boolean {
    let h: string;
    try {
      h = normalizeHost(host);
    } catch {
      return false; // not a valid name: no CA may sign it
    }
    return this.permitsNormalized(h);
  }

  private permitsNormalized(h: string): boolean {
    return this.constraints === null || withinConstraints(h, this.dns, this.ips);
  }

  mintLeaf(host: string): Leaf {
    const t0 = performance.now();
    const h = normalizeHost(host);
    const hit = this.fromCache(h, t0);
    if (hit) return hit;
    const plan = this.plan(h);
    return this.keep(plan, buildCertificate(plan.spec), t0);
  }

  mintLeafAsync(host: string): Promise<Leaf> {
    const t0 = performance.now();
    let h: string;
    let plan: MintPlan;
    try {
      h = normalizeHost(host);
      const hit = this.fromCache(h, t0);
      if (hit) return Promise.resolve(hit);
      // Two CONNECTs to the same new host at once share one mint.
      const running = this.minting.get(h);
      if (running) return running.then((leaf) => ({ ...leaf, cached: true, mintMs: 0 }));
      plan = this.plan(h);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const minted = buildCertificateAsync(plan.spec)
      .then((certPem) => this.keep(plan, certPem, t0))
      .finally(() => this.minting.delete(h));
    this.minting.set(h, minted);
    return minted;
  }

  /** A fresh cached leaf for `h` (marked cached, most recently used), or null. */
  private fromCache(h: string, t0: number): Leaf | null {
    const hit = this.cache.get(h);
    if (!hit || hit.renewAt <= Date.now()) return null;
    this.cache.delete(h);
    this.cache.set(h, hit);
    return { ...hit.leaf, cached: true, mintMs: performance.now() - t0 };
  }

  /** What a leaf for `h` will say; throws LabError when this CA may not sign it now. */
  private plan(h: string): MintPlan {
    if (!this.permitsNormalized(h)) {
      throw new LabError(
        'config',
        `${h} is outside the name constraints of the CA "${this.name}" (permitted: ${(this.constraints ?? []).join(', ')})`,
        `to intercept it, make a fresh CA that permits it: \`mitm-lab ca init --force --permit ${h}\` (or --unconstrained, which lets the CA impersonate any site), then trust the new CA`,
      );
    }
    const now = Date.now();
    if (now >= this.caNotAfter)
      throw new LabError(
        'config',
        `the CA "${this.name}" has expired`,
        'run `mitm-lab ca init --force` to make a new one (then trust the new one)',
      );
    const isIp = hostKind(h) !== 'dns';
    const notAfter = Math.min(this.caNotAfter, now + LEAF_DAYS_MAX * 24 * 60 * 60 * 1000);
    return {
      host: h,
      now,
      notAfter,
      spec: {
        // An IP leaf has no CN: OpenSSL would read "127.0.0.1" as a DNS name against the DNS
        // constraints and refuse it (RFC 6125 has clients match the SAN, never the CN, anyway).
        // ub-common-name is 64 characters; a longer DNS name is named by its SAN alone.
        subject: !isIp && h.length <= 64 ? { CN: h, O: CA_ORGANISATION } : { O: CA_ORGANISATION },
        publicKeyPem: this.leafPublicKeyPem,
        issuer: { certPem: this.certPem, privateKeyPem: this.keyPem },
        notBefore: new Date(Math.max(this.caNotBefore, now - BACKDATE_MS)),
        notAfter: new Date(notAfter),
        sans: [isIp ? `IP:${h}` : `DNS:${h}`],
        serialHex: randomSerialHex(),
      },
    };
  }

  /**
   * What `summarize` would read from the signed leaf, from what this CA put in it: parsing the
   * certificate again to learn what we just wrote was ~0.35 ms of every mint on the event loop
   * (issue 12, item 3). Each field as OpenSSL prints it (test/ca/authority.test.ts holds the two
   * equal for DNS names, long names, IPv4 and IPv6, with either leaf key).
   */
  private leafSummary({ spec }: MintPlan, certPem: string): CertSummary {
    const { CN, O } = spec.subject;
    // Certificates carry whole seconds (UTCTime): the milliseconds are dropped, not rounded.
    const seconds = (d: Date): string =>
      new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString();
    return {
      subject: [CN === undefined ? null : `CN=${CN}`, O === undefined ? null : `O=${O}`]
        .filter((part) => part !== null)
        .join(', '),
      subjectCN: CN ?? null,
      issuer: this.summary.subject,
      sans: spec.sans,
      notBefore: seconds(spec.notBefore),
      notAfter: seconds(spec.notAfter),
      serial: spec.serialHex.toLowerCase(),
      sha256: fingerprint256(pemToDer(certPem)),
      spkiSha256: this.leafSpkiSha256,
      key: this.leafKeyDescription,
      selfSigned: false,
    };
  }

  /** The signed leaf, summarised and cached. */
  private keep(plan: MintPlan, certPem: string, t0: number): Leaf {
    const { host: h, now, notAfter } = plan;
    const leaf = {
      host: h,
      certPem,
      keyPem: this.leafKeyPem,
      summary: this.leafSummary(plan, certPem),
    };
    if (this.cache.size >= LEAF_CACHE_MAX) shiftOldest(this.cache);
    this.cache.set(h, {
      leaf,
      renewAt: Math.max(notAfter - LEAF_RENEW_MS, notAfter - (notAfter - now) / 2),
    });
    return { ...leaf, cached: false, mintMs: performance.now() - t0 };
  }
}

/** A leaf about to be signed: its host, its certificate's contents, and when it was planned. */
interface MintPlan {
  host: string;
  now: number;
  notAfter: number;
  /** What is signed; the serial and the names are always set (the summary repeats them). */
  spec: CertSpec & { serialHex: string; sans: string[] };
}

/** File modes of a CA folder, for `ca info` and tests: octal strings like `600`. */
export function caModes(dir: string): Record<string, string> {
  const p = caPaths(dir);
  const out: Record<string, string> = {};
  for (const file of [
    p.dir,
    path.dirname(p.keyPath),
    p.keyPath,
    p.leafKeyPath,
    p.leafEcdsaKeyPath,
    p.certPath,
  ]) {
    if (existsSync(file)) out[file] = (statSync(file).mode & 0o777).toString(8);
  }
  return out;
}
