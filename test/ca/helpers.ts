// Shared by the CA tests: a Node TLS client that checks a name, and an expired CA folder. The
// temp folder, TLS server and process runner are the shared ones in test/support (re-exported
// here because other test folders import them from this file).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { buildCertificate, generateRsaKeyPair } from '../../src/ca/index.ts';
import { tempDir as makeTempDir, type TempDir } from '../support/temp-dir.ts';

export { hasTool, runTool } from '../support/run.ts';
export { startTlsServer, type TlsTestServer } from '../support/tls-server.ts';

/** A temp folder named for the CA tests (see test/support/temp-dir.ts). */
export const tempDir = (prefix = 'mitm-lab-ca-'): TempDir => makeTempDir(prefix);

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
