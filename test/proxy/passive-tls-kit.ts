// Test kit for the passive-TLS tests: a throwaway certificate, a real TLS server on 127.0.0.1,
// a tapping relay in front of it (what the proxy does for a passthrough tunnel), and runners
// for real clients (curl, openssl s_client, python3). Loopback only; everything is closed.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { peekClientHello, type HelloPeek } from '../../src/proxy/client-hello.ts';
import { tapSocket, WireTap } from '../../src/proxy/wire-tap.ts';

export interface TestCert {
  dir: string;
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

/** Is a command on PATH? (tests that need it skip with its name when it is not) */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** A self-signed certificate for `localhost` / 127.0.0.1 in a fresh temp dir (OpenSSL CLI). */
export function makeSelfSigned(cn = 'localhost'): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'mitm-lab-ptls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${cn}/O=mitm-lab test`,
      '-addext',
      `subjectAltName=DNS:${cn},IP:127.0.0.1`,
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return {
    dir,
    certPath,
    keyPath,
    certPem: readFileSync(certPath, 'utf8'),
    keyPem: readFileSync(keyPath, 'utf8'),
  };
}

export function removeCert(cert: TestCert): void {
  rmSync(cert.dir, { recursive: true, force: true });
}

export interface TlsTestServer {
  port: number;
  /** Errors the server saw (tlsClientError), in order. */
  clientErrors: Error[];
  /** Connections whose handshake completed. */
  secureConnections: number;
  close(): Promise<void>;
}

/** A TLS server answering one HTTP/1.1 response per connection. */
export async function startTlsServer(
  cert: TestCert,
  opts: Partial<tls.TlsOptions> = {},
): Promise<TlsTestServer> {
  const clientErrors: Error[] = [];
  let secureConnections = 0;
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem, ...opts }, (s) => {
    secureConnections++;
    s.on('error', () => s.destroy());
    s.once('data', () => {
      s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    });
  });
  server.on('tlsClientError', (err) => clientErrors.push(err));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    clientErrors,
    get secureConnections() {
      return secureConnections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface RelayConnection {
  tap: WireTap;
  peek: HelloPeek | null;
  closed: Promise<void>;
}

export interface TappedRelay {
  port: number;
  connections: RelayConnection[];
  /** Resolves when `n` connections have fully closed. */
  settled(n: number): Promise<RelayConnection[]>;
  close(): Promise<void>;
}

/**
 * A TCP relay to `targetPort` that taps the client socket (as the proxy's passthrough does),
 * optionally peeking at the ClientHello first — proving peek + tap + pipe work together.
 */
export async function startTappedRelay(
  targetPort: number,
  opts: { peek?: boolean; limitBytes?: number; maxRecords?: number } = {},
): Promise<TappedRelay> {
  const connections: RelayConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    const tap = new WireTap({
      limitBytes: opts.limitBytes ?? 64 * 1024,
      tls: true,
      ...(opts.maxRecords === undefined ? {} : { maxRecords: opts.maxRecords }),
    });
    tapSocket(client, tap);
    const conn: RelayConnection = { tap, peek: null, closed: Promise.resolve() };
    connections.push(conn);
    conn.closed = new Promise<void>((resolve) => {
      const upstream = net.connect(targetPort, '127.0.0.1');
      sockets.add(upstream);
      let open = 2;
      const done = (): void => {
        if (--open === 0) resolve();
      };
      client.on('close', done);
      upstream.on('close', done);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      // When one side closes, pipe() unpipes and leaves the other side paused: it would never
      // read its EOF, and never close. Drain it so it ends on its own (keeping what it sent).
      upstream.on('close', () => client.end().resume());
      client.on('close', () => upstream.end().resume());
      const start = async (): Promise<void> => {
        if (opts.peek) conn.peek = await peekClientHello(client, 5000);
        client.pipe(upstream);
        upstream.pipe(client);
      };
      void start();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    async settled(n: number) {
      for (let i = 0; i < 200 && connections.length < n; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      await Promise.all(connections.slice(0, n).map((c) => c.closed));
      return connections.slice(0, n);
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a real client; never rejects (the exit code is the result). */
export function run(cmd: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** curl to https://localhost:PORT/ via 127.0.0.1 (SNI `localhost`). */
export function curl(port: number, extra: string[] = []): Promise<RunResult> {
  return run('curl', [
    '-sS',
    '--max-time',
    '10',
    '--noproxy',
    '*',
    '--resolve',
    `localhost:${port}:127.0.0.1`,
    ...extra,
    `https://localhost:${port}/`,
  ]);
}

/** python3 ssl client: wraps a socket with server_hostname `localhost`, optional cafile. */
export function python(port: number, cafile?: string): Promise<RunResult> {
  const code = [
    'import socket, ssl, sys',
    'ctx = ssl.create_default_context(cafile=sys.argv[2] if len(sys.argv) > 2 else None)',
    `s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)`,
    'try:',
    "    t = ctx.wrap_socket(s, server_hostname='localhost')",
    "    t.sendall(b'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n')",
    '    print(t.version(), t.recv(100))',
    'except ssl.SSLError as e:',
    '    print("SSLError", e.reason, e); sys.exit(3)',
  ].join('\n');
  return run('python3', ['-c', code, String(port), ...(cafile ? [cafile] : [])]);
}
