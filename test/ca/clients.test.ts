// Real clients against real TLS servers on 127.0.0.1: Node tls, curl, python3 and OpenSSL's
// verifier must all accept a minted leaf given the CA, refuse it without, and enforce the
// name constraints on a leaf the CA was never supposed to sign.
import { createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCertificate, openCa, type Ca } from '../../src/ca/index.ts';
import {
  hasTool,
  nodeConnect,
  runTool,
  startTlsServer,
  tempDir,
  type TlsTestServer,
} from './helpers.ts';
import { curlLoopback } from '../support/clients.ts';

const DAY = 86_400_000;
const tmp = tempDir();
let ca: Ca;
let caFile: string;

/** A leaf for a name outside the constraints, signed by the CA key directly (test-only path). */
function rogueLeaf(sanEntry: string, cn: string): string {
  return buildCertificate({
    subject: { CN: cn },
    publicKeyPem: createPublicKey(readFileSync(ca.leafKeyPath, 'utf8')).export({
      type: 'spki',
      format: 'pem',
    }) as string,
    issuer: { certPem: ca.certPem, privateKeyPem: readFileSync(ca.keyPath, 'utf8') },
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 10 * DAY),
    sans: [sanEntry],
  });
}

beforeAll(async () => {
  ca = await openCa({ dir: tmp.dir });
  caFile = path.join(tmp.dir, 'ca-copy.pem');
  writeFileSync(caFile, ca.certPem);
});
afterAll(() => tmp.cleanup());

async function withServer<T>(certPem: string, fn: (s: TlsTestServer) => Promise<T>): Promise<T> {
  const server = await startTlsServer({ certPem, keyPem: readFileSync(ca.leafKeyPath, 'utf8') });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

const curl = curlLoopback;

const PY = `
import socket, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default; stricter than OpenSSL's
try:
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')
            print('ok', s.recv(100).decode().split('\\r\\n')[0])
except ssl.SSLCertVerificationError as e:
    print('refused', e.verify_message)
`;

describe('a minted leaf with real clients', () => {
  it('Node tls accepts it given the CA and refuses it without (UNABLE_TO_VERIFY_LEAF_SIGNATURE)', async () => {
    await withServer(ca.mintLeaf('shop.test').certPem, async (s) => {
      expect(await nodeConnect(s.port, 'shop.test', [ca.certPem])).toBe('ok');
      expect(await nodeConnect(s.port, 'shop.test', undefined)).toMatch(
        /^UNABLE_TO_VERIFY_LEAF_SIGNATURE /,
      );
      expect(await nodeConnect(s.port, 'other.test', [ca.certPem])).toMatch(
        /^ERR_TLS_CERT_ALTNAME_INVALID /,
      );
    });
  });

  it.skipIf(!hasTool('openssl'))('passes openssl verify -x509_strict (CA and leaves)', async () => {
    const dir = tmp.dir;
    const root = await runTool('openssl', ['verify', '-x509_strict', '-CAfile', caFile, caFile]);
    expect(root.stdout + root.stderr).toContain(': OK');
    expect(root.code).toBe(0);
    for (const host of ['shop.test', 'localhost', 'a.b.localhost', '127.0.0.1', '::1']) {
      const file = path.join(dir, `leaf-${host.replace(/:/g, '_')}.pem`);
      writeFileSync(file, ca.mintLeaf(host).certPem);
      const r = await runTool('openssl', ['verify', '-x509_strict', '-CAfile', caFile, file]);
      expect(`${host}: ${r.stdout}${r.stderr}`).toContain(': OK');
      expect(r.code).toBe(0);
    }
  });

  it.skipIf(!hasTool('curl'))(
    'curl --cacert reaches a server with a minted leaf; without it, exit 60',
    async () => {
      for (const host of ['shop.test', 'localhost', 'api.shop.localhost']) {
        await withServer(ca.mintLeaf(host).certPem, async (s) => {
          const ok = await curl(host, s.port, ['--cacert', caFile]);
          expect(`${host}: ${ok.stderr}`).toBe(`${host}: `);
          expect(ok.stdout).toBe('hello');
          const refused = await curl(host, s.port, [
            '--cacert',
            '/etc/ssl/certs/ca-certificates.crt',
          ]);
          expect(refused.code).toBe(60);
        });
      }
    },
  );

  it.skipIf(!hasTool('curl'))('curl accepts IP leaves for 127.0.0.1', async () => {
    await withServer(ca.mintLeaf('127.0.0.1').certPem, async (s) => {
      const r = await runTool('curl', ['-sS', '--cacert', caFile, `https://127.0.0.1:${s.port}/`]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('hello');
    });
  });

  it('Node tls matches an IP SAN for ::1', async () => {
    const leaf = ca.mintLeaf('::1');
    expect(leaf.summary.sans).toEqual(['IP:::1']);
    await withServer(leaf.certPem, async (s) => {
      expect(await nodeConnect(s.port, '::1', [ca.certPem])).toBe('ok');
    });
  });

  it.skipIf(!hasTool('python3'))(
    'python3 ssl (strict) accepts it with cafile=, for a name and 127.0.0.1',
    async () => {
      for (const host of ['shop.test', '127.0.0.1']) {
        await withServer(ca.mintLeaf(host).certPem, async (s) => {
          const r = await runTool('python3', ['-c', PY, host, String(s.port), caFile]);
          expect(`${host}: ${r.stdout}${r.stderr}`).toBe(`${host}: ok HTTP/1.1 200 OK\n`);
        });
      }
    },
  );
});

describe('the shared leaf key: ECDSA P-256 by default, RSA-2048 on request', () => {
  let rsa: Ca;
  beforeAll(async () => {
    // The same CA folder opened for --leaf-key rsa: same CA, the other shared key.
    rsa = await openCa({ dir: tmp.dir, leafKey: 'rsa' });
  });

  it('signs ECDSA P-256 leaves by default and RSA-2048 ones with leafKey rsa, both from the RSA CA', () => {
    expect(ca.leafKeyType).toBe('ecdsa');
    expect(ca.mintLeaf('shop.test').summary.key).toBe('EC prime256v1');
    expect(rsa.leafKeyType).toBe('rsa');
    expect(rsa.mintLeaf('shop.test').summary.key).toBe('RSA 2048');
    expect(rsa.certPem).toBe(ca.certPem); // one CA to trust, whichever key
  });

  it.skipIf(!hasTool('curl') || !hasTool('python3') || !hasTool('openssl'))(
    'curl, python3 (strict), openssl s_client and Node accept either kind given the CA',
    async () => {
      for (const authority of [ca, rsa]) {
        const kind = authority.leafKeyType;
        const leaf = authority.mintLeaf('keys.test');
        const server = await startTlsServer({ certPem: leaf.certPem, keyPem: leaf.keyPem });
        try {
          const c = await curl('keys.test', server.port, ['--cacert', caFile]);
          expect(`${kind} curl: ${c.stderr}${c.stdout}`).toBe(`${kind} curl: hello`);
          const py = await runTool('python3', ['-c', PY, 'keys.test', String(server.port), caFile]);
          expect(`${kind} python3: ${py.stdout}${py.stderr}`).toBe(
            `${kind} python3: ok HTTP/1.1 200 OK\n`,
          );
          const o = await runTool(
            'openssl',
            [
              's_client',
              '-connect',
              `127.0.0.1:${server.port}`,
              '-servername',
              'keys.test',
              '-verify_hostname',
              'keys.test',
              '-verify_return_error',
              '-CAfile',
              caFile,
            ],
            { input: '' },
          );
          expect(`${kind} openssl: ${o.stdout}`).toMatch(/Verify return code: 0 \(ok\)/);
          expect(await nodeConnect(server.port, 'keys.test', [ca.certPem])).toBe('ok');
        } finally {
          await server.close();
        }
      }
    },
  );
});

describe('name constraints, enforced by clients', () => {
  it('the normal path refuses to mint outside them, saying how to permit it', () => {
    expect(ca.permits('example.com')).toBe(false);
    expect(ca.permits('8.8.8.8')).toBe(false);
    expect(() => ca.mintLeaf('example.com')).toThrow(/outside the name constraints/);
    expect(() => ca.mintLeaf('example.com')).toThrow(
      expect.objectContaining({
        hint: expect.stringContaining('mitm-lab ca init --force --permit example.com'),
      }),
    );
    expect(() => ca.mintLeaf('8.8.8.8')).toThrow(/outside the name constraints/);
  });

  it('Node refuses a leaf for example.com signed by the constrained CA (test-only path)', async () => {
    await withServer(rogueLeaf('DNS:example.com', 'example.com'), async (s) => {
      expect(await nodeConnect(s.port, 'example.com', [ca.certPem])).toBe(
        'UNSPECIFIED permitted subtree violation', // Node has no code of its own for this one
      );
    });
  });

  it('Node refuses a leaf for the IP 8.8.8.8 signed by the constrained CA', async () => {
    await withServer(rogueLeaf('IP:8.8.8.8', 'rogue'), async (s) => {
      expect(await nodeConnect(s.port, '8.8.8.8', [ca.certPem])).toBe(
        'UNSPECIFIED permitted subtree violation', // Node has no code of its own for this one
      );
    });
  });

  it.skipIf(!hasTool('curl'))(
    'curl refuses it (exit 60, permitted subtree violation)',
    async () => {
      await withServer(rogueLeaf('DNS:example.com', 'example.com'), async (s) => {
        const r = await curl('example.com', s.port, ['--cacert', caFile]);
        expect(r.code).toBe(60);
        expect(r.stderr).toMatch(/permitted subtree violation/i);
      });
    },
  );

  it.skipIf(!hasTool('python3'))('python3 refuses it', async () => {
    await withServer(rogueLeaf('DNS:example.com', 'example.com'), async (s) => {
      const r = await runTool('python3', ['-c', PY, 'example.com', String(s.port), caFile]);
      expect(r.stdout).toMatch(/^refused .*permitted subtree violation/i);
    });
  });

  it.skipIf(!hasTool('openssl'))(
    'a look-alike name (xtest, not under test) is refused too',
    async () => {
      const file = path.join(tmp.dir, 'xtest.pem');
      writeFileSync(file, rogueLeaf('DNS:xtest', 'xtest'));
      const r = await runTool('openssl', ['verify', '-x509_strict', '-CAfile', caFile, file]);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/permitted subtree violation/);
    },
  );
});

describe.skipIf(!hasTool('certutil'))(
  'name constraints in NSS (Firefox; Chromium on Linux), via certutil -V',
  () => {
    it('validates minted leaves and refuses leaves outside the constraints', async () => {
      const db = path.join(tmp.dir, 'nssdb');
      mkdirSync(db);
      const cu = (args: string[]) => runTool('certutil', ['-d', `sql:${db}`, ...args]);
      expect((await cu(['-N', '--empty-password'])).code).toBe(0);
      expect((await cu(['-A', '-t', 'C,,', '-n', ca.name, '-i', caFile])).code).toBe(0);
      const verdict = async (nick: string, pem: string) => {
        const file = path.join(tmp.dir, `${nick}.pem`);
        writeFileSync(file, pem);
        expect((await cu(['-A', '-t', ',,', '-n', nick, '-i', file])).code).toBe(0);
        const r = await cu(['-V', '-u', 'V', '-n', nick]);
        return (r.stdout + r.stderr).trim();
      };
      for (const host of ['shop.test', 'localhost', 'api.shop.localhost', '127.0.0.1', '::1']) {
        const nick = `leaf ${host.replace(/:/g, '_')}`; // NSS reads "a:b" as token:nickname
        expect(await verdict(nick, ca.mintLeaf(host).certPem)).toMatch(/certificate is valid/);
      }
      for (const [nick, san] of [
        ['rogue example.com', 'DNS:example.com'],
        ['rogue 8.8.8.8', 'IP:8.8.8.8'],
      ] as const)
        expect(await verdict(nick, rogueLeaf(san, 'rogue'))).toMatch(
          /not permitted to issue a certificate with this name/,
        );
    });
  },
);
