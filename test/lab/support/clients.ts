// Real clients for the lab tests: Node tls, curl and python3, each connecting to a lab host and
// reporting what it said. Trust is always explicit (`ca`, `--cacert`, `cafile=`); validation is
// never switched off.
import { execFile, execFileSync } from 'node:child_process';
import tls from 'node:tls';

export interface Said {
  ok: boolean;
  /** Node: err.code; curl: exit code; python: exception class; 'ok' on success. */
  code: string;
  /** The client's message (stderr / exception text), or the HTTP status line on success. */
  text: string;
}

export function hasTool(name: string, args = ['--version']): boolean {
  try {
    execFileSync(name, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Node tls.connect directly to 127.0.0.1:port with SNI `host`, trusting `ca`. */
export function nodeDirect(host: string, port: number, ca: string[]): Promise<Said> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: host, ca }, () => {
      s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('end', () => resolve({ ok: true, code: 'ok', text: data.split('\r\n')[0] ?? '' }));
    s.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ ok: false, code: e.code ?? 'unknown', text: e.message }),
    );
  });
}

function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** curl directly: `--resolve host:port:127.0.0.1 --cacert root`. */
export async function curlDirect(host: string, port: number, caFile: string): Promise<Said> {
  const r = await run('curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--max-time',
    '10',
    '--resolve',
    `${host}:${port}:127.0.0.1`,
    '--cacert',
    caFile,
    `https://${host}:${port}/`,
  ]);
  return r.code === 0
    ? { ok: true, code: 'ok', text: r.stdout }
    : { ok: false, code: String(r.code), text: r.stderr };
}

/** curl through a proxy: `-x proxy https://host/`, trusting `caFile`. */
export async function curlViaProxy(proxyUrl: string, url: string, caFile: string): Promise<Said> {
  const r = await run('curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--max-time',
    '10',
    '-x',
    proxyUrl,
    '--cacert',
    caFile,
    url,
  ]);
  return r.code === 0
    ? { ok: true, code: 'ok', text: r.stdout }
    : { ok: false, code: String(r.code), text: r.stderr };
}

const PY = `
import socket, ssl, sys
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
try:
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(('GET / HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' % host).encode())
            print('ok', s.recv(100).split(b'\\r\\n')[0].decode())
except Exception as e:
    print('ERR', type(e).__name__, e)
`;

/** python3 ssl directly: create_default_context(cafile=root), server_hostname=host. */
export async function pythonDirect(host: string, port: number, caFile: string): Promise<Said> {
  const r = await run('python3', ['-c', PY, host, String(port), caFile]);
  const out = r.stdout.trim();
  if (out.startsWith('ok ')) return { ok: true, code: 'ok', text: out.slice(3) };
  const m = /^ERR (\S+) ([\s\S]*)$/.exec(out);
  return { ok: false, code: m?.[1] ?? 'unknown', text: m?.[2] ?? `${out}${r.stderr}` };
}
