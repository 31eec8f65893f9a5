// The command-line clients of the matrix, each run as its own process (bounded, in its own
// process group) and reduced to a `Said`: `ok` + HTTP status when a response arrived, otherwise
// `error` + the client's own code and words. Trust is always explicit (`--cacert`,
// `--ca-certificate`, `cafile=`, `ca:`, `-CAfile`): validation is never switched off.
//
// Direct mode needs the lab names to resolve to 127.0.0.1 without a hosts file: curl
// `--resolve`, Python a getaddrinfo wrapper inside the script, Node and openssl connect to
// 127.0.0.1 with the name as SNI and for the host check. wget has no such option: it runs in a
// private mount namespace (`unshare -m`, root only) where a temporary hosts file is bound over
// /etc/hosts for that process alone.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runBounded, type Bounded } from './spawn.ts';
import type { MatrixClient, Said, Target } from './types.ts';

/** Every client run is killed after this long: the client's own timeouts are 10 s. */
export const CLIENT_TIMEOUT_MS = 20_000;
/** The clients' own network timeout, in seconds. */
const NET_TIMEOUT_S = 10;

/** A client's environment: no proxy variables of ours leak in, C locale (plain quotes). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  for (const k of Object.keys(env)) {
    if (
      /^(https?|all|no)_proxy$/i.test(k) ||
      /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)$/.test(k)
    )
      delete env[k];
  }
  return { ...env, ...extra };
}

/** Collapse whitespace and trim: the words, not the layout. */
function tidy(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** When the process itself could not run or was killed: say so instead of guessing. */
function notRun(client: string, r: Bounded): Said | null {
  if (r.spawnError) return { outcome: 'error', code: 'spawn', text: `${client}: ${r.spawnError}` };
  if (r.timedOut)
    return {
      outcome: 'error',
      code: 'timeout',
      text: `${client}: killed after ${CLIENT_TIMEOUT_MS} ms`,
    };
  return null;
}

// ---- curl -----------------------------------------------------------------------------------

async function curl(t: Target): Promise<Said> {
  const r = await runBounded(
    'curl',
    [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--max-time',
      String(NET_TIMEOUT_S),
      '--cacert',
      t.caFile,
      ...(t.directPort !== null
        ? ['--noproxy', '*', '--resolve', `${t.host}:${t.directPort}:127.0.0.1`]
        : ['-x', `http://127.0.0.1:${t.proxyPort}`]),
      t.url,
    ],
    { env: cleanEnv(), timeoutMs: CLIENT_TIMEOUT_MS },
  );
  const bad = notRun('curl', r);
  if (bad) return bad;
  if (r.code === 0)
    return { outcome: 'ok', code: r.stdout.trim(), text: `HTTP ${r.stdout.trim()}` };
  // curl's first line names the failure; the rest is its standing advice about certificates.
  return {
    outcome: 'error',
    code: String(r.code),
    text: tidy(r.stderr.trim().split('\n')[0] ?? ''),
  };
}

// ---- wget (GnuTLS on Debian) ----------------------------------------------------------------

/** Can this process give wget a private /etc/hosts (a mount namespace needs root)? */
export function canUnshareHosts(): boolean {
  return spawnSync('unshare', ['-m', 'true'], { stdio: 'ignore' }).status === 0;
}

async function wget(t: Target): Promise<Said> {
  const args = [
    '-O',
    '/dev/null',
    '-nv',
    '-S',
    '--tries=1',
    `--timeout=${NET_TIMEOUT_S}`,
    '--no-hsts',
    `--ca-certificate=${t.caFile}`,
  ];
  let r: Bounded;
  if (t.directPort !== null) {
    const hosts = path.join(t.scratch, 'hosts');
    writeFileSync(hosts, `127.0.0.1 localhost ${t.host}\n`);
    // $0 = hosts file, "$@" = wget's arguments: no shell quoting of our own.
    const script = 'mount --bind "$0" /etc/hosts && exec wget "$@"';
    r = await runBounded(
      'unshare',
      ['-m', 'sh', '-c', script, hosts, '--no-proxy', ...args, t.url],
      { env: cleanEnv(), timeoutMs: CLIENT_TIMEOUT_MS },
    );
  } else {
    r = await runBounded('wget', [...args, t.url], {
      env: cleanEnv({ https_proxy: `http://127.0.0.1:${t.proxyPort}` }),
      timeoutMs: CLIENT_TIMEOUT_MS,
    });
  }
  const bad = notRun('wget', r);
  if (bad) return bad;
  // -S prints the server's response headers, indented; the last status line is the answer.
  const statuses = [...r.stderr.matchAll(/^ {2}HTTP\/[\d.]+ (\d{3})(.*)$/gm)];
  const last = statuses[statuses.length - 1];
  if (last) return { outcome: 'ok', code: last[1]!, text: tidy(`HTTP ${last[1]}${last[2]}`) };
  const words = r.stderr
    .split('\n')
    .filter((l) => /ERROR|error|failed|unable|Unable/.test(l))
    .map((l) => l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, ''));
  return { outcome: 'error', code: String(r.code), text: tidy(words.join(' ') || r.stderr) };
}

// ---- python3: urllib and requests -----------------------------------------------------------

/** Shared head of both Python scripts: arguments, the direct-mode name mapping, the output. */
const PY_HEAD = `
import json, socket, ssl, sys
url, host, direct, proxy, cafile = sys.argv[1:6]
if direct == '1':
    _gai = socket.getaddrinfo
    def _lab_gai(h, *a, **k):
        return _gai('127.0.0.1' if h == host else h, *a, **k)
    socket.getaddrinfo = _lab_gai
def say(outcome, code, text):
    print(json.dumps({'outcome': outcome, 'code': str(code), 'text': str(text)}))
`;

const PY_URLLIB = `${PY_HEAD}
import urllib.request, urllib.error
ctx = ssl.create_default_context(cafile=cafile)
handlers = [urllib.request.HTTPSHandler(context=ctx)]
handlers.append(urllib.request.ProxyHandler({} if direct == '1' else {'https': proxy}))
opener = urllib.request.build_opener(*handlers)
try:
    r = opener.open(url, timeout=${NET_TIMEOUT_S})
    say('ok', r.status, '%s %s' % (r.status, r.reason))
except urllib.error.HTTPError as e:
    say('ok', e.code, '%s %s' % (e.code, e.reason))
except urllib.error.URLError as e:
    reason = e.reason
    say('error', type(reason).__name__ if isinstance(reason, BaseException) else 'URLError', reason)
except Exception as e:
    say('error', type(e).__name__, e)
`;

const PY_REQUESTS = `${PY_HEAD}
import requests
def innermost(e):
    # requests wraps urllib3 which wraps the ssl/socket error: follow causes, reasons and args
    # down to the last exception (the one the TLS library raised).
    seen = set()
    while id(e) not in seen:
        seen.add(id(e))
        nxt = None
        for cand in (getattr(e, 'reason', None), e.__cause__, *getattr(e, 'args', ())):
            if isinstance(cand, BaseException):
                nxt = cand
                break
        if nxt is None:
            break
        e = nxt
    return e
try:
    r = requests.get(url, proxies={'https': None if direct == '1' else proxy}, verify=cafile,
                     timeout=${NET_TIMEOUT_S}, allow_redirects=False)
    say('ok', r.status_code, '%s %s' % (r.status_code, r.reason))
except Exception as e:
    say('error', type(innermost(e)).__name__, e)
`;

/**
 * The interpreter `python3` runs, resolved once: a version manager's shim (pyenv) costs a
 * shell and a second process per run, which on two cores is most of a Python client's time.
 */
let pythonBinary: string | null = null;
function pythonExe(): string {
  if (pythonBinary === null) {
    const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], {
      encoding: 'utf8',
    });
    pythonBinary = r.status === 0 && r.stdout.trim() ? r.stdout.trim() : 'python3';
  }
  return pythonBinary;
}

async function python(script: string, name: string, t: Target): Promise<Said> {
  const r = await runBounded(
    pythonExe(),
    [
      '-c',
      script,
      t.url,
      t.host,
      t.directPort !== null ? '1' : '0',
      `http://127.0.0.1:${t.proxyPort ?? 0}`,
      t.caFile,
    ],
    { env: cleanEnv(), timeoutMs: CLIENT_TIMEOUT_MS },
  );
  const bad = notRun(name, r);
  if (bad) return bad;
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const said = JSON.parse(line) as Said;
    return { ...said, text: tidy(said.text) };
  } catch {
    return { outcome: 'error', code: `exit ${r.code}`, text: tidy(`${r.stdout} ${r.stderr}`) };
  }
}

// ---- Node https.get (a child process: its own OpenSSL state, like any Node program) -----------

const NODE_SCRIPT = `
const http = require('node:http');
const https = require('node:https');
const tls = require('node:tls');
const [url, host, directPort, proxyPort, caFile] = process.argv.slice(1);
const ca = [require('node:fs').readFileSync(caFile, 'utf8')];
const say = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
const fail = (e) => say({ outcome: 'error', code: e.code || e.name, text: e.message });
const done = (res) => { res.resume(); say({ outcome: 'ok', code: String(res.statusCode), text: res.statusCode + ' ' + res.statusMessage }); };
const timeout = ${NET_TIMEOUT_S * 1000};
if (directPort !== '') {
  // Connect to 127.0.0.1; the name goes in SNI, the Host header and the identity check.
  https.get({ host: '127.0.0.1', port: Number(directPort), servername: host, headers: { host: host + ':' + directPort }, path: '/', ca, timeout }, done).on('error', fail);
} else {
  // What proxy-aware Node code does: CONNECT by hand, then TLS over the tunnel.
  const req = http.request({ host: '127.0.0.1', port: Number(proxyPort), method: 'CONNECT', path: host + ':443', headers: { host: host + ':443' }, timeout });
  req.on('connect', (res, socket) => {
    if (res.statusCode !== 200) return say({ outcome: 'error', code: 'CONNECT_' + res.statusCode, text: 'CONNECT answered ' + res.statusCode });
    https.get({ host, path: '/', ca, servername: host, timeout, createConnection: () => tls.connect({ socket, servername: host, ca }) }, done).on('error', fail);
  });
  req.on('error', fail);
  req.end();
}
`;

async function node(t: Target): Promise<Said> {
  const r = await runBounded(
    process.execPath,
    [
      '-e',
      NODE_SCRIPT,
      t.url,
      t.host,
      t.directPort === null ? '' : String(t.directPort),
      String(t.proxyPort ?? ''),
      t.caFile,
    ],
    { env: cleanEnv(), timeoutMs: CLIENT_TIMEOUT_MS },
  );
  const bad = notRun('node', r);
  if (bad) return bad;
  try {
    const said = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Said;
    return { ...said, text: tidy(said.text) };
  } catch {
    return { outcome: 'error', code: `exit ${r.code}`, text: tidy(`${r.stdout} ${r.stderr}`) };
  }
}

// ---- openssl s_client -----------------------------------------------------------------------

async function openssl(t: Target): Promise<Said> {
  const hostHeader = t.directPort === null ? t.host : `${t.host}:${t.directPort}`;
  const r = await runBounded(
    'openssl',
    [
      's_client',
      ...(t.directPort !== null
        ? ['-connect', `127.0.0.1:${t.directPort}`]
        : ['-proxy', `127.0.0.1:${t.proxyPort}`, '-connect', `${t.host}:443`]),
      '-servername',
      t.host,
      '-verify_hostname',
      t.host,
      '-verify_return_error',
      '-CAfile',
      t.caFile,
      '-quiet', // no certificate dump; implies -ign_eof: read until the server closes
    ],
    {
      env: cleanEnv(),
      timeoutMs: CLIENT_TIMEOUT_MS,
      input: `GET / HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`,
    },
  );
  const bad = notRun('openssl', r);
  if (bad) return bad;
  const status = /^HTTP\/[\d.]+ (\d{3})(.*)$/m.exec(r.stdout);
  if (status)
    return { outcome: 'ok', code: status[1]!, text: tidy(`HTTP ${status[1]}${status[2]}`) };
  // Keep what names the failure: `verify error:…` and OpenSSL's `error:…` lines (without the
  // thread id in front and the source file at the end).
  const words = r.stderr
    .split('\n')
    .filter((l) => /verify error|:error:|^error|unable|failed/i.test(l))
    .map((l) =>
      l
        .replace(/^[0-9A-F]+:error:/, 'error:')
        .replace(/:[^:\s]*\.c:\d+:?$/, '')
        .trim(),
    );
  return { outcome: 'error', code: String(r.code), text: tidy(words.join(' ') || r.stderr) };
}

/** The command-line clients, by name. */
export const CLI_CLIENTS: Record<
  Exclude<MatrixClient, 'chromium' | 'firefox'>,
  (t: Target) => Promise<Said>
> = {
  curl,
  wget,
  'python-urllib': (t) => python(PY_URLLIB, 'python3 urllib', t),
  'python-requests': (t) => python(PY_REQUESTS, 'python3 requests', t),
  node,
  openssl,
};

/** The program each client needs, for the skip message. */
export const CLIENT_BINARY: Record<MatrixClient, string> = {
  curl: 'curl',
  wget: 'wget',
  'python-urllib': 'python3',
  'python-requests': 'python3 (with requests)',
  node: 'node',
  openssl: 'openssl',
  chromium: '/usr/bin/chromium',
  firefox: '/usr/bin/firefox-esr',
};
