// Shared pieces of the engine's integration tests: a temp CA, a test PKI for the origin
// (its own root, which the proxy gets as upstreamCa), an origin serving HTTP, HTTPS and a
// WebSocket echo on 127.0.0.1, a running proxy with its events collected, and real clients
// (curl, python3, Node through CONNECT). Everything on loopback, port 0, temp folders.
import { readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import {
  buildCertificate,
  generateRsaKeyPair,
  openCa,
  type Ca,
  type KeyPair,
} from '../../src/ca/index.ts';
import { EventBus } from '../../src/events/bus.ts';
import type { ProxyEvent } from '../../src/events/types.ts';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/index.ts';
import { WebSocketServer } from '../../src/util/ws.ts';
import { closeServer, listenLoopback } from '../support/net.ts';
import { runTool } from '../support/run.ts';
import { tempDir as makeTempDir } from '../support/temp-dir.ts';

const DAY = 86_400_000;

/** A fresh temp folder `mitm-lab-PREFIX-…` (the caller removes it). */
export function tempDir(prefix: string): string {
  return makeTempDir(`mitm-lab-${prefix}-`).dir;
}

/** Every file under `dir`, relative, sorted (to prove nothing was written elsewhere). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export interface TestPki {
  rootPem: string;
  /**
   * Leaf for the given names, signed by the root (or `issuer`), valid now (or as told), on the
   * shared RSA-2048 key (or `key`), signed with SHA-256 (or `signatureHash`).
   */
  leaf(
    names: string[],
    opts?: {
      expired?: boolean;
      key?: KeyPair;
      signatureHash?: 'sha256' | 'sha1';
      issuer?: { certPem: string; privateKeyPem: string };
    },
  ): { certPem: string; keyPem: string };
  /** An intermediate CA under the root, on `key` (to build chains with a weak link). */
  intermediate(cn: string, key: KeyPair): { certPem: string; privateKeyPem: string };
  /** A self-signed certificate (no root can vouch for it). */
  selfSigned(name: string): { certPem: string; keyPem: string };
}

/** A stand-in for the public web PKI: the origin's root, which clients may trust. */
export function makeTestPki(): TestPki {
  const rootKey = generateRsaKeyPair(2048);
  const now = Date.now();
  const rootPem = buildCertificate({
    subject: { CN: 'mitm-lab test origin root', O: 'mitm-lab tests' },
    publicKeyPem: rootKey.publicKeyPem,
    issuer: { selfSignWith: rootKey.privateKeyPem },
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
    isCa: true,
    pathLen: 1, // one intermediate allowed: the upstream policy tests build a chain
  });
  const leafKey = generateRsaKeyPair(2048);
  const sans = (names: string[]): string[] =>
    names.map((n) => (net.isIP(n) ? `IP:${n}` : `DNS:${n}`));
  return {
    rootPem,
    leaf(names, opts = {}) {
      const key = opts.key ?? leafKey;
      const certPem = buildCertificate({
        subject: { CN: names[0] as string },
        publicKeyPem: key.publicKeyPem,
        issuer: opts.issuer ?? { certPem: rootPem, privateKeyPem: rootKey.privateKeyPem },
        notBefore: new Date(opts.expired ? now - 20 * DAY : now - DAY),
        notAfter: new Date(opts.expired ? now - 10 * DAY : now + 20 * DAY),
        sans: sans(names),
        ...(opts.signatureHash ? { signatureHash: opts.signatureHash } : {}),
      });
      return { certPem, keyPem: key.privateKeyPem };
    },
    intermediate(cn, key) {
      const certPem = buildCertificate({
        subject: { CN: cn, O: 'mitm-lab tests' },
        publicKeyPem: key.publicKeyPem,
        issuer: { certPem: rootPem, privateKeyPem: rootKey.privateKeyPem },
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + 20 * DAY),
        isCa: true,
        pathLen: 0,
      });
      return { certPem, privateKeyPem: key.privateKeyPem };
    },
    selfSigned(name) {
      const certPem = buildCertificate({
        subject: { CN: name },
        publicKeyPem: leafKey.publicKeyPem,
        issuer: { selfSignWith: leafKey.privateKeyPem },
        notBefore: new Date(now - DAY),
        notAfter: new Date(now + 20 * DAY),
        sans: [`DNS:${name}`],
      });
      return { certPem, keyPem: leafKey.privateKeyPem };
    },
  };
}

export interface Origin {
  httpPort: number;
  httpsPort: number;
  close(): Promise<void>;
}

/**
 * An origin answering `hello METHOD PATH body=BODY` as text/plain on HTTP and HTTPS, `/big`
 * with 300 KiB, and echoing WebSocket messages on both.
 */
export async function startOrigin(
  cert: { certPem: string; keyPem: string },
  tlsOpts: tls.SecureContextOptions = {},
): Promise<Origin> {
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/big') {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': 300 * 1024,
        });
        res.end(Buffer.alloc(300 * 1024, 7));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-origin': 'yes' });
      res.end(`hello ${req.method} ${req.url} body=${Buffer.concat(chunks).toString()}`);
    });
  };
  const plain = http.createServer(handler);
  const secure = https.createServer({ cert: cert.certPem, key: cert.keyPem, ...tlsOpts }, handler);
  for (const server of [plain, secure]) {
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) =>
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })),
    );
  }
  const [httpPort, httpsPort] = await Promise.all([plain, secure].map(listenLoopback));
  return {
    httpPort: httpPort!,
    httpsPort: httpsPort!,
    async close() {
      for (const s of [plain, secure]) s.closeAllConnections();
      await Promise.all([plain, secure].map((s) => closeServer(s)));
    },
  };
}

export interface TestProxy {
  proxy: RunningProxy;
  ca: Ca;
  caDir: string;
  events: ProxyEvent[];
  bus: EventBus;
  /** Events of one type. */
  of<T extends ProxyEvent['type']>(type: T): Extract<ProxyEvent, { type: T }>[];
  /** Wait until an event matches (default 5 s). */
  waitFor<T extends ProxyEvent['type']>(
    type: T,
    match?: (e: Extract<ProxyEvent, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<ProxyEvent, { type: T }>>;
  close(): Promise<void>;
}

export async function startTestProxy(opts: Partial<ProxyOptions> = {}): Promise<TestProxy> {
  const caDir = tempDir('ca');
  const ca = await openCa({ dir: caDir });
  const bus = new EventBus();
  const events: ProxyEvent[] = [];
  const waiters = new Set<() => void>();
  bus.on((e) => {
    events.push(e);
    for (const w of waiters) w();
  });
  const proxy = await startProxy({ host: '127.0.0.1', port: 0, mode: 'auto', ca, bus, ...opts });
  const of = <T extends ProxyEvent['type']>(type: T) =>
    events.filter((e): e is Extract<ProxyEvent, { type: T }> => e.type === type);
  return {
    proxy,
    ca,
    caDir,
    events,
    bus,
    of,
    waitFor(type, match = () => true, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = of(type).find(match);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no ${type} event within ${timeoutMs} ms; saw: ${events.map((e) => e.type).join(', ')}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    async close() {
      await proxy.close();
      rmSync(caDir, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  /** Exit code; -1 when there was none (killed by the timeout, or could not start). */
  code: number;
  stdout: string;
  stderr: string;
}

/** `cmd args` to its end, bounded by `timeoutMs`; never rejects. */
export async function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
  const r = await runTool(cmd, args, { timeoutMs });
  return { ...r, code: r.code ?? -1 };
}

export function curl(args: string[]): Promise<RunResult> {
  return run('curl', ['-sS', '--max-time', '10', ...args]);
}

/** python3 urllib through the proxy, trusting only `cafile`. Prints `STATUS BODY` or `ERR …`. */
export function python(proxyUrl: string, url: string, cafile: string): Promise<RunResult> {
  const script = `
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[3])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({'http': sys.argv[1], 'https': sys.argv[1]}), urllib.request.HTTPSHandler(context=ctx))
try:
    r = opener.open(sys.argv[2], timeout=10)
    print(r.status, r.read().decode())
except Exception as e:
    print('ERR', repr(e))
`;
  return run('python3', ['-c', script, proxyUrl, url, cafile]);
}

/** Open a CONNECT tunnel through the proxy; resolves to the raw socket after `200`. */
export function openTunnel(
  proxyPort: number,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ socket: net.Socket; status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: proxyPort,
      method: 'CONNECT',
      path: target,
      headers: { host: target, ...headers },
    });
    req.once('connect', (res, socket) =>
      resolve({ socket, status: res.statusCode ?? 0, head: '' }),
    );
    req.once('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        reject(
          Object.assign(new Error(`CONNECT answered ${res.statusCode}`), {
            status: res.statusCode,
            body,
          }),
        ),
      );
    });
    req.once('error', reject);
    req.end();
  });
}

export interface NodeResult {
  status?: number;
  body?: string;
  error?: NodeJS.ErrnoException;
}

/** Node `https` through a CONNECT tunnel (what proxy-aware Node clients do). */
export async function nodeHttpsViaProxy(
  proxyPort: number,
  host: string,
  port: number,
  opts: {
    ca: string[];
    path?: string;
    maxVersion?: tls.SecureVersion;
    method?: string;
    body?: string;
  },
): Promise<NodeResult> {
  let socket: net.Socket;
  try {
    socket = (await openTunnel(proxyPort, `${host}:${port}`)).socket;
  } catch (err) {
    return { error: err as NodeJS.ErrnoException };
  }
  return new Promise((resolve) => {
    const req = https.request(
      {
        host,
        port,
        path: opts.path ?? '/',
        method: opts.method ?? 'GET',
        ca: opts.ca,
        servername: host,
        ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
        createConnection: () =>
          tls.connect({
            socket,
            servername: host,
            ca: opts.ca,
            ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
          }),
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ error });
    });
    req.end(opts.body);
  });
}

/** Send raw bytes to the proxy and collect what comes back until it closes (or the timeout). */
export function rawExchange(
  proxyPort: number,
  data: Buffer | string,
  opts: { endAfterWrite?: boolean; timeoutMs?: number; host?: string } = {},
): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(proxyPort, opts.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 3000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.write(data);
    if (opts.endAfterWrite) socket.end();
  });
}
