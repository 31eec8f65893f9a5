// scripts/trust-ca.sh and scripts/untrust-ca.sh: dry run by default (print, change nothing),
// and --yes for real against an NSS database in a temporary HOME. The Debian system store is
// only ever dry-run here: --yes would change this machine.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCertificate, generateRsaKeyPair, openCa, type Ca } from '../../src/ca/index.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';

const SCRIPTS = path.resolve(import.meta.dirname, '../../scripts');
const tmp = tempDir('mitm-lab-trust-');
const home = path.join(tmp.dir, 'home');
let ca: Ca;

function script(
  name: 'trust-ca.sh' | 'untrust-ca.sh',
  args: string[],
  env: NodeJS.ProcessEnv = {},
) {
  return runTool('bash', [path.join(SCRIPTS, name), ...args], {
    env: { ...process.env, HOME: home, MITM_LAB_CA_DIR: path.join(tmp.dir, 'unused'), ...env },
  });
}

beforeAll(async () => {
  mkdirSync(home);
  ca = await openCa({ dir: path.join(tmp.dir, 'ca') });
});
afterAll(() => tmp.cleanup());

const NO_CERTUTIL = !hasTool('certutil');
if (NO_CERTUTIL)
  console.warn(
    'test/scripts: certutil not found (apt-get install libnss3-tools): NSS --yes tests skipped',
  );

describe('trust-ca.sh', () => {
  it('--help explains the options and the dry run', async () => {
    const r = await script('trust-ca.sh', ['--help']);
    expect(r.code).toBe(0);
    for (const t of [
      '--ca FILE',
      '--ca-dir DIR',
      '--nss-only',
      '--system-only',
      '--nssdb DIR',
      '--yes',
      'PRINTS',
    ])
      expect(r.stdout).toContain(t);
  });

  it('exits 2 on an unknown option, 1 when there is no CA', async () => {
    const bad = await script('trust-ca.sh', ['--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown option "--bogus"');
    const none = await script('trust-ca.sh', []);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no readable CA certificate at .*unused\/certs\/ca.pem/);
    expect(none.stderr).toContain('mitm-lab ca init');
  });

  it('refuses a certificate that is not a mitm-lab CA', async () => {
    const k = generateRsaKeyPair(2048);
    const other = path.join(tmp.dir, 'other.pem');
    writeFileSync(
      other,
      buildCertificate({
        subject: { CN: 'Some Corp Root' },
        publicKeyPem: k.publicKeyPem,
        issuer: { selfSignWith: k.privateKeyPem },
        notBefore: new Date(Date.now() - 1000),
        notAfter: new Date(Date.now() + 86_400_000),
        isCa: true,
      }),
    );
    const r = await script('trust-ca.sh', ['--ca', other]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not a mitm-lab CA');
  });

  it('dry run prints the NSS, Debian, macOS and Windows commands and changes nothing', async () => {
    const r = await script('trust-ca.sh', ['--ca-dir', ca.dir]);
    expect(r.code).toBe(0);
    const nick = ca.name.replace(/ /g, '\\ ');
    expect(r.stdout).toContain(`CA:          ${ca.name}`);
    expect(r.stdout).toContain('Dry run');
    expect(r.stdout).toContain('name-constrained');
    if (!NO_CERTUTIL)
      expect(r.stdout).toContain(
        `certutil -d sql:${home}/.pki/nssdb -A -t C\\,\\, -n ${nick} -i ${ca.certPath}`,
      );
    const file = `${ca.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.crt`;
    expect(r.stdout).toContain(`cp ${ca.certPath} /usr/local/share/ca-certificates/${file}`);
    expect(r.stdout).toContain('update-ca-certificates');
    expect(r.stdout).toContain('security add-trusted-cert');
    expect(r.stdout).toContain('certutil -user -addstore Root');
    expect(r.stdout).toContain('Nothing was changed');
    expect(existsSync(path.join(home, '.pki'))).toBe(false);
    expect(existsSync(`/usr/local/share/ca-certificates/${file}`)).toBe(false);
  });

  it('--system-only dry run shows only the system store', async () => {
    const r = await script('trust-ca.sh', ['--ca', ca.certPath, '--system-only']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('# NSS database');
    expect(r.stdout).toContain('update-ca-certificates');
    const both = await script('trust-ca.sh', ['--nss-only', '--system-only']);
    expect(both.code).toBe(2);
  });
});

describe.skipIf(NO_CERTUTIL)(
  'trust-ca.sh --yes / untrust-ca.sh with a real NSS database (certutil)',
  () => {
    const nssList = (db: string) => runTool('certutil', ['-L', '-d', `sql:${db}`]);

    it('creates ~/.pki/nssdb, adds the CA under its own name, and untrust removes it', async () => {
      const db = path.join(home, '.pki', 'nssdb');
      const r = await script('trust-ca.sh', ['--ca-dir', ca.dir, '--nss-only', '--yes']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect((await nssList(db)).stdout).toMatch(new RegExp(`${ca.name}\\s+C,,`));

      const dry = await script('untrust-ca.sh', ['--nss-only']);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain(`-D -n ${ca.name.replace(/ /g, '\\ ')}`);
      expect((await nssList(db)).stdout).toContain(ca.name); // dry run: still there

      const yes = await script('untrust-ca.sh', ['--nss-only', '--yes']);
      expect(yes.code).toBe(0);
      expect(yes.stdout).toContain('Removed');
      expect((await nssList(db)).stdout).not.toContain('mitm-lab');

      const again = await script('untrust-ca.sh', ['--nss-only']);
      expect(again.stdout).toContain('no mitm-lab CA in it');
    });

    it('untrust --ca removes only that CA; the default removes every mitm-lab CA (Firefox-style --nssdb)', async () => {
      const db = path.join(tmp.dir, 'firefox-profile');
      const ca2 = await openCa({ dir: path.join(tmp.dir, 'ca2') });
      for (const c of [ca, ca2]) {
        const r = await script('trust-ca.sh', [
          '--ca',
          c.certPath,
          '--nss-only',
          '--nssdb',
          db,
          '--yes',
        ]);
        expect(r.code).toBe(0);
      }
      let list = (await nssList(db)).stdout;
      expect(list).toContain(ca.name);
      expect(list).toContain(ca2.name);

      const one = await script('untrust-ca.sh', [
        '--ca',
        ca.certPath,
        '--nss-only',
        '--nssdb',
        db,
        '--yes',
      ]);
      expect(one.code).toBe(0);
      list = (await nssList(db)).stdout;
      expect(list).not.toContain(ca.name);
      expect(list).toContain(ca2.name);

      const all = await script('untrust-ca.sh', ['--nss-only', '--nssdb', db, '--yes']);
      expect(all.code).toBe(0);
      expect((await nssList(db)).stdout).not.toContain('mitm-lab');
    });
  },
);

describe('untrust-ca.sh', () => {
  it('--help, and a system-store dry run that changes nothing', async () => {
    const help = await script('untrust-ca.sh', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('every mitm-lab CA found');
    const r = await script('untrust-ca.sh', ['--system-only']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# Debian/Ubuntu system store');
    expect(r.stdout).toContain('security delete-certificate');
    expect(r.stdout).toContain('certutil -user -delstore Root');
    const bad = await script('untrust-ca.sh', ['--bogus']);
    expect(bad.code).toBe(2);
  });
});
