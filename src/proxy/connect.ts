// CONNECT targets and proxy authentication: the two things the engine must check before it
// touches a socket. http-mitm-proxy would take `CONNECT ../../x:443` at its word (it used the
// raw host in file names); here anything that is not a DNS name or an IP literal with a port
// in 1..65535 is refused with 400 before any byte of the tunnel flows.
import crypto from 'node:crypto';
import net from 'node:net';

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const DNS_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`, 'i');

export type ConnectTarget =
  { ok: true; host: string; port: number } | { ok: false; reason: string };

/** Parse a CONNECT request target: `host:port` or `[v6]:port`. */
export function parseConnectTarget(target: string | undefined): ConnectTarget {
  if (!target) return { ok: false, reason: 'empty CONNECT target' };
  if (target.length > 300) return { ok: false, reason: 'CONNECT target too long' };
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(target);
  if (!m) return { ok: false, reason: `CONNECT target "${target}" is not HOST:PORT` };
  const port = Number(m[3]);
  if (!(port >= 1 && port <= 65535)) {
    return { ok: false, reason: `CONNECT port ${m[3]} is outside 1-65535` };
  }
  if (m[1] !== undefined) {
    if (net.isIPv6(m[1])) return { ok: true, host: m[1].toLowerCase(), port };
    return { ok: false, reason: `"[${m[1]}]" is not an IPv6 address` };
  }
  const host = (m[2] ?? '').toLowerCase();
  if (!host) return { ok: false, reason: 'CONNECT target has an empty host' };
  if (net.isIPv4(host)) return { ok: true, host, port };
  if (host.length > 253 || !DNS_RE.test(host) || /^[0-9.]+$/.test(host)) {
    return { ok: false, reason: `"${host}" is not a valid host name` };
  }
  return { ok: true, host: host.replace(/\.$/, ''), port };
}

/** True when the `Proxy-Authorization` header carries exactly these Basic credentials. */
export function checkProxyAuth(
  header: string | undefined,
  auth: { user: string; pass: string },
): boolean {
  const m = /^\s*basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(Buffer.from(m[1] ?? '', 'base64').toString('utf8'));
  const wanted = Buffer.from(`${auth.user}:${auth.pass}`);
  // Constant time, so the answer's timing does not leak how much of the password matched.
  return given.length === wanted.length && crypto.timingSafeEqual(given, wanted);
}

/** The raw 407 answer (CONNECT sockets have no ServerResponse). */
export const PROXY_AUTH_REQUIRED =
  'HTTP/1.1 407 Proxy Authentication Required\r\n' +
  'Proxy-Authenticate: Basic realm="mitm-lab"\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n' +
  'Content-Length: 42\r\n' +
  'Connection: close\r\n\r\n' +
  'mitm-lab: proxy authentication required.\r\n';

/**
 * What to answer an upgrade (WebSocket) request that came straight to the proxy — not inside a
 * CONNECT, where the CONNECT was checked — or null to relay it. The library's WebSocket server
 * would answer 101 first and ask afterwards; this is asked before.
 */
export function refuseDirectUpgrade(
  req: { url?: string | undefined; headers: Record<string, string | string[] | undefined> },
  auth: { user: string; pass: string } | undefined,
): { answer: string; reason: string } | null {
  const header = req.headers['proxy-authorization'];
  if (auth && !checkProxyAuth(typeof header === 'string' ? header : undefined, auth)) {
    return { answer: PROXY_AUTH_REQUIRED, reason: 'proxy authentication required (407)' };
  }
  if (!isAbsoluteForm(req.url)) {
    // The library would relay it to its Host header — the proxy itself, when a relayed upgrade
    // comes back: a loop of ~700 sockets a second (issue 13). The HTTP path refuses it too.
    return {
      answer:
        'HTTP/1.1 400 Bad Request\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(NOT_A_WEB_SERVER_TEXT)}\r\n` +
        'Connection: close\r\n\r\n' +
        NOT_A_WEB_SERVER_TEXT,
      reason: 'an origin-form request sent to the proxy itself (400)',
    };
  }
  return null;
}

/** True for an absolute-form request target (`http://host/path`), what clients send a proxy. */
export function isAbsoluteForm(target: string | undefined): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target ?? '');
}

/**
 * The answer to a request sent to the proxy as if it were the web server (origin-form, not
 * inside a CONNECT): forwarding it would go to its Host header, often the proxy itself.
 */
export const NOT_A_WEB_SERVER_TEXT =
  "This is mitm-lab's proxy, not a web server.\n" +
  'Use it as an HTTP proxy, e.g. curl -x http://HOST:PORT http://bank.test/\n';

/** What a client is told while the proxy is out of file descriptors. */
export const OUT_OF_DESCRIPTORS_TEXT =
  'mitm-lab is out of file descriptors (EMFILE: too many open connections) and refused this one.\n' +
  'Try again in a moment; if it keeps happening, close some connections or raise the limit (ulimit -n).\n';

/** The raw 503 answer for a CONNECT that came while the proxy was out of file descriptors. */
export const OUT_OF_DESCRIPTORS_RESPONSE =
  'HTTP/1.1 503 Service Unavailable\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n' +
  `Content-Length: ${Buffer.byteLength(OUT_OF_DESCRIPTORS_TEXT)}\r\n` +
  'Connection: close\r\n\r\n' +
  OUT_OF_DESCRIPTORS_TEXT;

/** A raw 400 answer for a refused CONNECT, naming why. */
export function badConnectResponse(reason: string): string {
  const body = `mitm-lab: bad CONNECT request: ${reason}\r\n`;
  return (
    'HTTP/1.1 400 Bad Request\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** A raw 403 answer for a target the proxy will not reach, saying why (a sentence). */
export function forbiddenTargetResponse(sentence: string): string {
  const body = `mitm-lab: refused: ${sentence}\r\n`;
  return (
    'HTTP/1.1 403 Forbidden\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}
