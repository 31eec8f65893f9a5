// Real clients for the lab tests: Node tls, curl and python3, each connecting to a lab host
// (directly or through a proxy) and reporting what it said. Trust is always explicit (`ca`,
// `--cacert`, `cafile=`); validation is never switched off. Processes run through the shared
// runner in test/support/run.ts.
import tls from 'node:tls';
import { runTool } from '../../support/run.ts';

export { hasTool } from '../../support/run.ts';

export interface Said {
  ok: boolean;
  /** Node: err.code; curl: exit code; python: exception class; 'ok' on success. */
  code: string;
  /** The client's message (stderr / exception text), or the HTTP status line on success. */
  text: string;
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

/** curl printing only the status code; `args` say where to go and what to trust. */
async function curlSaid(args: string[]): Promise<Said> {
  const r = await runTool('curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--max-time',
    '10',
    ...args,
  ]);
  return r.code === 0
    ? { ok: true, code: 'ok', text: r.stdout }
    : { ok: false, code: String(r.code), text: r.stderr };
}

/** curl directly: `--resolve host:port:127.0.0.1 --cacert root`. */
export function curlDirect(host: string, port: number, caFile: string): Promise<Said> {
  return curlSaid([
    '--resolve',
    `${host}:${port}:127.0.0.1`,
    '--cacert',
    caFile,
    `https://${host}:${port}/`,
  ]);
}

/** curl through a proxy: `-x proxy https://host/`, trusting `caFile`. */
export function curlViaProxy(proxyUrl: string, url: string, caFile: string): Promise<Said> {
  return curlSaid(['-x', proxyUrl, '--cacert', caFile, url]);
}

/**
 * Run a python3 script that prints `ok STATUS` or `ERR ExceptionClass message`. Output in
 * neither form is the text (with stderr appended when `withStderr`).
 */
async function pythonSaid(script: string, args: string[], withStderr: boolean): Promise<Said> {
  const r = await runTool('python3', ['-c', script, ...args]);
  const out = r.stdout.trim();
  if (out.startsWith('ok ')) return { ok: true, code: 'ok', text: out.slice(3) };
  const m = /^ERR (\S+) ([\s\S]*)$/.exec(out);
  const text = withStderr ? `${out}${r.stderr}` : out;
  return { ok: false, code: m?.[1] ?? 'unknown', text: m?.[2] ?? text };
}

const PY_DIRECT = `
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
export function pythonDirect(host: string, port: number, caFile: string): Promise<Said> {
  return pythonSaid(PY_DIRECT, [host, String(port), caFile], true);
}

const PY_VIA_PROXY = `
import ssl, sys, urllib.request, urllib.error
proxy, url, cafile = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({'https': proxy, 'http': proxy}), urllib.request.HTTPSHandler(context=ctx))
try:
    r = opener.open(url, timeout=10)
    print('ok', r.status)
except urllib.error.HTTPError as e:
    print('ok', e.code)
except urllib.error.URLError as e:
    print('ERR', type(e.reason).__name__, e.reason)
except Exception as e:
    print('ERR', type(e).__name__, e)
`;

/** python3 urllib through the proxy (CONNECT), trusting `caFile`. */
export function pythonViaProxy(proxyUrl: string, url: string, caFile: string): Promise<Said> {
  return pythonSaid(PY_VIA_PROXY, [proxyUrl, url, caFile], false);
}
