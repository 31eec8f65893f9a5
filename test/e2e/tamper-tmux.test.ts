// --tamper in a real terminal (tmux), with the real `mitm-lab start --tamper bank` and the real
// victim: the start page warns, the header says TAMPERING, the transfer's rows are marked
// TAMPERED, and the Decrypted view of the POST shows what the victim sent and what the bank got.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_SHELL, runCli } from '../support/cli.ts';
import { HAVE_TMUX, TmuxSession } from '../support/tmux.ts';

describe.skipIf(!HAVE_TMUX)(
  HAVE_TMUX ? '--tamper under tmux' : '--tamper under tmux: needs tmux, which is not installed',
  () => {
    const live = new TmuxSession('mitm-lab-tamper');
    const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-tamper-tty-'));
    const wait = (re: RegExp, timeoutMs = 30_000): Promise<string> =>
      live.waitForScreen(re, 'the screen', { timeoutMs, intervalMs: 200 });

    afterAll(() => {
      live.kill();
      rmSync(dir, { recursive: true, force: true });
    });

    it('warns, marks the changed rows, and shows original and delivered bodies', async () => {
      live.start({
        width: 160,
        height: 50,
        command: `${CLI_SHELL} start --listen 127.0.0.1:0 --ca-dir ${dir}/ca --tamper bank; echo EXITED $?; sleep 60`,
      });
      const page = await wait(/plaintext 0\s+decrypted 0/);
      expect(page).toMatch(/TAMPERING \(5 rules\)/);
      expect(page).toMatch(/WARNING: --tamper bank: this proxy CHANGES what it relays/);
      const port = /proxy 127\.0\.0\.1:(\d+)/.exec(page)![1]!;

      const victim = await runCli(
        [
          'victim',
          '--ca-dir',
          `${dir}/ca`,
          '--proxy',
          `http://127.0.0.1:${port}`,
          '--only',
          'http-transfer',
        ],
        { timeoutMs: 60_000 },
      );
      expect(victim.stdout).toContain(
        "the bank's ledger booked EUR 1200.00 to GB33BUKB20201555555555",
      );

      // Both the page and the transfer were changed: their rows carry the mark, with the response.
      const rows = await wait(/TAMPERED \/transfer\s+200[\s\S]*TAMPERED \/transfer\s+200/);
      expect(rows).toMatch(/GET\s+TAMPERED \/transfer/);
      expect(rows).toMatch(/POST\s+TAMPERED \/transfer/);
      expect(rows).not.toMatch(/TAMPERED \/login/);

      // The POST, opened in the Decrypted view: the victim's form, then what the bank received.
      await live.press('/');
      live.send('POST', 'Enter');
      await wait(/filter: post/i);
      await live.press('End', 'Enter', '2'); // the last POST: the transfer (the first is the login)
      const view = await wait(/What the server received instead/);
      expect(view).toContain('TAMPERED');
      expect(view).toMatch(/As the client sent it/);
      // The victim sent the IBAN the changed page showed it (the attacker's already): that line
      // is the same on both sides; the amount is what the request rule changed.
      expect(view).toMatch(/^\s+iban = GB33BUKB20201555555555/m);
      expect(view).not.toMatch(/>>iban/);
      expect(view).toMatch(/^\s+amount = 120\.00/m);
      expect(view).toMatch(/>>amount = 1200\.00/);
      await live.press('Escape');
      live.send('q');
      await wait(/EXITED 0/);
    }, 120_000);
  },
);
