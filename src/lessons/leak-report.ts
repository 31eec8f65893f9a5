// What HTTPS does not hide, folded from events alone: per destination host, how an observer on
// the path learned of it (the CONNECT target, the SNI in the ClientHello, a Host header or URL
// of plain HTTP), its ports, how many connections and requests, how many bytes each way, when,
// which TLS versions and ALPN; the secrets that crossed in plain HTTP; and the certificates that
// crossed in clear (TLS 1.2). In eavesdrop mode over HTTPS every host and its volume is still
// here: that is the lesson.
import type { Header, ProxyEvent } from '../events/types.ts';

export interface HostLeak {
  host: string;
  /** How it was seen: `CONNECT target`, `SNI`, `Host header`, `plain-HTTP URL`. */
  seenVia: string[];
  ports: number[];
  /** Client addresses that went there. */
  clients: string[];
  connections: number;
  requests: number;
  bytesUp: number;
  bytesDown: number;
  firstSeen: string;
  lastSeen: string;
  tlsVersions: string[];
  alpn: string[];
}

export interface PlaintextSecret {
  host: string;
  /** `password`, `cookie`, `set-cookie`, `authorization`, `token`. */
  kind: string;
  /** Where it was: the request line or response, and the field. */
  where: string;
  /** The value, masked unless the report was asked to reveal it. */
  value: string;
}

export interface CertificateInClear {
  host: string;
  subject: string;
  issuer: string;
  sha256: string;
}

export interface LeakReport {
  hosts: HostLeak[];
  plaintextSecrets: PlaintextSecret[];
  certificatesInClear: CertificateInClear[];
}

/** Form fields and JSON keys that hold a secret. */
const SECRET_FIELD = /^(password|passwd|pass|pin|token|access_token|secret|api_key)$/i;

function mask(v: string): string {
  return v.length <= 2
    ? '**'
    : `${v.slice(0, 1)}${'*'.repeat(Math.min(8, v.length - 2))}${v.slice(-1)}`;
}

function headerValues(headers: Header[], name: string): string[] {
  const n = name.toLowerCase();
  return headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
}

/** Secret fields of a form or JSON body. */
function bodySecrets(text: string): Array<[field: string, value: string]> {
  const out: Array<[string, string]> = [];
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(trimmed) as Record<string, unknown>))
        if (SECRET_FIELD.test(k) && typeof v === 'string') out.push([k, v]);
    } catch {
      // not JSON after all: try it as a form below
    }
  }
  for (const part of trimmed.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = decodeURIComponent(part.slice(0, eq).replace(/\+/g, ' '));
    if (SECRET_FIELD.test(k))
      out.push([k, decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '))]);
  }
  return out;
}

/** Fold events into the report. `reveal` shows secret values instead of masking them. */
export function leakReport(events: Iterable<ProxyEvent>, reveal = false): LeakReport {
  const hosts = new Map<string, HostLeak & { connIds: Set<string> }>();
  const hostOfConn = new Map<string, string>();
  const clientOfConn = new Map<string, string>();
  const secrets: PlaintextSecret[] = [];
  const certs = new Map<string, CertificateInClear>();
  const show = (v: string) => (reveal ? v : mask(v));

  const entry = (host: string, at: string) => {
    let h = hosts.get(host);
    if (!h) {
      h = {
        host,
        seenVia: [],
        ports: [],
        clients: [],
        connections: 0,
        requests: 0,
        bytesUp: 0,
        bytesDown: 0,
        firstSeen: at,
        lastSeen: at,
        tlsVersions: [],
        alpn: [],
        connIds: new Set(),
      };
      hosts.set(host, h);
    }
    if (at < h.firstSeen) h.firstSeen = at;
    if (at > h.lastSeen) h.lastSeen = at;
    return h;
  };
  const add = <T>(list: T[], v: T | null | undefined) => {
    if (v !== null && v !== undefined && v !== '' && !list.includes(v)) list.push(v);
  };
  const onConn = (h: ReturnType<typeof entry>, connId: string) => {
    if (!h.connIds.has(connId)) {
      h.connIds.add(connId);
      h.connections++;
      add(h.clients, clientOfConn.get(connId));
    }
    hostOfConn.set(connId, h.host);
  };

  for (const e of events) {
    switch (e.type) {
      case 'conn.open':
        clientOfConn.set(e.connId, e.clientAddress);
        break;
      case 'tls.client-hello': {
        const h = entry(e.sni ?? e.host, e.at);
        add(h.seenVia, 'CONNECT target');
        if (e.sni) add(h.seenVia, 'SNI');
        add(h.ports, e.port);
        for (const a of e.alpn) add(h.alpn, a);
        onConn(h, e.connId);
        break;
      }
      case 'http.request': {
        const h = entry(e.host, e.at);
        h.requests++;
        onConn(h, e.connId);
        if (e.visibility !== 'wire') break;
        add(h.seenVia, 'Host header');
        add(h.seenVia, 'plain-HTTP URL');
        const port = Number(new URL(e.url).port || 80);
        add(h.ports, port);
        const where = `${e.method} ${e.url}`;
        for (const v of headerValues(e.headers, 'cookie'))
          secrets.push({
            host: e.host,
            kind: 'cookie',
            where: `${where} (Cookie)`,
            value: show(v),
          });
        for (const v of headerValues(e.headers, 'authorization'))
          secrets.push({
            host: e.host,
            kind: /^bearer /i.test(v) ? 'token' : 'authorization',
            where: `${where} (Authorization)`,
            value: show(v),
          });
        if ('text' in e.body)
          for (const [k, v] of bodySecrets(e.body.text))
            secrets.push({
              host: e.host,
              kind: /pass|pin/i.test(k) ? 'password' : 'token',
              where: `${where} (body field ${k})`,
              value: show(v),
            });
        break;
      }
      case 'http.response': {
        if (e.visibility !== 'wire') break;
        const host = hostOfConn.get(e.connId);
        if (!host) break;
        for (const v of headerValues(e.headers, 'set-cookie'))
          secrets.push({
            host,
            kind: 'set-cookie',
            where: `response ${e.status} (Set-Cookie)`,
            value: show(v.split(';')[0] ?? v),
          });
        break;
      }
      case 'tunnel.summary':
      case 'conn.close': {
        const host = e.type === 'tunnel.summary' ? (e.sni ?? e.host) : hostOfConn.get(e.connId);
        if (!host) break;
        const h = entry(host, e.at);
        if (e.type === 'conn.close') {
          h.bytesUp += e.wire.up.size;
          h.bytesDown += e.wire.down.size;
        }
        const version = e.type === 'conn.close' ? e.wire.tlsVersion : e.tlsVersion;
        add(h.tlsVersions, version);
        const chain = e.type === 'conn.close' ? e.wire.serverCertificates : e.serverCertificates;
        for (const c of chain ?? [])
          if (!certs.has(`${host} ${c.sha256}`))
            certs.set(`${host} ${c.sha256}`, {
              host,
              subject: c.subject,
              issuer: c.issuer,
              sha256: c.sha256,
            });
        break;
      }
      case 'tls.client-accepted': {
        const host = hostOfConn.get(e.connId);
        if (host) add(entry(host, e.at).alpn, e.alpn);
        break;
      }
      default:
        break;
    }
  }
  return {
    hosts: [...hosts.values()]
      .map(({ connIds: _c, ...h }) => h)
      .sort((a, b) => a.firstSeen.localeCompare(b.firstSeen)),
    plaintextSecrets: secrets,
    certificatesInClear: [...certs.values()],
  };
}
