// Issue 13, item 3: a WebSocket upgrade whose Host is the proxy itself was relayed to the proxy,
// which relayed it to itself again, forever (~700 sockets/s, 24,746 flows from one request, on
// after the client left). The HTTP path refused an origin-form request ("not a web server");
// the upgrade path now does the same, so a loop stops at its second hop, in every mode.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, makeTestPki, startOrigin, type Origin } from '../integration/helpers.ts';
import { sleep } from '../support/wait.ts';
import { FD_LIMIT, startCliProxy, type CliProxy } from './helpers.ts';

const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';

/** Write `head` to the proxy (plus an upgrade request), keep the socket open ~1 s, then close. */
async function sendAndLinger(port: number, text: string): Promise<string> {
  const s = net.connect(port, '127.0.0.1');
  let got = '';
  s.on('data', (c: Buffer) => (got += c.toString('latin1')));
  s.on('error', () => undefined);
  s.write(text);
  await sleep(1000);
  s.destroy();
  return got;
}

function upgrade(url: string, host: string): string {
  return (
    `GET ${url} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

for (const mode of ['auto', 'intercept', 'eavesdrop'] as const) {
  describe(`a WebSocket upgrade aimed at the proxy itself, --mode ${mode} (issue 13, item 3)`, () => {
    let origin: Origin;
    let proxy: CliProxy;

    beforeAll(async () => {
      origin = await startOrigin(makeTestPki().leaf(['loop.test']));
      proxy = await startCliProxy(['--mode', mode, '--headless'], { fdLimit: FD_LIMIT });
    });
    afterAll(async () => {
      await proxy?.stop();
      await origin?.close();
    });

    /** Connections the proxy saw so far. */
    const opened = (): number => proxy.events().filter((e) => e.type === 'conn.open').length;

    it('sent straight to it (origin-form): 400 "not a web server", one connection', async () => {
      const before = opened();
      const r = await curl([
        '-w',
        '\n%{http_code}',
        '-H',
        'Upgrade: websocket',
        '-H',
        'Connection: Upgrade',
        '-H',
        KEY,
        '-H',
        'Sec-WebSocket-Version: 13',
        `${proxy.url}/`,
      ]);
      expect(r.stdout).toMatch(/not a web server[\s\S]*\n400$/);
      await sleep(500);
      expect(opened() - before).toBe(1);
      await proxy.expectAlive(origin.httpPort);
    });

    it('proxied to its own address (absolute-form): stops at the second hop', async () => {
      const before = opened();
      const self = `127.0.0.1:${proxy.port}`;
      await sendAndLinger(proxy.port, upgrade(`http://${self}/`, self));
      await sleep(500);
      expect(opened() - before).toBeLessThanOrEqual(2);
      expect(proxy.openFds()).toBeLessThan(100);
      await proxy.expectAlive(origin.httpPort);
    });

    it('inside a CONNECT to its own address: stops at the second hop', async () => {
      const before = opened();
      const self = `127.0.0.1:${proxy.port}`;
      await sendAndLinger(
        proxy.port,
        `CONNECT ${self} HTTP/1.1\r\nHost: ${self}\r\n\r\n` + upgrade('/', self),
      );
      await sleep(500);
      expect(opened() - before).toBeLessThanOrEqual(2);
      expect(proxy.openFds()).toBeLessThan(100);
      await proxy.expectAlive(origin.httpPort);
    });
  });
}
