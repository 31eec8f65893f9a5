// Issue 13, item 1: with --auth, one WebSocket upgrade without credentials killed the process
// (the engine closed the client's WebSocket before the library had opened the upstream one, and
// the library's close handler read `readyState` of undefined). Now the upgrade is answered 407
// before it becomes a WebSocket, and the proxy keeps serving.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, makeTestPki, startOrigin, type Origin } from '../integration/helpers.ts';
import { startCliProxy, type CliProxy } from './helpers.ts';

const UPGRADE = [
  '-H',
  'Upgrade: websocket',
  '-H',
  'Connection: Upgrade',
  '-H',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  '-H',
  'Sec-WebSocket-Version: 13',
];

/** Send a raw upgrade request to the proxy; resolves to the answer's status line. */
function rawUpgrade(port: number, url: string, host: string, auth: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer to the upgrade; got ${JSON.stringify(got)}`));
    }, 5000);
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      const line = got.split('\r\n')[0] ?? '';
      if (got.includes('\r\n')) {
        clearTimeout(timer);
        s.destroy();
        resolve(line);
      }
    });
    s.on('error', reject);
    s.write(
      `GET ${url} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        (auth ? `Proxy-Authorization: Basic ${Buffer.from(auth).toString('base64')}\r\n` : '') +
        '\r\n',
    );
  });
}

describe('--auth and WebSocket upgrades (issue 13, item 1)', () => {
  let origin: Origin;
  let proxy: CliProxy;

  beforeAll(async () => {
    origin = await startOrigin(makeTestPki().leaf(['chat.test']));
    proxy = await startCliProxy(['--auth', 'u:p', '--headless']);
  });
  afterAll(async () => {
    await proxy?.stop();
    await origin?.close();
  });

  it('answers 407 to an upgrade sent straight to the proxy without credentials, and lives on', async () => {
    const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', ...UPGRADE, `${proxy.url}/`]);
    expect(r.stdout).toBe('407');
    await proxy.waitForEvent('diag', (e) => /authentication required \(407\)/.test(e.message));
    await proxy.expectAlive(origin.httpPort, ['-U', 'u:p']);
  });

  it('answers 407 to a proxied upgrade without credentials, and relays it with them', async () => {
    const target = `chat.localhost:${origin.httpPort}`;
    expect(await rawUpgrade(proxy.port, `http://${target}/`, target, null)).toMatch(
      /^HTTP\/1\.1 407 /,
    );
    expect(await rawUpgrade(proxy.port, `http://${target}/`, target, 'u:wrong')).toMatch(
      /^HTTP\/1\.1 407 /,
    );
    expect(await rawUpgrade(proxy.port, `http://${target}/`, target, 'u:p')).toMatch(
      /^HTTP\/1\.1 101 /,
    );
    await proxy.expectAlive(origin.httpPort, ['-U', 'u:p']);
  });
});
