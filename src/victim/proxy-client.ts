// The scripted victim's network client: plain Node http/https through an HTTP proxy, the way a
// browser does it. Plain HTTP goes to the proxy with an absolute URI (`POST http://bank.test/login`);
// HTTPS opens a `CONNECT host:443` tunnel and runs TLS inside it with the victim's own trust
// store (`ca`) and SNI (`servername`). Validation is always on: the victim's whole point is to
// show what a client that validates certificates does.
import http from 'node:http';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { LabError } from '../util/lab-error.ts';
import { WebSocket } from '../util/ws.ts';

/** Give up on any single exchange after this long: a lab on loopback answers in milliseconds. */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface ProxyAddress {
  host: string;
  port: number;
  /** `user:pass` for Proxy-Authorization, from the URL's userinfo. */
  auth: string | null;
  url: string;
}

/** Parse `http://127.0.0.1:8080` (userinfo allowed) into an address. */
export function parseProxyUrl(text: string): ProxyAddress {
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new LabError('usage', `--proxy wants a URL like http://127.0.0.1:8080, got "${text}"`);
  }
  if (u.protocol !== 'http:')
    throw new LabError(
      'usage',
      `--proxy must be an http:// URL (the proxy speaks plain HTTP and CONNECT), got "${text}"`,
    );
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : 8080;
  const auth = u.username
    ? `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`
    : null;
  return { host, port, auth, url: `http://${u.host}` };
}

/** What the victim's TLS client saw when the handshake succeeded. */
export interface TlsSeen {
  protocol: string | null;
  cipher: string | null;
  /** The server certificate's subject CN (or subject string). */
  subject: string;
  /** Its issuer CN (or issuer string). */
  issuer: string;
  /** Subject alternative names as Node reports them, e.g. `DNS:bank.test`. */
  altNames: string;
  validTo: string;
}

/** One HTTP exchange's result. */
export interface Exchange {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  tls: TlsSeen | null;
}

/** A failure before an HTTP response arrived, in the client's own words. */
export class ClientFailure extends Error {
  constructor(
    /** Where it failed. */
    readonly stage: 'proxy-connect' | 'connect-refused' | 'tls' | 'http' | 'timeout',
    /** Node's error code (e.g. `CERT_HAS_EXPIRED`), or the CONNECT status, or null. */
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestSpec {
  method: string;
  /** Absolute URL: `http://bank.test/login` or `https://bank.test/api/balance`. */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Trusted roots for HTTPS (PEM). */
  ca: string[];
}

/** Send one request through the proxy; resolves with the response, rejects with ClientFailure. */
export async function request(proxy: ProxyAddress, spec: RequestSpec): Promise<Exchange> {
  const url = new URL(spec.url);
  const headers: Record<string, string> = {
    Host: url.host,
    'User-Agent': 'mitm-lab-victim/1.0 (Node)',
    Connection: 'close',
    ...(spec.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(spec.body)) } : {}),
    ...spec.headers,
  };
  if (url.protocol === 'http:') {
    if (proxy.auth) headers['Proxy-Authorization'] = basic(proxy.auth);
    return exchange(
      { host: proxy.host, port: proxy.port, method: spec.method, path: url.href, headers },
      spec.body,
    );
  }
  if (url.protocol !== 'https:') throw new Error(`unsupported URL ${spec.url}`);
  const socket = await openTls(proxy, url.hostname, Number(url.port || 443), spec.ca);
  return exchange(
    {
      method: spec.method,
      path: `${url.pathname}${url.search}`,
      headers,
      createConnection: () => socket,
    },
    spec.body,
  );
}

/**
 * Open a WebSocket (`ws://` or `wss://`) through a CONNECT tunnel, as browsers do. `inbox`
 * holds every message from the start: a server that speaks first can have its message arrive
 * with the 101 and be emitted before the caller's `await` resumes.
 */
export async function openWebSocket(
  proxy: ProxyAddress,
  wsUrl: string,
  ca: string[],
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket; tls: TlsSeen | null; inbox: string[] }> {
  const url = new URL(wsUrl);
  const secure = url.protocol === 'wss:';
  const port = Number(url.port || (secure ? 443 : 80));
  const socket = secure
    ? await openTls(proxy, url.hostname, port, ca)
    : await openTunnel(proxy, url.hostname, port);
  const seen = secure ? tlsSeen(socket as tls.TLSSocket) : null;
  const ws = new WebSocket(wsUrl, {
    createConnection: () => socket,
    headers,
    handshakeTimeout: REQUEST_TIMEOUT_MS,
  });
  const inbox: string[] = [];
  ws.on('message', (data) => inbox.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', (err) => reject(new ClientFailure('http', codeOf(err), err.message)));
    ws.once('unexpected-response', (_req, res) => {
      reject(
        new ClientFailure(
          'http',
          String(res.statusCode),
          `HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
        ),
      );
      res.resume();
      socket.destroy();
    });
  });
  return { ws, tls: seen, inbox };
}

/** `CONNECT host:port` through the proxy; resolves with the raw tunnel socket. */
export function openTunnel(proxy: ProxyAddress, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: `${host}:${port}` };
    if (proxy.auth) headers['Proxy-Authorization'] = basic(proxy.auth);
    const req = http.request({
      host: proxy.host,
      port: proxy.port,
      method: 'CONNECT',
      path: `${host}:${port}`,
      headers,
      timeout: REQUEST_TIMEOUT_MS,
    });
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(
          new ClientFailure(
            'proxy-connect',
            String(res.statusCode),
            `the proxy answered CONNECT with ${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
          ),
        );
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once('timeout', () => {
      req.destroy();
      reject(
        new ClientFailure(
          'timeout',
          'ETIMEDOUT',
          `no answer to CONNECT within ${REQUEST_TIMEOUT_MS} ms`,
        ),
      );
    });
    req.once('error', (err) => reject(proxyConnectFailure(err, proxy)));
    req.end();
  });
}

/** CONNECT, then TLS inside the tunnel with the victim's trust store and SNI. */
export async function openTls(
  proxy: ProxyAddress,
  host: string,
  port: number,
  ca: string[],
): Promise<tls.TLSSocket> {
  const raw = await openTunnel(proxy, host, port);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ socket: raw, servername: host, ca, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ClientFailure(
          'timeout',
          'ETIMEDOUT',
          `TLS handshake did not finish within ${REQUEST_TIMEOUT_MS} ms`,
        ),
      );
    }, REQUEST_TIMEOUT_MS);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      raw.destroy();
      reject(new ClientFailure('tls', codeOf(err), err.message));
    });
  });
}

function exchange(options: http.RequestOptions, body: string | undefined): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...options, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const socket = res.socket as Socket | tls.TLSSocket | null;
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          tls: socket && 'getPeerCertificate' in socket ? tlsSeen(socket) : null,
        });
        socket?.destroy();
      });
      res.on('error', (err) => reject(new ClientFailure('http', codeOf(err), err.message)));
    });
    req.once('timeout', () => {
      req.destroy();
      reject(
        new ClientFailure('timeout', 'ETIMEDOUT', `no response within ${REQUEST_TIMEOUT_MS} ms`),
      );
    });
    req.once('error', (err) => {
      if (err instanceof ClientFailure) reject(err);
      else if ('host' in options && options.host)
        reject(
          proxyConnectFailure(err, { host: String(options.host), port: Number(options.port) }),
        );
      else reject(new ClientFailure('http', codeOf(err), err.message));
    });
    req.end(body);
  });
}

function tlsSeen(socket: tls.TLSSocket): TlsSeen {
  const cert = socket.getPeerCertificate();
  const cn = (o: Record<string, string | string[] | undefined> | undefined) => {
    const v = o?.['CN'];
    return (Array.isArray(v) ? v[0] : v) ?? JSON.stringify(o ?? {});
  };
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? null,
    subject: cn(cert.subject as unknown as Record<string, string>),
    issuer: cn(cert.issuer as unknown as Record<string, string>),
    altNames: cert.subjectaltname ?? '',
    validTo: cert.valid_to,
  };
}

function proxyConnectFailure(err: Error, proxy: { host: string; port: number }): ClientFailure {
  const code = codeOf(err);
  if (code === 'ECONNREFUSED')
    return new ClientFailure(
      'connect-refused',
      code,
      `nothing listens on ${proxy.host}:${proxy.port} — is \`mitm-lab start\` running?`,
    );
  return new ClientFailure('http', code, err.message);
}

function codeOf(err: unknown): string | null {
  const c = (err as { code?: unknown }).code;
  return typeof c === 'string' ? c : null;
}

function basic(auth: string): string {
  return `Basic ${Buffer.from(auth).toString('base64')}`;
}
