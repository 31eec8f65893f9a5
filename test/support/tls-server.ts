// A throwaway certificate (OpenSSL CLI, its own temp folder) and a real TLS server on 127.0.0.1
// presenting it, answering one tiny HTTP/1.1 response per connection — something for real
// clients (Node tls, curl, python3, openssl s_client) to connect to, trust, or refuse.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll } from 'vitest';
import { closeServer, listenLoopback, trackSockets } from './net.ts';
import { tempDir } from './temp-dir.ts';

export interface TestCert {
  /** The temp folder holding both files; removeCert deletes it. */
  dir: string;
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

/** A self-signed certificate for `cn` (SANs: DNS:cn, IP:127.0.0.1), valid 2 days. */
export function makeSelfSignedCert(cn = 'localhost'): TestCert {
  const { dir } = tempDir('mitm-lab-ptls-');
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
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

/** Delete the certificate's temp folder. */
export function removeCert(cert: TestCert): void {
  rmSync(cert.dir, { recursive: true, force: true });
}

/**
 * One self-signed certificate for a whole test file: made in beforeAll, removed in afterAll.
 * The returned object is filled in by beforeAll, so read its fields inside tests only.
 */
export function useSelfSignedCert(cn = 'localhost'): TestCert {
  const cert = {} as TestCert;
  beforeAll(() => {
    Object.assign(cert, makeSelfSignedCert(cn));
  });
  afterAll(() => removeCert(cert));
  return cert;
}

export interface TlsTestServer {
  port: number;
  /** Errors the server saw (tlsClientError: clients refusing it, garbage), in order. */
  clientErrors: Error[];
  /** Connections whose handshake completed. */
  secureConnections: number;
  /** Destroys open connections, then stops listening. */
  close(): Promise<void>;
}

/** A TLS server on 127.0.0.1 port 0 answering `200 hello` to the first data of a connection. */
export async function startTlsServer(
  cert: { certPem: string; keyPem: string },
  opts: Partial<tls.TlsOptions> = {},
): Promise<TlsTestServer> {
  const clientErrors: Error[] = [];
  let secureConnections = 0;
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem, ...opts }, (s) => {
    secureConnections++;
    s.on('error', () => s.destroy());
    s.once('data', () => {
      s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    });
  });
  // A client refusing our certificate is what many tests expect: recorded, never thrown.
  server.on('tlsClientError', (err) => clientErrors.push(err));
  const sockets: Set<net.Socket> = trackSockets(server);
  const port = await listenLoopback(server);
  return {
    port,
    clientErrors,
    get secureConnections() {
      return secureConnections;
    },
    close: () => closeServer(server, sockets),
  };
}
