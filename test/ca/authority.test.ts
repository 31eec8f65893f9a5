import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LEAF_CACHE_MAX,
  describeCertificate,
  generateRsaKeyPair,
  openCa,
  type Ca,
} from '../../src/ca/index.ts';
import { LabError } from '../../src/util/lab-error.ts';
import { nodeConnect, startTlsServer, tempDir, writeExpiredCa } from './helpers.ts';

const DAY = 86_400_000;
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

async function labError(p: Promise<unknown>): Promise<LabError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LabError) return err;
    throw err;
  }
  throw new Error('expected a LabError');
}

describe('openCa', () => {
  const tmp = tempDir();
  const dir = path.join(tmp.dir, 'certs');
  let ca: Ca;
  const before = Date.now();
  beforeAll(async () => {
    ca = await openCa({ dir });
  });
  afterAll(() => tmp.cleanup());

  it('creates the files where http-mitm-proxy looks, keys 0600 in 0700 folders', () => {
    expect(ca.created).toBe(true);
    expect(ca.certPath).toBe(path.join(dir, 'certs', 'ca.pem'));
    expect(ca.keyPath).toBe(path.join(dir, 'keys', 'ca.private.key'));
    expect(readdirSync(path.join(dir, 'keys')).sort()).toEqual([
      'ca.private.key',
      'ca.public.key',
      'leaf-ecdsa.private.key',
      'leaf.private.key',
    ]);
    expect(mode(dir)).toBe('700');
    expect(mode(path.join(dir, 'keys'))).toBe('700');
    expect(mode(path.join(dir, 'certs'))).toBe('700');
    expect(mode(ca.keyPath)).toBe('600');
    expect(mode(ca.leafKeyPath)).toBe('600');
    expect(readFileSync(ca.certPath, 'utf8')).toBe(ca.certPem);
  });

  it('names itself uniquely and says what it is', async () => {
    const today = new Date().toISOString().slice(0, 10);
    expect(ca.name).toMatch(new RegExp(`^mitm-lab throwaway CA ${today} [0-9a-f]{6}$`));
    expect(ca.summary.subject).toBe(`CN=${ca.name}, O=mitm-lab — for lab use only`);
    expect(ca.summary.selfSigned).toBe(true);
    const other = tempDir();
    try {
      const second = await openCa({ dir: other.dir });
      expect(second.name).not.toBe(ca.name);
    } finally {
      other.cleanup();
    }
  });

  it('is backdated a day and lives 30 days by default', () => {
    const nb = Date.parse(ca.summary.notBefore);
    const na = Date.parse(ca.summary.notAfter);
    expect(nb).toBeGreaterThan(before - DAY - 2000);
    expect(nb).toBeLessThanOrEqual(Date.now() - DAY + 1000);
    expect(Math.round((na - nb) / DAY)).toBe(31);
    expect(new X509Certificate(ca.certPem).ca).toBe(true);
  });

  it('is name-constrained to lab names and loopback by default', () => {
    expect(ca.constraints).toEqual(['test', 'localhost', '127.0.0.0/8', '::1/128']);
    expect(ca.permits('shop.test')).toBe(true);
    expect(ca.permits('x.localhost')).toBe(true);
    expect(ca.permits('::1')).toBe(true);
    expect(ca.permits('example.com')).toBe(false);
    expect(ca.permits('../../x')).toBe(false);
  });

  it('loads the same CA the next time, checking it', async () => {
    const again = await openCa({ dir, create: false });
    expect(again.created).toBe(false);
    expect(again.summary.sha256).toBe(ca.summary.sha256);
    expect(again.constraints).toEqual(ca.constraints);
  });

  it('is loaded as is by http-mitm-proxy (which then mints no CA of its own)', async () => {
    const require = createRequire(import.meta.url);
    const { default: HmpCa } = require('http-mitm-proxy/dist/lib/ca.js') as {
      default: { create(dir: string, cb: (err: unknown, ca: unknown) => void): void };
    };
    const loaded = await new Promise<{ getPem(): string }>((resolve, reject) =>
      HmpCa.create(dir, (err, c) => (err ? reject(err) : resolve(c as { getPem(): string }))),
    );
    expect(new X509Certificate(loaded.getPem()).fingerprint256).toBe(ca.summary.sha256);
    expect(readFileSync(ca.certPath, 'utf8')).toBe(ca.certPem);
  });
});

describe('openCa options and failures', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const sub = (name: string) => path.join(tmp.dir, name);

  it('takes --days, --permit and --unconstrained when it creates', async () => {
    const short = await openCa({ dir: sub('short'), days: 3 });
    expect(
      Math.round((Date.parse(short.summary.notAfter) - Date.parse(short.summary.notBefore)) / DAY),
    ).toBe(4);
    const permitted = await openCa({ dir: sub('permit'), permit: ['*.Example.com', '10.0.0.0/8'] });
    expect(permitted.constraints).toEqual([
      'test',
      'localhost',
      'example.com',
      '127.0.0.0/8',
      '::1/128',
      '10.0.0.0/8',
    ]);
    expect(permitted.mintLeaf('www.example.com').summary.sans).toEqual(['DNS:www.example.com']);
    expect(permitted.mintLeaf('10.2.3.4').summary.sans).toEqual(['IP:10.2.3.4']);
    expect(permitted.permits('example.org')).toBe(false);
    const open = await openCa({ dir: sub('open'), unconstrained: true });
    expect(open.constraints).toBeNull();
    expect(open.permits('example.com')).toBe(true);
    expect(open.mintLeaf('example.com').summary.subjectCN).toBe('example.com');
  });

  it('in a shared existing folder, locks down only its own keys/ (never chmods e.g. /tmp)', async () => {
    const shared = sub('shared');
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    writeFileSync(path.join(shared, 'someone-elses.txt'), 'x');
    const ca = await openCa({ dir: shared });
    expect(mode(shared)).toBe('755');
    expect(mode(path.join(shared, 'keys'))).toBe('700');
    expect(mode(ca.keyPath)).toBe('600');
    // The project's certs/ folder (README.md, .gitkeep) is the CA's own: it becomes 0700.
    const project = sub('project-certs');
    mkdirSync(project, { mode: 0o755 });
    chmodSync(project, 0o755);
    writeFileSync(path.join(project, 'README.md'), '# certs');
    writeFileSync(path.join(project, '.gitkeep'), '');
    await openCa({ dir: project });
    expect(mode(project)).toBe('700');
  });

  it('refuses bad options', async () => {
    expect((await labError(openCa({ dir: sub('bad1'), days: 0 }))).kind).toBe('usage');
    expect((await labError(openCa({ dir: sub('bad2'), permit: ['a..b'] }))).kind).toBe('usage');
  });

  it('says "no CA" with the command to make one when create is false', async () => {
    const err = await labError(openCa({ dir: sub('none'), create: false }));
    expect(err.kind).toBe('config');
    expect(err.message).toBe(`no CA in ${sub('none')}`);
    expect(err.hint).toMatch(/mitm-lab ca init/);
  });

  it('refuses a CA whose key does not match its certificate', async () => {
    const dir = sub('mismatch');
    const ca = await openCa({ dir });
    writeFileSync(ca.keyPath, generateRsaKeyPair(2048).privateKeyPem);
    const err = await labError(openCa({ dir }));
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(/does not match the certificate/);
    expect(err.hint).toMatch(/ca init --force/);
  });

  it('refuses an unreadable certificate, a garbage key and a missing key', async () => {
    const dir = sub('garbage');
    const ca = await openCa({ dir });
    const keyPem = readFileSync(ca.keyPath, 'utf8');
    writeFileSync(ca.certPath, 'not a certificate');
    expect((await labError(openCa({ dir }))).message).toMatch(/is not a readable certificate/);
    writeFileSync(ca.certPath, ca.certPem);
    writeFileSync(ca.keyPath, 'garbage');
    expect((await labError(openCa({ dir }))).message).toMatch(/is not a readable private key/);
    rmSync(ca.keyPath);
    expect((await labError(openCa({ dir }))).message).toMatch(/incomplete.*private key.*missing/);
    writeFileSync(ca.keyPath, keyPem, { mode: 0o644 });
    const ok = await openCa({ dir });
    expect(ok.summary.sha256).toBe(ca.summary.sha256);
    expect(mode(ca.keyPath)).toBe('600'); // a loosened key is tightened again on load
  });

  it('refuses an expired CA with the fix; allowExpired opens it but it mints nothing', async () => {
    const dir = sub('expired');
    writeExpiredCa(dir);
    const err = await labError(openCa({ dir }));
    expect(err.message).toMatch(/expired on \d{4}-\d{2}-\d{2}/);
    expect(err.hint).toMatch(/ca init --force/);
    const old = await openCa({ dir, allowExpired: true });
    expect(() => old.mintLeaf('shop.test')).toThrow(/has expired/);
  });

  it('adds a shared leaf key to a CA folder that has none, of the kind asked for', async () => {
    const dir = sub('noleaf');
    const ca = await openCa({ dir });
    expect(ca.leafKeyPath).toBe(path.join(dir, 'keys', 'leaf-ecdsa.private.key'));
    rmSync(ca.leafKeyPath);
    rmSync(path.join(dir, 'keys', 'leaf.private.key'));
    const again = await openCa({ dir });
    expect(mode(again.leafKeyPath)).toBe('600');
    expect(again.mintLeaf('shop.test').keyPem).toBe(readFileSync(again.leafKeyPath, 'utf8'));
    expect(again.mintLeaf('shop.test').summary.key).toBe('EC prime256v1');
    const rsa = await openCa({ dir, leafKey: 'rsa' });
    expect(rsa.leafKeyPath).toBe(path.join(dir, 'keys', 'leaf.private.key'));
    expect(mode(rsa.leafKeyPath)).toBe('600');
    expect(rsa.mintLeaf('shop.test').summary.key).toBe('RSA 2048');
  });

  it('refuses a leaf key file of the wrong kind, saying how to fix it', async () => {
    const dir = sub('wrongleaf');
    const ca = await openCa({ dir });
    writeFileSync(ca.leafKeyPath, generateRsaKeyPair(2048).privateKeyPem);
    const err = await labError(openCa({ dir }));
    expect(err.message).toContain('holds a RSA key, not the ECDSA P-256 key');
    expect(err.hint).toMatch(/delete it/);
  });
});

describe('mintLeaf', () => {
  const tmp = tempDir();
  let ca: Ca;
  beforeAll(async () => {
    ca = await openCa({ dir: tmp.dir });
  });
  afterAll(() => tmp.cleanup());

  it('is accepted by Node tls given the CA, refused without it', async () => {
    const leaf = ca.mintLeaf('shop.test');
    const server = await startTlsServer(leaf);
    try {
      expect(await nodeConnect(server.port, 'shop.test', [ca.certPem])).toBe('ok');
      expect(await nodeConnect(server.port, 'shop.test', undefined)).toMatch(
        /^UNABLE_TO_VERIFY_LEAF_SIGNATURE /,
      );
    } finally {
      await server.close();
    }
  });

  it('names the host in SAN and CN, backdated a day, within the CA lifetime', () => {
    const leaf = ca.mintLeaf('Shop.Test');
    expect(leaf.host).toBe('shop.test');
    expect(leaf.summary.sans).toEqual(['DNS:shop.test']);
    expect(leaf.summary.subjectCN).toBe('shop.test');
    expect(leaf.summary.issuer).toBe(ca.summary.subject);
    const nb = Date.parse(leaf.summary.notBefore);
    const na = Date.parse(leaf.summary.notAfter);
    expect(Date.now() - nb).toBeGreaterThan(DAY - 60_000);
    expect(na).toBeLessThanOrEqual(Date.parse(ca.summary.notAfter));
    expect(na - Date.now()).toBeLessThanOrEqual(30 * DAY);
    expect(leaf.summary.serial).toMatch(/^[0-9a-f]{32}$/);
  });

  it('adds an IP SAN for an address (no CN, which OpenSSL would test as a DNS name)', () => {
    const v4 = ca.mintLeaf('127.0.0.1');
    expect(v4.summary.sans).toEqual(['IP:127.0.0.1']);
    expect(v4.summary.subjectCN).toBeNull();
    expect(ca.mintLeaf('[::1]').summary.sans).toEqual(['IP:::1']);
  });

  it('shares one key across leaves, and caches each host', () => {
    const a = ca.mintLeaf('cache.test');
    const b = ca.mintLeaf('CACHE.test.');
    const c = ca.mintLeaf('other.test');
    expect(a.cached).toBe(false);
    expect(b.cached).toBe(true);
    expect(b.certPem).toBe(a.certPem);
    expect(c.certPem).not.toBe(a.certPem);
    expect(c.keyPem).toBe(a.keyPem);
    expect(a.summary.serial).not.toBe(c.summary.serial);
    expect(b.mintMs).toBeGreaterThanOrEqual(0);
  });

  it("summarises a leaf as the certificate itself says, its SPKI hash the shared key's", () => {
    const leaf = ca.mintLeaf('spki.test');
    // The summary takes the shared key's hash as known: it must be what the certificate holds.
    expect(leaf.summary).toEqual(describeCertificate(leaf.certPem));
    expect(leaf.summary.spkiSha256).toBe(ca.leafSpkiSha256);
  });

  // The summary is written from what the CA signed, not parsed back from the certificate
  // (issue 12): it must say exactly what OpenSSL reads, for every kind of name and either key.
  const names = [
    'plain.test',
    `${'l'.repeat(60)}.test`, // longer than a CN may be: no CN, named by its SAN alone
    'localhost',
    '127.0.0.1',
    '::1',
    '[2001:DB8:0:0:0:0:0:1]',
  ];
  for (const leafKey of ['ecdsa', 'rsa'] as const) {
    it(`writes each leaf's summary as OpenSSL reads the certificate (${leafKey} leaf key)`, async () => {
      const own = tempDir();
      try {
        const other = await openCa({ dir: own.dir, leafKey, permit: ['2001:db8::/32'] });
        for (const name of names) {
          const leaf = other.mintLeaf(name);
          expect(leaf.summary, name).toEqual(describeCertificate(leaf.certPem));
          // The same through the thread pool (a name of its own: a cached leaf is not minted).
          if (!/^[\d.:[\]A-F]+$/.test(name)) {
            const later = await other.mintLeafAsync(`a.${name}`);
            expect(later.summary, later.host).toEqual(describeCertificate(later.certPem));
          }
        }
        expect(other.mintLeaf('plain.test').summary.key).toBe(
          leafKey === 'ecdsa' ? 'EC prime256v1' : 'RSA 2048',
        );
      } finally {
        own.cleanup();
      }
    });
  }

  it(`keeps at most ${LEAF_CACHE_MAX} leaves, dropping the least recently used`, async () => {
    const small = await openCa({ dir: path.join(tmp.dir, 'lru') });
    const first = small.mintLeaf('h0.test');
    for (let i = 1; i < LEAF_CACHE_MAX; i++) small.mintLeaf(`h${i}.test`);
    expect(small.mintLeaf('h0.test').cached).toBe(true); // touched: now most recent
    small.mintLeaf('new.test'); // evicts h1, the least recently used
    expect(small.mintLeaf('h0.test').certPem).toBe(first.certPem);
    expect(small.mintLeaf('h1.test').cached).toBe(false);
  });

  it('refuses bad names with a usage error', () => {
    for (const bad of ['../../x', '', `${'a'.repeat(64)}.test`, 'a..b', 'shop test']) {
      expect(() => ca.mintLeaf(bad)).toThrow(LabError);
    }
  });

  it('refuses names outside the constraints, with the way to permit them', () => {
    let err: unknown;
    try {
      ca.mintLeaf('www.example.com');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).message).toMatch(/www\.example\.com is outside the name constraints/);
    expect((err as LabError).hint).toContain('mitm-lab ca init --force --permit www.example.com');
    expect((err as LabError).hint).toContain('--unconstrained');
  });
});

describe('mintLeafAsync', () => {
  const tmp = tempDir();
  let ca: Ca;
  beforeAll(async () => {
    ca = await openCa({ dir: tmp.dir });
  });
  afterAll(() => tmp.cleanup());

  it('signs off the calling turn of the event loop: the promise is still pending after every microtask', async () => {
    let settled = false;
    const p = ca.mintLeafAsync('later.test').finally(() => (settled = true));
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(settled).toBe(false);
    const leaf = await p;
    expect(leaf.cached).toBe(false);
    expect(leaf.host).toBe('later.test');
  });

  it('mints what mintLeaf mints: accepted by Node tls given the CA, summarised as itself', async () => {
    const leaf = await ca.mintLeafAsync('Async.Test');
    expect(leaf.summary).toEqual(describeCertificate(leaf.certPem));
    expect(leaf.summary.sans).toEqual(['DNS:async.test']);
    expect(leaf.summary.subjectCN).toBe('async.test');
    expect(leaf.summary.issuer).toBe(ca.summary.subject);
    expect(leaf.keyPem).toBe(ca.mintLeaf('other-async.test').keyPem);
    const server = await startTlsServer(leaf);
    try {
      expect(await nodeConnect(server.port, 'async.test', [ca.certPem])).toBe('ok');
    } finally {
      await server.close();
    }
  });

  it('shares the cache with mintLeaf, and concurrent mints of one host share one certificate', async () => {
    const [a, b] = await Promise.all([
      ca.mintLeafAsync('twice.test'),
      ca.mintLeafAsync('TWICE.test'),
    ]);
    expect(a.cached).toBe(false);
    expect(b.cached).toBe(true);
    expect(b.certPem).toBe(a.certPem);
    const sync = ca.mintLeaf('twice.test');
    expect(sync.cached).toBe(true);
    expect(sync.certPem).toBe(a.certPem);
    const again = await ca.mintLeafAsync('twice.test');
    expect(again.cached).toBe(true);
    expect(again.certPem).toBe(a.certPem);
  });

  it('rejects with the same LabError as mintLeaf for a name the CA may not sign', async () => {
    const err = await labError(ca.mintLeafAsync('example.com'));
    expect(err.message).toMatch(/outside the name constraints/);
    await expect(ca.mintLeafAsync('not a name')).rejects.toThrow();
    expect(() => ca.mintLeaf('not a name')).toThrow();
  });
});
