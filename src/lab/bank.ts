// bank.test: a small bank to attack. A login form (POST user + password → session cookie), an
// account page, a JSON API with a bearer token (POST /api/token, then GET /api/balance with
// `Authorization: Bearer …`) and a WebSocket chat (/chat). The same bank answers over HTTP and
// over HTTPS (the state is shared, as one bank behind two ports would be), so the only thing
// that changes between the lessons is the transport.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from '../util/ws.ts';
import { BANK_ACCOUNTS, SESSION_TTL_S, type BankAccount } from './bank-data.ts';
import { esc, money, page } from './html.ts';

/** Request bodies above this are refused with 413: the bank only takes small forms. */
const MAX_BODY_BYTES = 64 * 1024;
/** Chat messages above this are refused (closes with 1009). */
const MAX_CHAT_BYTES = 4 * 1024;

export type Scheme = 'http' | 'https';

export interface Bank {
  /** Answer one HTTP request that arrived over `scheme`. */
  handle(req: IncomingMessage, res: ServerResponse, scheme: Scheme): void;
  /** Take over an HTTP upgrade for /chat (WebSocket); other paths are refused with 404. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, scheme: Scheme): void;
  /** Close every chat connection. */
  close(): void;
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
    if (store.size > 10_000) store.delete(store.keys().next().value as string); // bounded
    return id;
  };
  const lookup = (store: Map<string, Grant>, id: string | undefined): BankAccount | null => {
    if (!id) return null;
    const g = store.get(id);
    if (!g || g.expires < Date.now()) return null;
    return g.account;
  };
  const sessionOf = (req: IncomingMessage) => lookup(sessions, cookie(req, 'session'));

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
