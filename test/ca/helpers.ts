// Shared by the CA tests: a temp CA folder, and a real TLS server on 127.0.0.1 port 0 that
// presents a given certificate, so clients (Node, curl, python3) can be pointed at it.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { buildCertificate, generateRsaKeyPair } from '../../src/ca/index.ts';

export function tempDir(prefix = 'mitm-lab-ca-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TlsServer {
  port: number;
  close(): Promise<void>;
}

/** A TLS server that answers every connection with a tiny HTTP response, then closes. */
export function startTlsServer(certPem: string, keyPem: string): Promise<TlsServer> {
  const server = tls.createServer({ cert: certPem, key: keyPem }, (socket) => {
    socket.once('data', () => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    });
    socket.on('error', () => socket.destroy());
  });
  server.on('tlsClientError', () => {
    /* a client refusing our certificate is what several tests expect */
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('no port');
      resolve({
        port: addr.port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

/** Connect with Node tls; resolves to 'ok' or the error code the client failed with. */
export function nodeConnect(
  port: number,
  servername: string,
  ca: string[] | undefined,
): Promise<string> {
  return new Promise((resolve) => {
    const isIp = /^[\d.]+$|:/.test(servername);
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ...(isIp ? {} : { servername }),
      checkServerIdentity: (_h, cert) => tls.checkServerIdentity(servername, cert),
      ...(ca ? { ca } : {}),
    });
    socket.once('secureConnect', () => {
      socket.end();
      resolve('ok');
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      resolve(`${err.code ?? ''} ${err.message}`.trim()),
    );
  });
}

/** Run a program; never throws: resolves to its exit code and output. */
export function runTool(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 20_000, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** True when `tool` is on PATH. */
export function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** A mitm-lab-style CA folder whose certificate expired yesterday. */
export function writeExpiredCa(dir: string): void {
  const key = generateRsaKeyPair(2048);
  const day = 86_400_000;
  mkdirSync(path.join(dir, 'certs'), { recursive: true });
  mkdirSync(path.join(dir, 'keys'), { recursive: true });
  writeFileSync(
    path.join(dir, 'certs', 'ca.pem'),
    buildCertificate({
      subject: { CN: 'mitm-lab throwaway CA 2020-01-01 0ld0ne', O: 'mitm-lab — for lab use only' },
      publicKeyPem: key.publicKeyPem,
      issuer: { selfSignWith: key.privateKeyPem },
      notBefore: new Date(Date.now() - 30 * day),
      notAfter: new Date(Date.now() - day),
      isCa: true,
      pathLen: 0,
      permittedDns: ['test'],
    }),
  );
  writeFileSync(path.join(dir, 'keys', 'ca.private.key'), key.privateKeyPem, { mode: 0o600 });
}
