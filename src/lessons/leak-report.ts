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

/** Secrets kept for the report; beyond this the oldest go (a UI that runs all day). */
const MAX_SECRETS = 500;
/** Certificates kept for the report. */
const MAX_CERTS = 500;

type HostEntry = HostLeak & { counted: Set<string> };

/**
 * The report as a running fold (the UI keeps one live): feed events in order with `apply`, read
 * `report()` at any time. Per-connection memory is dropped at `conn.close`, so it stays bounded
 * by the number of hosts; a `lab.reset` event starts it over.
 */
export class LeakFold {
  private hosts = new Map<string, HostEntry>();
  private hostOfConn = new Map<string, string>();
  private clientOfConn = new Map<string, string>();
  /** The hosts each open connection was counted for (forgotten at its close). */
  private countedFor = new Map<string, Set<HostEntry>>();
  private secrets: Array<Omit<PlaintextSecret, 'value'> & { raw: string }> = [];
  private certs = new Map<string, CertificateInClear>();
  /** Bumped by every event that changed the report (views redraw on a change). */
  version = 0;

  apply(e: ProxyEvent): void {
    if (this.fold(e)) this.version++;
  }

  private entry(host: string, at: string): HostEntry {
    let h = this.hosts.get(host);
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
        counted: new Set(),
      };
      this.hosts.set(host, h);
    }
    if (at < h.firstSeen) h.firstSeen = at;
    if (at > h.lastSeen) h.lastSeen = at;
    return h;
  }

  private onConn(h: HostEntry, connId: string): void {
    if (!h.counted.has(connId)) {
      h.counted.add(connId);
      h.connections++;
      let set = this.countedFor.get(connId);
      if (!set) this.countedFor.set(connId, (set = new Set()));
      set.add(h);
      add(h.clients, this.clientOfConn.get(connId));
    }
    this.hostOfConn.set(connId, h.host);
  }

  private secret(s: Omit<PlaintextSecret, 'value'> & { raw: string }): void {
    this.secrets.push(s);
    if (this.secrets.length > MAX_SECRETS) this.secrets.shift();
  }

  private fold(e: ProxyEvent): boolean {
    switch (e.type) {
      case 'lab.reset':
        this.hosts = new Map();
        this.hostOfConn = new Map();
        this.clientOfConn = new Map();
        this.countedFor = new Map();
        this.secrets = [];
        this.certs = new Map();
        return true;
      case 'conn.open':
        this.clientOfConn.set(e.connId, e.clientAddress);
        return false;
      case 'tls.client-hello': {
        const h = this.entry(e.sni ?? e.host, e.at);
        add(h.seenVia, 'CONNECT target');
        if (e.sni) add(h.seenVia, 'SNI');
        add(h.ports, e.port);
        for (const a of e.alpn) add(h.alpn, a);
        this.onConn(h, e.connId);
        return true;
      }
      case 'http.request': {
        const h = this.entry(e.host, e.at);
        h.requests++;
        this.onConn(h, e.connId);
        if (e.visibility !== 'wire') return true;
        add(h.seenVia, 'Host header');
        add(h.seenVia, 'plain-HTTP URL');
        const port = Number(new URL(e.url).port || 80);
        add(h.ports, port);
        const where = `${e.method} ${e.url}`;
        for (const v of headerValues(e.headers, 'cookie'))
          this.secret({ host: e.host, kind: 'cookie', where: `${where} (Cookie)`, raw: v });
        for (const v of headerValues(e.headers, 'authorization'))
          this.secret({
            host: e.host,
            kind: /^bearer /i.test(v) ? 'token' : 'authorization',
            where: `${where} (Authorization)`,
            raw: v,
          });
        if ('text' in e.body)
          for (const [k, v] of bodySecrets(e.body.text))
            this.secret({
              host: e.host,
              kind: /pass|pin/i.test(k) ? 'password' : 'token',
              where: `${where} (body field ${k})`,
              raw: v,
            });
        return true;
      }
      case 'http.response': {
        if (e.visibility !== 'wire') return false;
        const host = this.hostOfConn.get(e.connId);
        if (!host) return false;
        for (const v of headerValues(e.headers, 'set-cookie'))
          this.secret({
            host,
            kind: 'set-cookie',
            where: `response ${e.status} (Set-Cookie)`,
            raw: v.split(';')[0] ?? v,
          });
        return true;
      }
      case 'tunnel.summary':
      case 'conn.close': {
        const host =
          e.type === 'tunnel.summary' ? (e.sni ?? e.host) : this.hostOfConn.get(e.connId);
        if (e.type === 'conn.close') {
          // The connection's last event: its per-connection memory goes.
          this.hostOfConn.delete(e.connId);
          this.clientOfConn.delete(e.connId);
          for (const h of this.countedFor.get(e.connId) ?? []) h.counted.delete(e.connId);
          this.countedFor.delete(e.connId);
        }
        if (!host) return false;
        const h = this.entry(host, e.at);
        if (e.type === 'conn.close') {
          h.bytesUp += e.wire.up.size;
          h.bytesDown += e.wire.down.size;
        }
        const version = e.type === 'conn.close' ? e.wire.tlsVersion : e.tlsVersion;
        add(h.tlsVersions, version);
        const chain = e.type === 'conn.close' ? e.wire.serverCertificates : e.serverCertificates;
        for (const c of chain ?? [])
          if (!this.certs.has(`${host} ${c.sha256}`) && this.certs.size < MAX_CERTS)
            this.certs.set(`${host} ${c.sha256}`, {
              host,
              subject: c.subject,
              issuer: c.issuer,
              sha256: c.sha256,
            });
        return true;
      }
      case 'tls.client-accepted': {
        const host = this.hostOfConn.get(e.connId);
        if (host) add(this.entry(host, e.at).alpn, e.alpn);
        return host !== undefined;
      }
      default:
        return false;
    }
  }

  /** The report so far. `reveal` shows secret values instead of masking them. */
  report(reveal = false): LeakReport {
    return {
      hosts: [...this.hosts.values()]
        .map(({ counted: _c, ...h }) => ({
          ...h,
          seenVia: [...h.seenVia],
          ports: [...h.ports],
          clients: [...h.clients],
          tlsVersions: [...h.tlsVersions],
          alpn: [...h.alpn],
        }))
        .sort((a, b) => a.firstSeen.localeCompare(b.firstSeen)),
      plaintextSecrets: this.secrets.map(({ raw, ...s }) => ({
        ...s,
        value: reveal ? raw : mask(raw),
      })),
      certificatesInClear: [...this.certs.values()],
    };
  }
}

function add<T>(list: T[], v: T | null | undefined): void {
  if (v !== null && v !== undefined && v !== '' && !list.includes(v)) list.push(v);
}

/** Fold events into the report. `reveal` shows secret values instead of masking them. */
export function leakReport(events: Iterable<ProxyEvent>, reveal = false): LeakReport {
  const fold = new LeakFold();
  for (const e of events) fold.apply(e);
  return fold.report(reveal);
}
