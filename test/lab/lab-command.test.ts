// `mitm-lab lab` as a real process under plain node: it prints where everything is, the lab
// answers on those ports (curl --connect-to, as the listing suggests), SIGTERM stops it (exit 0).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from '../support/cli.ts';
import { runTool, type RunResult } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { hasTool } from './support/clients.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-labcmd-');
afterAll(cleanup);

interface Listing {
  rootPath: string;
  sites: { host: string; httpPort: number | null; httpsPort: number | null }[];
  resolve: { pattern: string; address: string; ports: Record<string, number> }[];
}

const curl = (args: string[]): Promise<RunResult> => runTool('curl', args);

describe('mitm-lab lab', () => {
  it.skipIf(!hasTool('curl'))(
    'serves the lab where --json says, and stops on SIGTERM with exit 0',
    async () => {
      const child = spawn(process.execPath, [...CLI, 'lab', '--json', '--ca-dir', tmp], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      try {
        const deadline = Date.now() + 20_000;
        while (!out.includes('\n') && Date.now() < deadline && child.exitCode === null)
          await new Promise((r) => setTimeout(r, 100));
        const listing = JSON.parse(out) as Listing;
        expect(listing.rootPath).toBe(path.join(tmp, 'lab', 'root.pem'));
        const bank = listing.sites.find((s) => s.host === 'bank.test')!;
        const expired = listing.sites.find((s) => s.host === 'expired.bank.test')!;
        expect(listing.resolve[0]).toEqual({
          pattern: 'bank.test',
          address: '127.0.0.1',
          ports: { 80: bank.httpPort, 443: bank.httpsPort },
        });
        const ok = await curl([
          '-sS',
          '--connect-to',
          `bank.test:443:127.0.0.1:${bank.httpsPort}`,
          '--cacert',
          listing.rootPath,
          'https://bank.test/',
        ]);
        expect(ok.stdout).toContain('<h1>bank.test</h1>');
        const bad = await curl([
          '-sS',
          '--connect-to',
          `expired.bank.test:443:127.0.0.1:${expired.httpsPort}`,
          '--cacert',
          listing.rootPath,
          'https://expired.bank.test/',
        ]);
        expect(bad.code).toBe(60);
        expect(bad.stderr).toContain('certificate has expired');
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
    },
  );

  it('prints the human listing with --connect-to commands', async () => {
    const child = spawn(process.execPath, [...CLI, 'lab', '--ca-dir', tmp], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    // Bounded, and generous: on a loaded machine the lab's certificates take a while to mint,
    // and a SIGINT before the listing is out would end it before its handler is installed.
    const listed = () => out.includes('cannot\nexpress') || out.includes('express these ports');
    const deadline = Date.now() + 60_000;
    while (!listed()) {
      if (Date.now() > deadline || child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(listed(), `the listing, within 60 s; got:\n${out}`).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/bank\.test\s+\d+\s+\d+/);
    expect(out).toMatch(/curl --connect-to bank\.test:443:127\.0\.0\.1:\d+ --cacert /);
    expect(out).toContain('mitm-lab start');
  }, 90_000);
});
