// Issue 13, item 14: in auto mode one client's refusal flipped a host for every client (and a
// ClientHello without SNI flipped it too). Now a refusal is remembered for that client's
// address only, and a ClientHello without SNI is never remembered. Two client addresses on
// loopback stand in for two devices: curl binds its side of the connection with --interface.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyEvent } from '../../src/events/types.ts';
import {
  curl,
  makeTestPki,
  startOrigin,
  startTestProxy,
  type Origin,
  type TestProxy,
} from '../integration/helpers.ts';

let origin: Origin;
let tp: TestProxy;

beforeAll(async () => {
  const pki = makeTestPki();
  origin = await startOrigin(pki.leaf(['bank.test', '127.0.0.1']));
  tp = await startTestProxy({
    mode: 'auto',
    upstreamCa: [pki.rootPem],
    resolve: [{ pattern: 'bank.test', address: '127.0.0.1' }],
  });
});

afterAll(async () => {
  await tp?.close();
  await origin?.close();
});

/** curl through the proxy from `from` (its side of the connection), optionally trusting the CA. */
function curlFrom(from: string, url: string, trust: boolean): ReturnType<typeof curl> {
  return curl([
    '-sS',
    '--max-time',
    '10',
    '--interface',
    from,
    '-x',
    tp.proxy.url,
    ...(trust ? ['--cacert', tp.ca.certPath] : []),
    url,
  ]);
}

/** The connection ids opened from `address` since `since` events. */
function connsFrom(address: string, since: number): Set<string> {
  return new Set(
    tp.events
      .slice(since)
      .filter((e): e is Extract<ProxyEvent, { type: 'conn.open' }> => e.type === 'conn.open')
      .filter((e) => e.clientAddress === address)
      .map((e) => e.connId),
  );
}

describe('auto mode remembers a refusal per client address (issue 13, item 14)', () => {
  it("one client's refusal of bank.test leaves another client intercepted", async () => {
    const url = `https://bank.test:${origin.httpsPort}/secret`;
    let mark = tp.events.length;
    const refused = await curlFrom('127.0.0.1', url, false);
    expect(refused.code).toBe(60); // curl: the forged certificate is not trusted
    const rejection = await tp.waitFor(
      'tls.client-rejected',
      (e) => connsFrom('127.0.0.1', mark).has(e.connId) && e.host === 'bank.test',
    );
    expect(rejection.willTunnel).toBe(true);

    // The same address again (now trusting the CA): tunnelled, as auto mode promised it.
    mark = tp.events.length;
    await curlFrom('127.0.0.1', url, true);
    const again = connsFrom('127.0.0.1', mark);
    const summary = await tp.waitFor('tunnel.summary', (e) => again.has(e.connId));
    expect(summary.reason).toBe('auto-refused-before');

    // Another address, trusting the CA: still intercepted, the request seen decrypted.
    mark = tp.events.length;
    const other = await curlFrom('127.0.0.2', url, true);
    expect(other.code).toBe(0);
    expect(other.stdout).toContain('hello GET /secret');
    const mine = connsFrom('127.0.0.2', mark);
    expect(mine.size).toBe(1);
    const req = await tp.waitFor('http.request', (e) => mine.has(e.connId));
    expect(req.url).toContain('/secret');
    await tp.waitFor('tls.client-accepted', (e) => mine.has(e.connId));
    expect(tp.of('tunnel.summary').filter((e) => mine.has(e.connId))).toEqual([]);
  });

  it('a refused ClientHello without SNI flips nothing', async () => {
    // An IP literal: curl sends no SNI (RFC 6066 forbids addresses there).
    const url = `https://127.0.0.1:${origin.httpsPort}/ip`;
    let mark = tp.events.length;
    const refused = await curlFrom('127.0.0.1', url, false);
    expect(refused.code).toBe(60);
    const firstConns = connsFrom('127.0.0.1', mark);
    const rejection = await tp.waitFor('tls.client-rejected', (e) => firstConns.has(e.connId));
    expect(rejection.sni).toBeNull();
    expect(rejection.willTunnel).toBe(false);

    // The same client, same target, now trusting the CA: intercepted, not tunnelled.
    mark = tp.events.length;
    const ok = await curlFrom('127.0.0.1', url, true);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('hello GET /ip');
    const next = connsFrom('127.0.0.1', mark);
    await tp.waitFor('http.request', (e) => next.has(e.connId));
    expect(tp.of('tunnel.summary').filter((e) => next.has(e.connId))).toEqual([]);
  });

  it('forgetRejected clears every client', () => {
    expect(tp.proxy.controls.forgetRejected()).toBeGreaterThanOrEqual(1);
    expect(tp.proxy.controls.forgetRejected()).toBe(0);
  });
});
