// `mitm-lab attach` through the real program (test/support/cli.ts): help, and the clear
// errors and exit codes for a bad URL (2), a refused connection (1) and a wrong token (1).
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/bus.ts';
import { startFeedServer, type FeedServer } from '../../src/feed/index.ts';
import { runCli } from '../support/cli.ts';
import { freePort } from '../support/net.ts';

/** `mitm-lab attach ARGS` to its end (bounded at 20 s). */
const run = (args: string[]) => runCli(['attach', ...args], { timeoutMs: 20_000 });

let server: FeedServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('mitm-lab attach', () => {
  it('--help explains the URL, the keys that are not available, and exit codes', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: mitm-lab attach [options] URL');
    expect(r.stdout).toContain('ws://127.0.0.1');
    expect(r.stdout).toContain('not available here');
    expect(r.stdout).toContain('Exit codes');
  });

  it('exits 2 on a missing or malformed URL', async () => {
    for (const args of [
      [],
      ['http://127.0.0.1:1/?token=x'],
      ['ws://127.0.0.1:5/'],
      ['not-a-url'],
    ]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^mitm-lab: /);
      expect(r.stderr).not.toContain('    at '); // no stack trace
    }
  });

  it('exits 1 with "connection refused" when no feed listens there', async () => {
    const port = await freePort(); // free: nothing listens there
    const r = await run([`ws://127.0.0.1:${port}/?token=abc`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('connection refused');
    expect(r.stderr).toContain('--feed');
  });

  it('exits 1 and says so when the token is wrong', async () => {
    server = await startFeedServer({ bus: new EventBus(), port: 0 });
    const r = await run([server.url.replace(/token=.*/, 'token=wrong')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refused the token');
  });

  it('with the right token but no terminal, says it needs one (exit 1)', async () => {
    server = await startFeedServer({ bus: new EventBus(), port: 0 });
    const r = await run([server.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a terminal');
  });
});
