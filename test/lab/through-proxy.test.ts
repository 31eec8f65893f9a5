// The lab THROUGH the real mitm-lab proxy (auto mode, upstream trusting the lab root, lab names
// resolved by the proxy): the scripted victim on both profiles, and curl / python3 on every
// gallery host. What must hold:
// - the HTTP password is in the proxy's events for both profiles; the HTTPS password only
//   when the device trusts the mitm-lab CA (compromised);
// - a normal client first refuses the forged certificate, then (the proxy now tunnels the
//   host) meets the real server and reacts exactly as it does directly (gallery data);
// - a compromised client gets the proxy's 502 for a broken upstream, the page otherwise: the
//   proxy is at least as strict as the strictest client (its upstream policy, issue 9), so
//   what any measured client refuses directly it refuses too.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { VICTIM_ACCOUNT } from '../../src/lab/bank-data.ts';
import {
  GALLERY,
  startLab,
  type ClientOutcome,
  type GalleryEntry,
  type RunningLab,
} from '../../src/lab/index.ts';
import { parseProxyUrl } from '../../src/victim/proxy-client.ts';
import { runVictim, type VictimSummary } from '../../src/victim/victim.ts';
import type { VictimProfile, VictimStepRecord } from '../../src/victim/types.ts';
import type { RunningProxy } from '../../src/proxy/index.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';
import { curlViaProxy, hasTool, pythonViaProxy, type Said } from './support/clients.ts';
import { startLabProxy, type LabProxy } from './support/lab-proxy.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-through-');
let lab: RunningLab;
let ca: Ca;
let bothRoots: string;

beforeAll(async () => {
  ca = await openCa({ dir: tmp });
  lab = await startLab({ dir: path.join(tmp, 'lab') });
  bothRoots = path.join(tmp, 'both-roots.pem');
  writeFileSync(bothRoots, `${lab.rootPem.trim()}\n${ca.certPem.trim()}\n`);
});
afterAll(async () => {
  await lab?.close();
  cleanup();
});

const proxyWithEvents = (): Promise<LabProxy> => startLabProxy(ca, lab);

function passwordRequests(events: ProxyEvent[], scheme: 'http' | 'https') {
  return events.filter(
    (e) =>
      e.type === 'http.request' &&
      e.scheme === scheme &&
      e.path === '/login' &&
      'text' in e.body &&
      e.body.text.includes(VICTIM_ACCOUNT.password),
  );
}

/** What the trusting proxy does with a gallery host: refuse it if any client refuses it directly. */
function proxyPasses(g: GalleryEntry): boolean {
  return Object.values(g.clients).every((c) => c.outcome === 'accepted');
}

function finalAttempt(summary: VictimSummary, step: string): VictimStepRecord {
  const all = summary.steps.filter((s) => s.step === step);
  const last = all[all.length - 1];
  if (!last) throw new Error(`no record for ${step}`);
  return last;
}

describe.each(['normal', 'compromised'] as const)('the victim, %s profile', (profile) => {
  let summary: VictimSummary;
  let events: ProxyEvent[];
  const lines: string[] = [];

  beforeAll(async () => {
    const p = await proxyWithEvents();
    events = p.events;
    try {
      summary = await runVictim({
        proxy: parseProxyUrl(p.proxy.url),
        profile: profile satisfies VictimProfile,
        trust: [
          { name: 'lab root', pem: lab.rootPem },
          ...(profile === 'compromised' ? [{ name: 'mitm-lab CA', pem: ca.certPem }] : []),
        ],
        print: (l) => lines.push(l),
      });
    } finally {
      await p.proxy.close();
    }
  }, 60_000);

  it('logs in over HTTP, and the proxy reads the password on the wire', () => {
    expect(finalAttempt(summary, 'http-login').outcome).toBe('ok');
    // Two logins over plain HTTP: http-login's, and http-transfer's before it pays the rent.
    const reqs = passwordRequests(events, 'http');
    expect(reqs).toHaveLength(2);
    for (const r of reqs) expect(r).toMatchObject({ visibility: 'wire' });
  });

  if (profile === 'normal') {
    it('refuses the forged certificate, then reaches the real bank.test through the tunnel', () => {
      const attempts = summary.steps.filter((s) => s.step === 'https-login');
      expect(attempts.map((a) => a.outcome)).toEqual(['refused-certificate', 'ok']);
      expect(attempts[0]!.browserWouldShow).toBe('NET::ERR_CERT_AUTHORITY_INVALID');
      expect(attempts[1]!.tls).toMatchObject({
        genuine: true,
        issuer: 'mitm-lab Lab Intermediate',
      });
      expect(
        events.some(
          (e) => e.type === 'tls.client-rejected' && e.host === 'bank.test' && e.willTunnel,
        ),
      ).toBe(true);
      expect(events.some((e) => e.type === 'tunnel.summary' && e.host === 'bank.test')).toBe(true);
      expect(lines.join('\n')).toContain('attempt 2 (the user presses reload)');
    });

    it('has its plain ws:// chat message read on the wire, never the wss:// one', () => {
      const pin = events.filter(
        (e) =>
          e.type === 'ws.message' &&
          e.direction === 'client-to-server' &&
          (e.preview ?? '').includes('PIN is 4321'),
      );
      expect(pin).toHaveLength(1);
      expect(pin[0]).toMatchObject({ visibility: 'wire' });
    });

    it('never lets the proxy read the HTTPS password', () => {
      expect(passwordRequests(events, 'https')).toEqual([]);
      const anyHttps = events.filter((e) => e.type === 'http.request' && e.scheme === 'https');
      expect(anyHttps).toEqual([]);
    });

    it.each(GALLERY.map((g) => [g.host, g] as const))(
      '%s: after the forged certificate, reacts as it does directly',
      (_host, g) => {
        const attempts = summary.steps.filter((s) => s.step === `gallery:${g.id}`);
        expect(attempts[0]!.outcome).toBe('refused-certificate'); // the forgery
        expect(attempts[0]!.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
        const last = attempts[attempts.length - 1]!;
        expect(attempts).toHaveLength(2);
        const expected = g.clients.node;
        if (expected.outcome === 'accepted') {
          expect(last.outcome).toBe('ok');
          expect(last.tls?.genuine).toBe(true);
        } else {
          expect(last.code).toBe(expected.code);
          expect(last.said).toContain(expected.text);
        }
      },
    );
  } else {
    it('accepts the forged certificate, and the proxy reads the HTTPS password', () => {
      const attempts = summary.steps.filter((s) => s.step === 'https-login');
      expect(attempts.map((a) => a.outcome)).toEqual(['ok']);
      expect(attempts[0]!.tls?.genuine).toBe(false);
      expect(attempts[0]!.tls?.issuer).toBe(ca.name);
      // https-login's and https-transfer's.
      const reqs = passwordRequests(events, 'https');
      expect(reqs).toHaveLength(2);
      for (const r of reqs)
        expect(r).toMatchObject({ visibility: 'proxy-only', url: 'https://bank.test/login' });
    });

    it('has its bearer token and chat message read too', () => {
      const auth = events.find(
        (e) =>
          e.type === 'http.request' &&
          e.path === '/api/balance' &&
          e.headers.some(
            ([k, v]) => k.toLowerCase() === 'authorization' && v.startsWith('Bearer '),
          ),
      );
      expect(auth).toBeDefined();
      const pin = events.filter(
        (e) =>
          e.type === 'ws.message' &&
          e.direction === 'client-to-server' &&
          (e.preview ?? '').includes('PIN is 4321'),
      );
      // ws:// on the wire, wss:// decrypted by the proxy.
      expect(pin.map((e) => e.type === 'ws.message' && e.visibility).sort()).toEqual([
        'proxy-only',
        'wire',
      ]);
    });

    it.each(GALLERY.map((g) => [g.host, g] as const))(
      '%s: the proxy answers 502 for a broken upstream, the page otherwise',
      (host, g) => {
        const attempts = summary.steps.filter((s) => s.step === `gallery:${g.id}`);
        expect(attempts).toHaveLength(1);
        const last = attempts[0]!;
        if (proxyPasses(g)) {
          expect(last.outcome).toBe('ok');
        } else {
          expect(last.outcome).toBe('http-error');
          expect(last.status).toBe(502);
          const up = events.find((e) => e.type === 'upstream.error' && e.host === host);
          expect(up, `upstream.error for ${host}`).toBeDefined();
          if (up?.type === 'upstream.error' && g.cert !== 'valid') {
            // The proxy's own Node client meets the failure Node meets directly; what Node
            // accepts but the stricter clients refuse (the weak key), its policy refuses.
            expect(up.code).toBe(
              g.clients.node.outcome === 'refused' ? g.clients.node.code : 'UPSTREAM_KEY_TOO_WEAK',
            );
          }
        }
      },
    );
  }
});

const curl = hasTool('curl');
const python = hasTool('python3');

function expectLike(said: Said, expected: ClientOutcome, who: string): void {
  if (expected.outcome === 'accepted') {
    expect(said, who).toMatchObject({ ok: true, text: '200' });
    return;
  }
  expect(said.ok, `${who}: ${said.text}`).toBe(false);
  expect(said.code, `${who}: ${said.text}`).toBe(expected.code);
  expect(said.text, who).toContain(expected.text);
}

type Client = (proxyUrl: string, url: string, caFile: string) => Promise<Said>;
const CLIENTS: [name: 'curl' | 'python', available: boolean, run: Client][] = [
  ['curl', curl, curlViaProxy],
  ['python', python, pythonViaProxy],
];

describe.each(CLIENTS)('%s through the proxy', (name, available, client) => {
  let proxy: RunningProxy;
  let events: ProxyEvent[] = [];
  beforeAll(async () => {
    if (!available) return;
    const p = await proxyWithEvents();
    proxy = p.proxy;
    events = p.events;
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it.skipIf(!available)(
    'normal (lab root only): refuses the forgery, then meets each gallery host as directly',
    async () => {
      for (const g of GALLERY) {
        const url = `https://${g.host}/`;
        const first = await client(proxy.url, url, lab.rootPath);
        expect(first.ok, `${name} ${g.host} attempt 1: ${first.text}`).toBe(false);
        expect(first.text).toContain('unable to get local issuer certificate');
        // The retry is tunnelled once the proxy has decided the refusal: wait for that event.
        await waitFor(
          () =>
            events.some((e) => e.type === 'tls.client-rejected' && (e.sni ?? e.host) === g.host),
          `${name} ${g.host}: the refusal recorded`,
          { timeoutMs: 10_000 },
        );
        expectLike(
          await client(proxy.url, url, lab.rootPath),
          g.clients[name],
          `${name} ${g.host}`,
        );
      }
    },
    // 18 client runs in a row (python3 behind pyenv's shim takes ~1 s each on a busy machine).
    120_000,
  );

  it.skipIf(!available)(
    'compromised (lab root + mitm-lab CA): 502 for a broken upstream, 200 for the good ones',
    async () => {
      proxy.controls.forgetRejected();
      for (const g of GALLERY) {
        const said = await client(proxy.url, `https://${g.host}/`, bothRoots);
        expect(said.ok, `${name} ${g.host}: ${said.text}`).toBe(true);
        // What any client refuses directly (curl and Python: the weak key), the proxy refuses.
        expect(said.text, g.host).toBe(proxyPasses(g) ? '200' : '502');
      }
    },
  );
});
