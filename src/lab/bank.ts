// bank.test: a small bank to attack. A login form (POST user + password → session cookie), an
// account page, a JSON API with a bearer token (POST /api/token, then GET /api/balance with
// `Authorization: Bearer …`) and a WebSocket chat (/chat). The same bank answers over HTTP and
// over HTTPS (the state is shared, as one bank behind two ports would be), so the only thing
// that changes between the lessons is the transport.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from '../util/ws.ts';
import {
  BANK_ACCOUNTS,
  LANDLORD,
  PAYEES,
  RENT_CENTS,
  SESSION_TTL_S,
  type BankAccount,
} from './bank-data.ts';
import { esc, money, page } from './html.ts';
import { shiftOldest } from '../util/bounded.ts';

/** Request bodies above this are refused with 413: the bank only takes small forms. */
const MAX_BODY_BYTES = 64 * 1024;
/** Chat messages above this are refused (closes with 1009). */
const MAX_CHAT_BYTES = 4 * 1024;
/** Transfers the ledger keeps (the oldest go first): bounded. */
const MAX_LEDGER = 1_000;
/** The largest transfer the bank takes, in cents. */
const MAX_TRANSFER_CENTS = 100_000_00;

export type Scheme = 'http' | 'https';

export interface Bank {
  /** Answer one HTTP request that arrived over `scheme`. */
  handle(req: IncomingMessage, res: ServerResponse, scheme: Scheme): void;
  /** Take over an HTTP upgrade for /chat (WebSocket); other paths are refused with 404. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, scheme: Scheme): void;
  /** Close every chat connection. */
  close(): void;
}

/** One transfer as the bank booked it: the ledger is the bank's truth, whatever a page said. */
export interface Transfer {
  /** ISO 8601. */
  at: string;
  /** The sender's user name. */
  from: string;
  /** The receiving IBAN, as the bank received it. */
  iban: string;
  /** The real owner of that account, when the bank knows it, else null. */
  owner: string | null;
  /** The recipient name the form sent (what the sender believed). */
  name: string;
  amountCents: number;
  reference: string;
  /** The transport the transfer arrived over. */
  scheme: Scheme;
}

interface Grant {
  account: BankAccount;
  expires: number;
}

export function createBank(): Bank {
  const sessions = new Map<string, Grant>();
  const tokens = new Map<string, Grant>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CHAT_BYTES });

  const grant = (store: Map<string, Grant>, account: BankAccount): string => {
    const id = randomBytes(16).toString('hex');
    store.set(id, { account, expires: Date.now() + SESSION_TTL_S * 1000 });
    if (store.size > 10_000) shiftOldest(store); // bounded
    return id;
  };
  const lookup = (store: Map<string, Grant>, id: string | undefined): BankAccount | null => {
    if (!id) return null;
    const g = store.get(id);
    if (!g || g.expires < Date.now()) return null;
    return g.account;
  };
  const sessionOf = (req: IncomingMessage) => lookup(sessions, cookie(req, 'session'));
  const ledger: Transfer[] = [];

  async function route(req: IncomingMessage, res: ServerResponse, scheme: Scheme): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bank.test');
    const method = req.method ?? 'GET';
    const key = `${method} ${url.pathname}`;
    switch (key) {
      case 'GET /':
      case 'HEAD /':
        return html(res, 200, homePage(scheme, sessionOf(req)));
      case 'POST /login': {
        const form = new URLSearchParams(await readBody(req));
        const account = authenticate(form.get('user'), form.get('password'));
        if (!account) return html(res, 401, homePage(scheme, null, 'Wrong user name or password.'));
        const sid = grant(sessions, account);
        const secure = scheme === 'https' ? '; Secure' : '';
        res.writeHead(303, {
          Location: '/account',
          'Set-Cookie': `session=${sid}; Path=/; HttpOnly; SameSite=Lax${secure}`,
          'Content-Type': 'text/plain; charset=utf-8',
        });
        res.end(`Welcome, ${account.fullName}. See /account.\n`);
        return;
      }
      case 'POST /logout':
        sessions.delete(cookie(req, 'session') ?? '');
        res.writeHead(303, { Location: '/', 'Set-Cookie': 'session=; Path=/; Max-Age=0' });
        res.end();
        return;
      case 'GET /account': {
        const account = sessionOf(req);
        if (!account) {
          res.writeHead(303, { Location: '/' });
          res.end();
          return;
        }
        return html(res, 200, accountPage(scheme, account));
      }
      case 'POST /api/token': {
        const body = await readBody(req);
        const creds = parseCredentials(body, req.headers['content-type']);
        const account = authenticate(creds.user, creds.password);
        if (!account)
          return json(res, 401, { error: 'invalid_grant', message: 'wrong user or password' });
        return json(res, 200, {
          access_token: grant(tokens, account),
          token_type: 'Bearer',
          expires_in: SESSION_TTL_S,
        });
      }
      case 'GET /api/balance': {
        const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
        const account = lookup(tokens, auth?.[1]);
        if (!account) {
          res.setHeader('WWW-Authenticate', 'Bearer realm="bank.test"');
          return json(res, 401, {
            error: 'invalid_token',
            message: 'send Authorization: Bearer <token> from POST /api/token',
          });
        }
        return json(res, 200, {
          user: account.user,
          balance: money(account.balanceCents),
          currency: 'EUR',
          transactions: account.transactions.map((t) => ({ ...t, amount: money(t.amountCents) })),
        });
      }
      case 'GET /transfer':
      case 'POST /transfer': {
        const account = sessionOf(req);
        if (!account) {
          res.writeHead(303, { Location: '/', 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('Log in first: POST /login.\n');
          return;
        }
        if (method === 'GET') return html(res, 200, transferPage(scheme, account));
        const form = new URLSearchParams(await readBody(req));
        const iban = (form.get('iban') ?? '').replace(/\s+/g, '').toUpperCase();
        const cents = parseAmount(form.get('amount') ?? '');
        const problem = !IBAN_RE.test(iban)
          ? 'That IBAN does not look right (two letters, two digits, then 10 to 30 letters or digits).'
          : cents === null
            ? `The amount must be a number of euros with at most two decimals, from 0.01 to ${money(MAX_TRANSFER_CENTS)}.`
            : null;
        if (problem || cents === null)
          return html(res, 400, transferPage(scheme, account, problem ?? ''));
        const t: Transfer = {
          at: new Date().toISOString(),
          from: account.user,
          iban,
          owner: PAYEES.find((p) => p.iban === iban)?.name ?? null,
          name: (form.get('name') ?? '').slice(0, 100),
          amountCents: cents,
          reference: (form.get('reference') ?? '').slice(0, 140),
          scheme,
        };
        ledger.push(t);
        if (ledger.length > MAX_LEDGER) ledger.shift();
        return html(res, 200, confirmationPage(scheme, t));
      }
      case 'GET /transfers':
        return html(res, 200, ledgerPage(scheme, ledger));
      case 'GET /transfers.txt':
        res.writeHead(200, {
          'Content-Type': 'text/plain; charset=utf-8',
          'Cache-Control': 'no-store',
        });
        res.end(ledgerText(ledger));
        return;
      case 'GET /api/transfers':
        return json(res, 200, { transfers: ledger });
      case 'GET /chat':
        return html(res, 200, chatPage(scheme));
      default:
        return html(
          res,
          404,
          page(
            'Not found — bank.test',
            `<h1>Not found</h1><p>No page at <code>${esc(url.pathname)}</code>. <a href="/">Home</a></p>`,
          ),
        );
    }
  }

  return {
    handle(req, res, scheme) {
      route(req, res, scheme).catch((err: unknown) => {
        const tooLarge = err instanceof BodyTooLarge;
        if (!res.headersSent) {
          res.writeHead(tooLarge ? 413 : 400, { 'Content-Type': 'text/plain; charset=utf-8' });
        }
        res.end(tooLarge ? 'request body too large\n' : `bad request: ${String(err)}\n`);
      });
    },
    upgrade(req, socket, head, scheme) {
      const url = new URL(req.url ?? '/', 'http://bank.test');
      if (url.pathname !== '/chat') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const account = sessionOf(req);
      wss.handleUpgrade(req, socket, head, (ws) => chat(ws, account, scheme));
    },
    close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}

/** The support "agent": greets, then answers every message. Text only. */
function chat(ws: WebSocket, account: BankAccount | null, scheme: Scheme): void {
  const who = account ? account.fullName : 'guest';
  ws.send(
    `bank.test support (over ${scheme === 'https' ? 'wss' : 'ws'}): hello ${who}, how can we help?`,
  );
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      ws.send('support: text messages only, please');
      return;
    }
    const text = data.toString();
    ws.send(`support: you said "${text.slice(0, 200)}" — an agent will answer soon`);
  });
  ws.on('error', () => ws.terminate()); // a broken chat client must not take the bank down
}

function authenticate(
  user: string | null | undefined,
  password: string | null | undefined,
): BankAccount | null {
  return BANK_ACCOUNTS.find((a) => a.user === user && a.password === password) ?? null;
}

function parseCredentials(
  body: string,
  contentType: string | undefined,
): { user?: string; password?: string } {
  if (contentType?.includes('json')) {
    try {
      const v = JSON.parse(body) as unknown;
      if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        return {
          ...(typeof o['user'] === 'string' ? { user: o['user'] } : {}),
          ...(typeof o['password'] === 'string' ? { password: o['password'] } : {}),
        };
      }
    } catch {
      return {}; // not JSON: treated as no credentials → 401, which says what to send
    }
    return {};
  }
  const form = new URLSearchParams(body);
  return { user: form.get('user') ?? '', password: form.get('password') ?? '' };
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** One cookie's value from the request, or undefined. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(`${JSON.stringify(value)}\n`);
}

function transportNote(scheme: Scheme): string {
  return scheme === 'https'
    ? '<p class="good">You are on <b>HTTPS</b>: this page and your password travel inside TLS. An eavesdropper sees the name <code>bank.test</code> (SNI), sizes and timing — not the content. Unless your device trusts the man in the middle.</p>'
    : '<p class="bad">You are on plain <b>HTTP</b>: everyone on the path — Wi-Fi, router, proxy — reads this page, your password and your session cookie.</p>';
}

function homePage(scheme: Scheme, account: BankAccount | null, error?: string): string {
  const body = `<header><h1>bank.test</h1><p>Your friendly lab bank.</p></header>
${transportNote(scheme)}
${error ? `<p class="bad">${esc(error)}</p>` : ''}
${
  account
    ? `<p>You are logged in as <b>${esc(account.fullName)}</b>. <a href="/account">Your account</a></p>
<form method="post" action="/logout"><button>Log out</button></form>`
    : `<h2>Log in</h2>
<form method="post" action="/login">
<label>User <input name="user" autocomplete="username" value="alice"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button>Log in</button>
</form>
<p><small>Lab accounts: <code>alice</code> / <code>correct-horse-battery-staple</code>, <code>bob</code> / <code>hunter2</code>.</small></p>`
}
<h2>Also here</h2>
<ul>
<li><a href="/transfer">Pay your rent</a> (a transfer; log in first) and <a href="/transfers">the bank's ledger</a> (where the money really went; <code>/transfers.txt</code> for a terminal)</li>
<li><a href="/chat">Support chat</a> (WebSocket)</li>
<li>API: <code>POST /api/token</code> with <code>{"user","password"}</code>, then <code>GET /api/balance</code> with <code>Authorization: Bearer &lt;token&gt;</code></li>
<li><a href="http://lab.test/">The lab index</a>: the broken-certificate gallery</li>
</ul>`;
  return page('bank.test', body);
}

function accountPage(scheme: Scheme, account: BankAccount): string {
  const rows = account.transactions
    .map(
      (t) =>
        `<tr><td>${esc(t.date)}</td><td>${esc(t.text)}</td><td style="text-align:right">${esc(money(t.amountCents))}</td></tr>`,
    )
    .join('\n');
  const body = `<header><h1>bank.test — ${esc(account.fullName)}</h1></header>
${transportNote(scheme)}
<p>Balance: <b>EUR ${esc(money(account.balanceCents))}</b></p>
<table><tr><th>Date</th><th>Transaction</th><th>Amount</th></tr>
${rows}
</table>
<form method="post" action="/logout"><button>Log out</button></form>`;
  return page(`bank.test — ${account.fullName}`, body);
}

/** A compact IBAN: two letters, two check digits, 10 to 30 letters or digits. */
const IBAN_RE = /^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$/;

/** Euros with at most two decimals (`120`, `120.5`, `120.00`) → cents, or null. */
function parseAmount(text: string): number | null {
  const m = /^(\d{1,6})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) return null;
  const cents = Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
  return cents >= 1 && cents <= MAX_TRANSFER_CENTS ? cents : null;
}

function transferPage(scheme: Scheme, account: BankAccount, error = ''): string {
  const rent = money(RENT_CENTS).replace(/,/g, '');
  const body = `<header><h1>bank.test — pay your rent</h1></header>
${transportNote(scheme)}
${error ? `<p class="bad">${esc(error)}</p>` : ''}
<p>Hello ${esc(account.fullName)}. Your landlord, <b>${esc(LANDLORD.name)}</b>, asks for the rent on account <b id="iban">${esc(LANDLORD.iban)}</b>.</p>
<form method="post" action="/transfer">
<label>Recipient <input name="name" value="${esc(LANDLORD.name)}"></label>
<label>IBAN <input name="iban" value="${esc(LANDLORD.iban)}" size="34"></label>
<label>Amount (EUR) <input name="amount" value="${esc(rent)}"></label>
<label>Reference <input name="reference" value="Rent December"></label>
<button>Send the money</button>
</form>
<p><small>The bank books exactly what this form sends. <a href="/transfers">The ledger</a> shows where every transfer went.</small></p>`;
  return page('bank.test — pay your rent', body);
}

function confirmationPage(scheme: Scheme, t: Transfer): string {
  const body = `<header><h1>bank.test — transfer done</h1></header>
${transportNote(scheme)}
<p id="confirmation">Sent <b>EUR ${esc(money(t.amountCents))}</b> to <b>${esc(t.iban)}</b> (${esc(t.name || 'no name given')}). Reference: ${esc(t.reference || '-')}.</p>
<p><a href="/transfers">The ledger</a> · <a href="/account">Your account</a></p>`;
  return page('bank.test — transfer done', body);
}

function ledgerPage(scheme: Scheme, ledger: readonly Transfer[]): string {
  const rows = [...ledger]
    .reverse()
    .map(
      (t) =>
        `<tr><td>${esc(t.at.replace('T', ' ').slice(0, 19))}</td><td>${esc(t.from)}</td><td style="text-align:right">${esc(money(t.amountCents))}</td><td>${esc(t.iban)}</td><td class="${t.iban === LANDLORD.iban ? 'good' : 'bad'}">${esc(t.owner ?? 'unknown account')}</td><td>${esc(t.name)}</td><td>${esc(t.scheme.toUpperCase())}</td></tr>`,
    )
    .join('\n');
  const body = `<header><h1>bank.test — the ledger</h1><p>What the bank booked: where the money really went, whatever a page showed.</p></header>
${transportNote(scheme)}
<div class="scroll"><table><tr><th>When (UTC)</th><th>From</th><th>EUR</th><th>To IBAN</th><th>Owner of that account</th><th>Name on the form</th><th>Sent over</th></tr>
${rows || '<tr><td colspan="7">No transfer yet.</td></tr>'}
</table></div>`;
  return page('bank.test — the ledger', body, { wide: true });
}

/** The ledger for a terminal: one line per transfer, oldest first. */
function ledgerText(ledger: readonly Transfer[]): string {
  if (ledger.length === 0) return 'No transfer yet.\n';
  return ledger
    .map(
      (t) =>
        `${t.at.replace('T', ' ').slice(0, 19)}  ${t.from}  EUR ${money(t.amountCents)}  to ${t.iban}  ${t.owner ?? 'unknown account'}  over ${t.scheme.toUpperCase()}  ref ${t.reference || '-'}\n`,
    )
    .join('');
}

function chatPage(scheme: Scheme): string {
  const wsScheme = scheme === 'https' ? 'wss' : 'ws';
  const body = `<header><h1>bank.test support chat</h1></header>
${transportNote(scheme)}
<div id="log" style="border:1px solid #ccc; min-height:8rem; padding:0.5rem; white-space:pre-wrap"></div>
<form id="f"><input id="m" size="50" placeholder="Type a message (it crosses as a WebSocket frame)"><button>Send</button></form>
<script>
const log = document.getElementById('log');
const ws = new WebSocket('${wsScheme}://' + location.host + '/chat');
ws.onmessage = (e) => { log.textContent += e.data + '\\n'; };
ws.onclose = () => { log.textContent += '[chat closed]\\n'; };
document.getElementById('f').onsubmit = (e) => { e.preventDefault(); const m = document.getElementById('m'); ws.send(m.value); log.textContent += 'you: ' + m.value + '\\n'; m.value = ''; };
</script>`;
  return page('bank.test support chat', body);
}
