// The lab sites, met directly on their loopback ports: bank.test's login, account, bearer API
// and WebSocket chat over HTTP and HTTPS; the lab.test index; the resolve rules.
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { tempDir } from '../support/temp-dir.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKER, BANK_ACCOUNTS, LANDLORD } from '../../src/lab/bank-data.ts';
import { GALLERY, startLab, type RunningLab } from '../../src/lab/index.ts';
import { WebSocket } from '../../src/util/ws.ts';

const { dir: tmp, cleanup } = tempDir('mitm-lab-sites-');
let lab: RunningLab;
const alice = BANK_ACCOUNTS[0]!;

beforeAll(async () => {
  lab = await startLab({ dir: path.join(tmp, 'lab') });
});
afterAll(async () => {
  await lab?.close();
  cleanup();
});

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function site(host: string) {
  const s = lab.sites.find((x) => x.host === host);
  if (!s) throw new Error(`no site ${host}`);
  return s;
}

/** One request straight to the lab server that serves `host` over `scheme`. */
function call(
  scheme: 'http' | 'https',
  host: string,
  method: string,
  p: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<Res> {
  const s = site(host);
  const port = scheme === 'http' ? s.httpPort : s.httpsPort;
  const mod = scheme === 'http' ? http : https;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      {
        host: '127.0.0.1',
        port: port ?? 0,
        method,
        path: p,
        headers: { Host: host, ...opts.headers },
        ...(scheme === 'https' ? { servername: host, ca: [lab.rootPem] } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const form = (user: string, password: string) => new URLSearchParams({ user, password }).toString();
const formHeaders = { 'Content-Type': 'application/x-www-form-urlencoded' };

describe.each(['http', 'https'] as const)('bank.test over %s', (scheme) => {
  it('serves the login form and says which transport it is on', async () => {
    const r = await call(scheme, 'bank.test', 'GET', '/');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<form method="post" action="/login">');
    expect(r.body).toContain(scheme === 'https' ? '<b>HTTPS</b>' : 'plain <b>HTTP</b>');
  });

  it('logs in with the right password: session cookie, then the account page', async () => {
    const r = await call(scheme, 'bank.test', 'POST', '/login', {
      headers: formHeaders,
      body: form(alice.user, alice.password),
    });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/account');
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/^session=[0-9a-f]{32}; Path=\/; HttpOnly/);
    expect(setCookie.includes('; Secure')).toBe(scheme === 'https');
    const sid = /session=([0-9a-f]+)/.exec(setCookie)![1];
    const acct = await call(scheme, 'bank.test', 'GET', '/account', {
      headers: { Cookie: `session=${sid}` },
    });
    expect(acct.status).toBe(200);
    expect(acct.body).toContain('Balance: <b>EUR 1,234.56</b>');
  });

  it('pays the rent: the transfer page, the confirmation, and the ledger naming the real owner', async () => {
    const login = await call(scheme, 'bank.test', 'POST', '/login', {
      headers: formHeaders,
      body: form(alice.user, alice.password),
    });
    const sid = /session=([0-9a-f]+)/.exec(String(login.headers['set-cookie']))![1];
    const cookie = { Cookie: `session=${sid}` };
    const noSession = await call(scheme, 'bank.test', 'GET', '/transfer');
    expect(noSession.status).toBe(303);
    const page = await call(scheme, 'bank.test', 'GET', '/transfer', { headers: cookie });
    expect(page.status).toBe(200);
    expect(page.body).toContain(`name="iban" value="${LANDLORD.iban}"`);
    expect(page.body).toContain('name="amount" value="120.00"');
    const send = (iban: string, amount: string) =>
      call(scheme, 'bank.test', 'POST', '/transfer', {
        headers: { ...formHeaders, ...cookie },
        body: new URLSearchParams({
          name: LANDLORD.name,
          iban,
          amount,
          reference: `t-${scheme}`,
        }).toString(),
      });
    const ok = await send(LANDLORD.iban, '120.00');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain(`Sent <b>EUR 120.00</b> to <b>${LANDLORD.iban}</b>`);
    const other = await send(ATTACKER.iban, '1200');
    expect(other.body).toContain(`Sent <b>EUR 1,200.00</b> to <b>${ATTACKER.iban}</b>`);
    expect((await send('not an iban', '1')).status).toBe(400);
    expect((await send(LANDLORD.iban, '-5')).status).toBe(400);
    const ledger = await call(scheme, 'bank.test', 'GET', '/api/transfers');
    const mine = (
      JSON.parse(ledger.body) as {
        transfers: {
          iban: string;
          owner: string;
          amountCents: number;
          reference: string;
          scheme: string;
        }[];
      }
    ).transfers.filter((t) => t.reference === `t-${scheme}`);
    expect(mine.map((t) => [t.iban, t.owner, t.amountCents, t.scheme])).toEqual([
      [LANDLORD.iban, LANDLORD.name, 120_00, scheme],
      [ATTACKER.iban, ATTACKER.name, 1_200_00, scheme],
    ]);
    const html = await call(scheme, 'bank.test', 'GET', '/transfers');
    expect(html.body).toContain(ATTACKER.name);
    const text = await call(scheme, 'bank.test', 'GET', '/transfers.txt');
    expect(text.body).toMatch(
      new RegExp(
        `alice {2}EUR 1,200\\.00 {2}to ${ATTACKER.iban} {2}Eve Dropper \\(the attacker\\) {2}over ${scheme.toUpperCase()} {2}ref t-${scheme}\\n`,
      ),
    );
  });

  it('refuses a wrong password with 401 and no cookie', async () => {
    const r = await call(scheme, 'bank.test', 'POST', '/login', {
      headers: formHeaders,
      body: form(alice.user, 'wrong'),
    });
    expect(r.status).toBe(401);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('sends the account page only with a session', async () => {
    const r = await call(scheme, 'bank.test', 'GET', '/account', {
      headers: { Cookie: 'session=0000' },
    });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
  });

  it('issues a bearer token and answers /api/balance only with it', async () => {
    const t = await call(scheme, 'bank.test', 'POST', '/api/token', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: alice.user, password: alice.password }),
    });
    expect(t.status).toBe(200);
    const token = (JSON.parse(t.body) as { access_token: string; token_type: string }).access_token;
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    const ok = await call(scheme, 'bank.test', 'GET', '/api/balance', {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ user: 'alice', balance: '1,234.56' });
    const no = await call(scheme, 'bank.test', 'GET', '/api/balance');
    expect(no.status).toBe(401);
    expect(no.headers['www-authenticate']).toContain('Bearer');
    const bad = await call(scheme, 'bank.test', 'POST', '/api/token', {
      headers: { 'Content-Type': 'application/json' },
      body: '{not json',
    });
    expect(bad.status).toBe(401);
  });

  it('refuses oversized bodies with 413 and keeps serving', async () => {
    const r = await call(scheme, 'bank.test', 'POST', '/login', {
      headers: formHeaders,
      body: 'x'.repeat(70 * 1024),
    });
    expect(r.status).toBe(413);
    expect((await call(scheme, 'bank.test', 'GET', '/')).status).toBe(200);
  });

  it('runs the support chat over a WebSocket', async () => {
    const s = site('bank.test');
    const port = scheme === 'http' ? s.httpPort : s.httpsPort;
    const ws = new WebSocket(`${scheme === 'http' ? 'ws' : 'wss'}://127.0.0.1:${port}/chat`, {
      headers: { Host: 'bank.test' },
      ...(scheme === 'https' ? { servername: 'bank.test', ca: [lab.rootPem] } : {}),
    });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (d) => {
        got.push(String(d));
        if (got.length === 1) ws.send('hello');
        else resolve();
      });
      ws.on('error', reject);
    });
    ws.close();
    expect(got[0]).toContain(`over ${scheme === 'http' ? 'ws' : 'wss'}`);
    expect(got[1]).toContain('you said "hello"');
  });
});

describe('the shared HTTP server', () => {
  it('serves the lab.test index listing every gallery host with its errors', async () => {
    const r = await call('http', 'lab.test', 'GET', '/');
    expect(r.status).toBe(200);
    // Long codes carry <wbr> break hints (so the table fits the window): read the text without.
    const text = r.body.replaceAll('<wbr>', '');
    for (const g of GALLERY) {
      expect(text).toContain(`https://${g.host}/`);
      expect(text).toContain(g.browsers.chromium.split(' ')[0]!);
    }
    expect(text).toContain('NET::ERR_CERT_DATE_INVALID');
    expect(text).toContain('SEC_ERROR_UNKNOWN_ISSUER');
  });

  it('redirects http://hsts.bank.test/ to HTTPS, and says "over HTTPS" for other gallery hosts', async () => {
    const r = await call('http', 'hsts.bank.test', 'GET', '/');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('https://hsts.bank.test/');
    const e = await call('http', 'expired.bank.test', 'GET', '/');
    expect(e.body).toContain('https://expired.bank.test/');
  });

  it('answers an unknown name with 404 and the list of lab names', async () => {
    const r = await call('http', 'bank.test', 'GET', '/nope');
    expect(r.status).toBe(404);
    const s = site('bank.test');
    const u = await new Promise<Res>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: s.httpPort!, headers: { Host: 'nosuch.test' } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        })
        .on('error', reject);
    });
    expect(u.status).toBe(404);
    expect(u.body).toContain('bank.test');
  });
});

describe('resolve rules', () => {
  it('map every lab name, port 80 and 443, to the real loopback ports', () => {
    const names = lab.resolve.map((r) => r.pattern);
    expect(names).toEqual(['bank.test', 'lab.test', ...GALLERY.map((g) => g.host)]);
    for (const r of lab.resolve) {
      expect(r.address).toBe('127.0.0.1');
      expect(r.ports[80]).toBe(site('bank.test').httpPort);
      if (r.pattern !== 'lab.test') expect(r.ports[443]).toBe(site(r.pattern).httpsPort);
    }
    const ports = new Set(lab.sites.map((s) => s.httpsPort).filter((p) => p !== null));
    expect(ports.size).toBe(1 + GALLERY.length); // one TLS server per HTTPS name
  });

  it('close() stops every server', async () => {
    const other = await startLab({ dir: path.join(tmp, 'lab') });
    const port = other.sites[0]!.httpPort!;
    await other.close();
    await other.close(); // idempotent
    const err = await new Promise<string>((resolve) => {
      http
        .get({ host: '127.0.0.1', port }, () => resolve('connected'))
        .on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? ''));
    });
    expect(err).toBe('ECONNREFUSED');
  });
});
