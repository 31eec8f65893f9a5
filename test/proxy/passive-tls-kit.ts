// Test kit for the passive-TLS tests: a tapping relay in front of a real TLS server (what the
// proxy does for a passthrough tunnel) and runners for real clients (curl, python3) aimed at
// `localhost`. The certificate, TLS server and process runner are the shared ones in
// test/support, re-exported here. Loopback only; everything is closed.
import net from 'node:net';
import { peekClientHello, type HelloPeek } from '../../src/proxy/client-hello.ts';
import { tapSocket, WireTap } from '../../src/proxy/wire-tap.ts';
import { curlLoopback } from '../support/clients.ts';
import { closeServer, listenLoopback } from '../support/net.ts';
import { runTool, type RunResult } from '../support/run.ts';
import { waitUntil } from '../support/wait.ts';

export { hasTool, type RunResult } from '../support/run.ts';
export {
  makeSelfSignedCert as makeSelfSigned,
  removeCert,
  startTlsServer,
  useSelfSignedCert,
  type TestCert,
  type TlsTestServer,
} from '../support/tls-server.ts';

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
  return {
    port: await listenLoopback(server),
    connections,
    async settled(n: number) {
      await waitUntil(() => connections.length >= n, { timeoutMs: 5000, intervalMs: 25 });
      await Promise.all(connections.slice(0, n).map((c) => c.closed));
      return connections.slice(0, n);
    },
    close: () => closeServer(server, sockets),
  };
}

/** Run a real client (15 s timeout); never rejects (the exit code is the result). */
export function run(cmd: string, args: string[], input?: string): Promise<RunResult> {
  return runTool(cmd, args, { timeoutMs: 15_000, ...(input === undefined ? {} : { input }) });
}

/** curl to https://localhost:PORT/ via 127.0.0.1 (SNI `localhost`). */
export function curl(port: number, extra: string[] = []): Promise<RunResult> {
  return curlLoopback('localhost', port, extra);
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
