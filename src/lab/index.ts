// The built-in lab: bank.test over HTTP and HTTPS, the lab.test index, and the
// broken-certificate gallery, all on 127.0.0.1 (port 0 each). `startLab` returns the real ports
// and the resolve rules the proxy needs to route lab names there, so no hosts file is edited:
// a client behind a proxy never resolves names itself.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createBank, type Scheme } from './bank.ts';
import { BANK_HOST, GALLERY, INDEX_HOST, galleryEntry, type GalleryEntry } from './gallery.ts';
import { galleryPage, indexPage, unknownHostPage } from './lab-pages.ts';
import { openLabPki, type LabPki, type ServerCredentials } from './pki.ts';

export { GALLERY, BANK_HOST, INDEX_HOST, BROWSER_EQUIVALENT, galleryEntry } from './gallery.ts';
export type { GalleryEntry, GalleryId, ClientOutcome } from './gallery.ts';
export { openLabPki, readLabRoot, LAB_ROOT_CN, LAB_INTERMEDIATE_CN } from './pki.ts';
export type { LabPki } from './pki.ts';

const LOOPBACK = '127.0.0.1';
const DAY_MS = 24 * 60 * 60 * 1000;

/** The engine's ResolveRule shape (src/proxy): requested port → real loopback port. */
export interface LabResolveRule {
  pattern: string;
  address: string;
  ports: Record<number, number>;
}

/** One name the lab serves, and where. */
export interface LabSite {
  host: string;
  /** Real port of its plain-HTTP listener (shared by every name), or null. */
  httpPort: number | null;
  /** Real port of its TLS listener, or null when it has none (or the platform refused it). */
  httpsPort: number | null;
  /** The gallery lesson, for gallery hosts. */
  gallery: GalleryEntry | null;
  /** Why its HTTPS server could not start on this platform, or null. */
  unavailable: string | null;
}

export interface LabOptions {
  /** The lab PKI folder, normally `<caDir>/lab`. */
  dir: string;
}

export interface RunningLab {
  /** The lab public root (PEM): what the victim and the proxy's upstream trust. */
  rootPem: string;
  /** Path of the lab root on disk, for `curl --cacert` / python `cafile=`. */
  rootPath: string;
  /** Every name served, with its real ports. */
  sites: LabSite[];
  /** Rules for the proxy: each lab name (80 and 443) → the real loopback ports. */
  resolve: LabResolveRule[];
  /** The gallery entries this lab serves (all of GALLERY; see `sites` for availability). */
  hosts: GalleryEntry[];
  /** Stop every server and drop every connection. */
  close(): Promise<void>;
}

/** Start every lab server on 127.0.0.1. */
export async function startLab(opts: LabOptions): Promise<RunningLab> {
  const pki = openLabPki(opts.dir);
  const bank = createBank();
  const servers: (http.Server | https.Server)[] = [];
  const unavailable = new Map<string, string>();
  const sites: LabSite[] = [];

  try {
    // One plain-HTTP server for every name: it dispatches on the Host header, as a shared
    // hosting front end would.
    const knownHosts = [BANK_HOST, INDEX_HOST, ...GALLERY.map((g) => g.host)];
    const plain = http.createServer((req, res) => {
      const host = hostOf(req.headers.host);
      if (host === BANK_HOST) return bank.handle(req, res, 'http');
      const g = galleryEntry(host);
      if (g?.id === 'hsts') {
        // The real pattern: HTTP redirects to HTTPS; the header only counts over HTTPS (RFC 6797 §8.1).
        res.writeHead(301, { Location: `https://${g.host}/` });
        res.end();
        return;
      }
      if (g) return sendHtml(res, 200, galleryPage(g, 'http'));
      if (host === INDEX_HOST || host === LOOPBACK || host === 'localhost')
        return sendHtml(res, 200, indexPage(unavailable));
      return sendHtml(res, 404, unknownHostPage(host, knownHosts));
    });
    plain.on('upgrade', (req, socket: Duplex, head: Buffer) => {
      if (hostOf(req.headers.host) === BANK_HOST) return bank.upgrade(req, socket, head, 'http');
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    const httpPort = await listen(plain, servers);

    // bank.test over real HTTPS, certificate from the lab intermediate.
    const bankCreds = pki.issueLeaf({ host: BANK_HOST });
    const bankTls = https.createServer(tlsOptions(bankCreds), (req, res) =>
      bank.handle(req, res, 'https'),
    );
    bankTls.on('upgrade', (req, socket: Duplex, head: Buffer) =>
      bank.upgrade(req, socket, head, 'https' satisfies Scheme),
    );
    const bankPort = await listen(bankTls, servers);
    sites.push({
      host: BANK_HOST,
      httpPort,
      httpsPort: bankPort,
      gallery: null,
      unavailable: null,
    });
    sites.push({ host: INDEX_HOST, httpPort, httpsPort: null, gallery: null, unavailable: null });

    // The gallery: one TLS server per host, since certificates and TLS settings differ.
    for (const g of GALLERY) {
      let port: number | null = null;
      let why: string | null = null;
      try {
        const server = https.createServer(
          { ...tlsOptions(galleryCredentials(pki, g)), ...(g.tls ?? {}) },
          (req, res) => {
            for (const [k, v] of Object.entries(g.headers ?? {})) res.setHeader(k, v);
            sendHtml(res, 200, galleryPage(g, 'https'));
          },
        );
        port = await listen(server, servers);
      } catch (err) {
        // The platform refused these TLS settings (e.g. an OpenSSL without TLS 1.0): the
        // index page says so instead of pretending.
        why = err instanceof Error ? err.message : String(err);
        unavailable.set(g.host, why);
      }
      sites.push({ host: g.host, httpPort, httpsPort: port, gallery: g, unavailable: why });
    }
  } catch (err) {
    bank.close();
    await Promise.all(servers.map(closeServer));
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    rootPem: pki.rootPem,
    rootPath: pki.rootPath,
    sites,
    resolve: sites.map((s) => ({
      pattern: s.host,
      address: LOOPBACK,
      ports: {
        ...(s.httpPort !== null ? { 80: s.httpPort } : {}),
        ...(s.httpsPort !== null ? { 443: s.httpsPort } : {}),
      },
    })),
    hosts: [...GALLERY],
    close() {
      closing ??= (async () => {
        bank.close();
        await Promise.all(servers.map(closeServer));
      })();
      return closing;
    },
  };
}

/** The certificate a gallery host serves, made fresh at start (dates are relative to now). */
function galleryCredentials(pki: LabPki, g: GalleryEntry): ServerCredentials {
  const now = Date.now();
  switch (g.cert) {
    case 'valid':
      return pki.issueLeaf({ host: g.host });
    case 'expired':
      return pki.issueLeaf({
        host: g.host,
        notBefore: new Date(now - 120 * DAY_MS),
        notAfter: new Date(now - 30 * DAY_MS),
      });
    case 'not-yet-valid':
      return pki.issueLeaf({
        host: g.host,
        notBefore: new Date(now + 30 * DAY_MS),
        notAfter: new Date(now + 120 * DAY_MS),
      });
    case 'wrong-host':
      return pki.issueLeaf({ host: 'www.elsewhere.test', sans: ['DNS:www.elsewhere.test'] });
    case 'self-signed':
      return pki.selfSignedLeaf({ host: g.host });
    case 'untrusted-root':
      return pki.issueUntrustedLeaf({ host: g.host });
    case 'weak-key':
      return pki.issueLeaf({ host: g.host, weakKey: true });
  }
}

function tlsOptions(c: ServerCredentials): https.ServerOptions {
  return { key: c.keyPem, cert: c.chainPem };
}

function hostOf(header: string | undefined): string {
  const h = (header ?? '').trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  return h.replace(/:\d+$/, '').replace(/\.$/, '');
}

function sendHtml(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function listen(
  server: http.Server | https.Server,
  into: (http.Server | https.Server)[],
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      into.push(server);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export {
  VICTIM_ACCOUNT,
  LANDLORD,
  ATTACKER,
  RENT_CENTS,
  TAMPERED_AMOUNT,
  BANK_TAMPER_RULES,
} from './bank-data.ts';
export type { Payee } from './bank-data.ts';
export type { Transfer } from './bank.ts';
