// A wrong client clock, for real: curl, Python, wget, Node and `openssl s_client` run under
// libfaketime (Debian's `faketime`) two years behind and a year ahead, TRUSTING the mitm-lab CA,
// through the proxy in intercept mode. The forgery is for the right name and in date by the
// proxy's clock, so mitm-lab must rule out every certificate cause but the client's clock, and
// the client's own words must be among the lines its explanation gives for what remains.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCa, type Ca } from '../../src/ca/index.ts';
import { explain, type ClientName, type ClientShows } from '../../src/explain/index.ts';
import { startLab, type RunningLab } from '../../src/lab/index.ts';
import { FlowStore } from '../../src/store/index.ts';
import { startLabProxy } from '../lab/support/lab-proxy.ts';
import { hasTool, runTool } from '../support/run.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait.ts';

const FAKETIME = hasTool('faketime');
const { dir: tmp, cleanup } = tempDir('mitm-lab-clock-');
let lab: RunningLab;
let ca: Ca;
let trust: string;

beforeAll(async () => {
  if (!FAKETIME) return;
  ca = await openCa({ dir: path.join(tmp, 'ca') });
  lab = await startLab({ dir: path.join(tmp, 'lab') });
  trust = path.join(tmp, 'lab-root-and-mitm-ca.pem');
  writeFileSync(trust, `${lab.rootPem.trim()}\n${ca.certPem.trim()}\n`);
});
afterAll(async () => {
  await lab?.close();
  cleanup();
});

const PY = `
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
o = urllib.request.build_opener(urllib.request.ProxyHandler({'https': sys.argv[1]}), urllib.request.HTTPSHandler(context=ctx))
try:
    print('ok', o.open('https://bank.test/', timeout=10).status)
except Exception as e:
    r = getattr(e, 'reason', e)
    print('ERR', type(r).__name__, r)
`;

const NODE = `
const http = require('http'), https = require('https'), fs = require('fs');
const u = new URL(process.argv[1]);
http.request({ host: u.hostname, port: u.port, method: 'CONNECT', path: 'bank.test:443' })
  .on('connect', (res, sock) => {
    https.get({ host: 'bank.test', socket: sock, agent: false, ca: fs.readFileSync(process.argv[2]) }, (r) => {
      console.log('ok', r.statusCode); sock.destroy();
    }).on('error', (e) => console.log('ERR', e.code, e.message));
  }).end();
`;

interface Said {
  outcome: 'ok' | 'error';
  code: string;
  text: string;
}

/** Run one client under faketime through the proxy; what it said, in ClientShows' terms. */
async function run(client: ClientName, offset: string, proxyUrl: string): Promise<Said> {
  const ft = (cmd: string, args: string[]) => runTool('faketime', ['-f', offset, cmd, ...args]);
  switch (client) {
    case 'curl': {
      const r = await ft('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-x',
        proxyUrl,
        '--cacert',
        trust,
        'https://bank.test/',
      ]);
      return { outcome: r.code === 0 ? 'ok' : 'error', code: String(r.code), text: r.stderr };
    }
    case 'wget': {
      const r = await ft('wget', [
        '-nv',
        '-O',
        '/dev/null',
        '--tries=1',
        '-e',
        'use_proxy=yes',
        '-e',
        `https_proxy=${proxyUrl}`,
        '--ca-certificate',
        trust,
        'https://bank.test/',
      ]);
      return { outcome: r.code === 0 ? 'ok' : 'error', code: String(r.code), text: r.stderr };
    }
    case 'openssl': {
      const host = new URL(proxyUrl).host;
      const r = await ft('openssl', [
        's_client',
        '-proxy',
        host,
        '-connect',
        'bank.test:443',
        '-servername',
        'bank.test',
        '-CAfile',
        trust,
        '-verify_return_error',
        '-verify_hostname',
        'bank.test',
        '-brief',
      ]);
      return {
        outcome: r.code === 0 ? 'ok' : 'error',
        code: String(r.code),
        text: `${r.stdout}${r.stderr}`,
      };
    }
    case 'python':
    case 'node': {
      const r =
        client === 'python'
          ? await ft('python3', ['-c', PY, proxyUrl, trust])
          : await ft('node', ['-e', NODE, proxyUrl, trust]);
      const m = /^(ok|ERR) (\S+) ?([\s\S]*)$/.exec(r.stdout.trim());
      return m?.[1] === 'ok'
        ? { outcome: 'ok', code: m[2] ?? '', text: '' }
        : { outcome: 'error', code: m?.[2] ?? 'unknown', text: m?.[3] ?? r.stdout + r.stderr };
    }
    default:
      throw new Error(`no runner for ${client}`);
  }
}

const matches = (s: ClientShows, said: Said) =>
  s.outcome === said.outcome &&
  (s.code === undefined || s.code === said.code) &&
  (s.says === undefined || said.text.toLowerCase().includes(s.says.toLowerCase()));

const CLIENTS: Array<[ClientName, string]> = [
  ['curl', 'curl'],
  ['python', 'python3'],
  ['wget', 'wget'],
  ['node', 'node'],
  ['openssl', 'openssl'],
];

describe.skipIf(!FAKETIME)('a client whose clock is wrong (needs faketime)', () => {
  for (const offset of ['-730d', '+400d']) {
    for (const [client, tool] of CLIENTS) {
      it.skipIf(!hasTool(tool))(
        `${client}, clock ${offset}: only the clock remains, and the text quotes the client`,
        async () => {
          const p = await startLabProxy(ca, lab, { mode: 'intercept' });
          try {
            const said = await run(client, offset, p.proxy.url);
            expect(said.outcome, `${client}: ${said.text}`).toBe('error');
            await waitFor(
              () => p.events.some((e) => e.type === 'conn.close'),
              `${client} refusal recorded`,
              { timeoutMs: 5000 },
            );
            const store = new FlowStore();
            for (const e of p.events) store.apply(e);
            const flow = store.all().find((f) => f.kind === 'tls' && f.conn.rejected);
            expect(
              flow,
              `${client}: no refusal in ${p.events.map((e) => e.type).join(',')}`,
            ).toBeDefined();
            const x = explain(flow!);
            const open = x.causes.filter((c) => c.ruledOut === null).map((c) => c.id);
            expect(open).toContain('client-clock');
            expect(
              open.filter(
                (c) =>
                  ![
                    'client-clock',
                    'untrusted-issuer',
                    'client-policy',
                    'spare-connection',
                  ].includes(c),
              ),
            ).toEqual([]);
            const lines = x.clients[client] ?? [];
            expect(
              lines.some((l) => matches(l, said)),
              `${client} said ${said.code} "${said.text.slice(0, 160)}"; the text claims ${JSON.stringify(lines)}`,
            ).toBe(true);
            expect(lines.filter((l) => l.outcome === 'ok')).toEqual([]);
            // …and it is the clock's line that matches, not another cause's.
            const clock = x.causes.find((c) => c.id === 'client-clock')?.clients[client] ?? [];
            expect(clock.some((l) => matches(l, said))).toBe(true);
          } finally {
            await p.proxy.close();
          }
        },
      );
    }
  }
});
