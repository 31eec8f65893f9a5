// `mitm-lab ca …` end to end: the real entry point under plain node, a CA in a temp folder.
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { pemToDer } from '../../src/ca/index.ts';
import { command } from '../../src/cli/commands/ca.ts';
import type { CommandIO } from '../../src/cli/command.ts';
import { LabError } from '../../src/util/lab-error.ts';
import { tempDir, writeExpiredCa } from '../ca/helpers.ts';
import { CLI } from '../support/cli.ts';

const tmp = tempDir('mitm-lab-cli-ca-');
afterAll(() => tmp.cleanup());
const dir = path.join(tmp.dir, 'ca');

function cli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, 'ca', ...args], {
      env: { ...process.env, MITM_LAB_CA_DIR: path.join(tmp.dir, 'default-unused') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => {
      const raw = Buffer.concat(out);
      resolve({ code, stdout: raw.toString('utf8'), stderr, raw });
    });
  });
}

describe('mitm-lab ca', () => {
  it('--help lists the subcommands; each subcommand has its own --help', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const sub of ['init', 'info', 'export', 'remove'])
      expect(top.stdout).toContain(`mitm-lab ca ${sub}`);
    const init = await cli(['init', '--help']);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/--permit NAME/);
    expect(init.stdout).toMatch(/--unconstrained/);
    expect(init.stdout).toMatch(/--days N/);
    expect(existsSync(path.join(tmp.dir, 'default-unused'))).toBe(false); // --help creates nothing
  });

  it('exits 2 on usage errors, naming the fix', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/ca wants a subcommand: init, info, export or remove/);
    const bogus = await cli(['bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/unknown ca subcommand "bogus"/);
    const days = await cli(['init', '--ca-dir', dir, '--days', '0']);
    expect(days.code).toBe(2);
    expect(days.stderr).toMatch(/--days wants a whole number/);
    const opt = await cli(['info', '--nope']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/see `mitm-lab ca info --help`/);
    expect(existsSync(dir)).toBe(false);
  });

  it('three concurrent inits on a fresh folder agree on one CA', async () => {
    const shared = path.join(tmp.dir, 'race');
    const runs = await Promise.all([1, 2, 3].map(() => cli(['init', '--ca-dir', shared])));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    const name = /CN=([^\n]+)/.exec(
      new X509Certificate(readFileSync(path.join(shared, 'certs/ca.pem'))).subject,
    )![1]!;
    expect(runs.filter((r) => r.stdout.startsWith('Created a new throwaway CA'))).toHaveLength(1);
    for (const r of runs) expect(r.stdout).toContain(name);
  });

  it('info exits 1 when there is no CA, saying how to make one', async () => {
    const r = await cli(['info', '--ca-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no CA in ${dir}`);
    expect(r.stderr).toContain('mitm-lab ca init');
  });

  let name = '';
  it('init creates the CA (0700 folder, 0600 keys) and says what it made', async () => {
    const r = await cli(['init', '--ca-dir', dir]);
    expect(r.code).toBe(0);
    const cert = new X509Certificate(readFileSync(path.join(dir, 'certs/ca.pem')));
    name = /CN=([^\n]+)/.exec(cert.subject)![1]!;
    expect(r.stdout).toContain(`name          ${name}`);
    expect(r.stdout).toContain(cert.fingerprint256);
    expect(r.stdout).toContain('test, localhost, 127.0.0.0/8, ::1/128');
    expect((statSync(dir).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(path.join(dir, 'keys/ca.private.key')).mode & 0o777).toString(8)).toBe('600');
    for (const key of ['keys/leaf-ecdsa.private.key', 'keys/leaf.private.key'])
      expect((statSync(path.join(dir, key)).mode & 0o777).toString(8)).toBe('600');
  });

  it('init again leaves it alone; new options need --force', async () => {
    const again = await cli(['init', '--ca-dir', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`A CA already exists in ${dir}: ${name}`);
    const permit = await cli(['init', '--ca-dir', dir, '--permit', 'example.com']);
    expect(permit.code).toBe(1);
    expect(permit.stderr).toMatch(/already exists.*\n.*--force/);
  });

  it('info prints fingerprints, validity, constraints, paths and each trust command', async () => {
    const r = await cli(['info', '--ca-dir', dir]);
    expect(r.code).toBe(0);
    const pem = readFileSync(path.join(dir, 'certs/ca.pem'), 'utf8');
    const cert = new X509Certificate(pem);
    const spki = createHash('sha256')
      .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64');
    // Chromium's SPKI allow-list must name the shared leaf keys (it matches the certificates
    // it is sent: only the forged leaf), not the CA: proven in test/e2e/chromium.test.ts.
    const spkiOf = (file: string) =>
      createHash('sha256')
        .update(
          createPublicKey(readFileSync(path.join(dir, file))).export({
            type: 'spki',
            format: 'der',
          }),
        )
        .digest('base64');
    const leafSpki = spkiOf('keys/leaf-ecdsa.private.key');
    const rsaLeafSpki = spkiOf('keys/leaf.private.key');
    expect(leafSpki).not.toBe(spki);
    expect(r.stdout).not.toContain(`--ignore-certificate-errors-spki-list=${spki}`);
    const certPath = path.join(dir, 'certs/ca.pem');
    for (const text of [
      `subject           CN=${name}, O=mitm-lab — for lab use only`,
      `SHA-256           ${cert.fingerprint256}`,
      `SPKI SHA-256      ${spki}`,
      '(30 days left)',
      'name constraints  test, localhost, 127.0.0.0/8, ::1/128',
      `CA key            ${path.join(dir, 'keys/ca.private.key')} (mode 0600)`,
      `curl --cacert ${certPath}`,
      `NODE_EXTRA_CA_CERTS=${certPath}`,
      `SSL_CERT_FILE=${certPath}`,
      `REQUESTS_CA_BUNDLE=${certPath}`,
      `certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n '${name}' -i ${certPath}`,
      `leaf SPKI SHA-256 ${leafSpki}  (ECDSA P-256, the default)`,
      `${rsaLeafSpki}  (RSA-2048, with proxy/start --leaf-key rsa)`,
      `${path.join(dir, 'keys/leaf-ecdsa.private.key')} (mode 0600) (ECDSA P-256)`,
      `--ignore-certificate-errors-spki-list=${leafSpki},${rsaLeafSpki}`,
      'sudo update-ca-certificates',
      'trust-ca.sh',
      'untrust-ca.sh',
    ])
      expect(r.stdout).toContain(text);
  });

  it('export writes PEM to stdout, DER to a pipe or to --out', async () => {
    const pem = readFileSync(path.join(dir, 'certs/ca.pem'), 'utf8');
    const r = await cli(['export', '--ca-dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(pem);
    const derPipe = await cli(['export', '--ca-dir', dir, '--der']);
    expect(derPipe.code).toBe(0);
    expect(derPipe.raw.equals(pemToDer(pem))).toBe(true);
    const out = path.join(tmp.dir, 'mitm-lab-ca.crt');
    const file = await cli(['export', '--ca-dir', dir, '--der', '--out', out]);
    expect(file.code).toBe(0);
    expect(file.stdout).toContain(`(DER) to ${out}`);
    expect(readFileSync(out).equals(pemToDer(pem))).toBe(true);
    expect(new X509Certificate(readFileSync(out)).fingerprint256).toBe(
      new X509Certificate(pem).fingerprint256,
    );
  });

  it('export refuses to write DER to a terminal', async () => {
    const stdout = Object.assign(new PassThrough(), {
      isTTY: true,
    }) as unknown as NodeJS.WriteStream;
    const io = { stdout, stderr: stdout, stdin: process.stdin, env: {} } as unknown as CommandIO;
    await expect(command.run(['export', '--ca-dir', dir, '--der'], io)).rejects.toThrow(
      expect.objectContaining({
        kind: 'usage',
        message: expect.stringMatching(/not writing it to the terminal/),
      }) as LabError,
    );
  });

  it('init --force --permit replaces the CA and tells to re-trust', async () => {
    const r = await cli([
      'init',
      '--ca-dir',
      dir,
      '--force',
      '--permit',
      'example.com',
      '--days',
      '7',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Replaced the CA "${name}"`);
    expect(r.stdout).toContain('test, localhost, example.com, 127.0.0.0/8, ::1/128');
    expect(r.stdout).toContain('untrust-ca.sh');
    expect(r.stdout).toMatch(/valid until .*\(7 days\)/);
  });

  it('init --unconstrained warns loudly on stderr', async () => {
    const other = path.join(tmp.dir, 'open');
    const r = await cli(['init', '--ca-dir', other, '--unconstrained']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ANY name (unconstrained)');
    expect(r.stderr).toMatch(/WARNING: .* has NO name constraints/);
    expect(r.stderr).toMatch(/impersonate ANY web site/);
    const both = await cli([
      'init',
      '--ca-dir',
      path.join(tmp.dir, 'x'),
      '--unconstrained',
      '--permit',
      'a.com',
    ]);
    expect(both.code).toBe(2);
  });

  it('info describes an expired CA, says EXPIRED and how to replace it, exit 1', async () => {
    const old = path.join(tmp.dir, 'expired');
    writeExpiredCa(old);
    const r = await cli(['info', '--ca-dir', old]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('mitm-lab CA: mitm-lab throwaway CA 2020-01-01 0ld0ne');
    expect(r.stdout).toContain('(EXPIRED)');
    expect(r.stderr).toContain(`mitm-lab ca init --force --ca-dir ${old}`);
  });

  it('remove deletes the files and says how to remove installed trust', async () => {
    const current = /CN=([^\n]+)/.exec(
      new X509Certificate(readFileSync(path.join(dir, 'certs/ca.pem'))).subject,
    )![1]!;
    const r = await cli(['remove', '--ca-dir', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Removed the CA "${current}"`);
    for (const f of [
      'certs/ca.pem',
      'keys/ca.private.key',
      'keys/ca.public.key',
      'keys/leaf-ecdsa.private.key',
      'keys/leaf.private.key',
    ]) {
      expect(r.stdout).toContain(path.join(dir, f));
      expect(existsSync(path.join(dir, f))).toBe(false);
    }
    expect(r.stdout).toContain('untrust-ca.sh');
    expect(r.stdout).toContain(`certutil -d sql:$HOME/.pki/nssdb -D -n '${current}'`);
    expect(r.stdout).toContain('update-ca-certificates --fresh');
    const again = await cli(['remove', '--ca-dir', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to remove');
  });
});
