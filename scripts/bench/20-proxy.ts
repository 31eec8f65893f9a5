// The proxy's cost, each figure beside a direct baseline measured in the same run on loopback:
//  - plain HTTP keep-alive requests/s, through the proxy vs straight to the origin;
//  - intercepted HTTPS keep-alive requests/s (client → CONNECT → forged TLS → proxy → TLS →
//    origin) vs HTTPS straight to the origin;
//  - the first request to a NEW host name (CONNECT, ClientHello peek, minting, two TLS
//    handshakes) vs a new TLS connection straight to the origin.
// Host names are *.bench.test, which the proxy resolves to 127.0.0.1 by a resolve rule.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import tls from 'node:tls';
import { buildCertificate, generateRsaKeyPair, openCa } from '../../src/ca/index.ts';
import { EventBus } from '../../src/events/bus.ts';
import { startProxy } from '../../src/proxy/index.ts';

export const title =
  'proxy: keep-alive requests/s (HTTP, intercepted HTTPS) and first request to a new host, vs direct';

const REQUESTS = 1500;
const CONCURRENCY = 4;
const NEW_HOSTS = 40;
const WARMUP = 100;
const DAY = 86_400_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function get(options: https.RequestOptions, secure: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(options, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Requests per second with CONCURRENCY sequential workers sharing one keep-alive agent. */
async function rate(n: number, one: () => Promise<void>): Promise<number> {
  let left = n;
  const worker = async (): Promise<void> => {
    while (left-- > 0) await one();
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return n / ((performance.now() - t) / 1000);
}

/** A CONNECT tunnel to `target` through the proxy. */
function tunnel(proxyPort: number, target: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: proxyPort,
      method: 'CONNECT',
      path: target,
      headers: { host: target },
    });
    req.once('connect', (res, socket) =>
      res.statusCode === 200 ? resolve(socket) : reject(new Error(`CONNECT ${res.statusCode}`)),
    );
    req.once('error', reject);
    req.end();
  });
}

/** An https.Agent that reaches every origin through a CONNECT tunnel (keep-alive kept). */
class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxyPort: number,
    private readonly trust: string[],
  ) {
    super({ keepAlive: true, maxSockets: CONCURRENCY });
  }

  override createConnection(
    options: https.RequestOptions,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): undefined {
    const done = cb ?? (() => undefined);
    const host = (options as { servername?: string }).servername || String(options.host);
    tunnel(this.proxyPort, `${host}:${options.port}`).then(
      (socket) => {
        const s = tls.connect({ socket, servername: host, ca: this.trust });
        s.once('secureConnect', () => done(null, s));
        s.once('error', (err) => done(err, s));
      },
      (err: Error) => done(err, new PassThrough()),
    );
    return undefined;
  }
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mitm-lab-bench-proxy-'));
  const rootKey = generateRsaKeyPair(2048);
  const now = Date.now();
  const rootPem = buildCertificate({
    subject: { CN: 'bench origin root' },
    publicKeyPem: rootKey.publicKeyPem,
    issuer: { selfSignWith: rootKey.privateKeyPem },
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + DAY),
    isCa: true,
    pathLen: 0,
  });
  const leafKey = generateRsaKeyPair(2048);
  const leafPem = buildCertificate({
    subject: { CN: 'bench.test' },
    publicKeyPem: leafKey.publicKeyPem,
    issuer: { certPem: rootPem, privateKeyPem: rootKey.privateKeyPem },
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + DAY),
    sans: ['DNS:bench.test', 'DNS:*.bench.test'],
  });
  const handler: http.RequestListener = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
  };
  const plain = http.createServer({ keepAliveTimeout: 60_000 }, handler);
  const secure = https.createServer(
    { cert: leafPem, key: leafKey.privateKeyPem, keepAliveTimeout: 60_000 },
    handler,
  );
  await Promise.all(
    [plain, secure].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))),
  );
  const httpPort = (plain.address() as net.AddressInfo).port;
  const httpsPort = (secure.address() as net.AddressInfo).port;

  const ca = await openCa({ dir });
  const bus = new EventBus(); // no listeners: measure the engine, not a view
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    mode: 'intercept',
    ca,
    bus,
    upstreamCa: [rootPem],
    resolve: [{ pattern: '*.bench.test', address: '127.0.0.1' }],
  });
  const agents: http.Agent[] = [];
  try {
    // Plain HTTP keep-alive.
    const directHttp = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const proxyHttp = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    agents.push(directHttp, proxyHttp);
    const directPlain = () =>
      get({ host: '127.0.0.1', port: httpPort, path: '/', agent: directHttp }, false);
    const viaPlain = () =>
      get(
        {
          host: '127.0.0.1',
          port: proxy.port,
          path: `http://www.bench.test:${httpPort}/`,
          agent: proxyHttp,
          headers: { host: `www.bench.test:${httpPort}` },
        },
        false,
      );
    await rate(WARMUP, directPlain);
    await rate(WARMUP, viaPlain);
    const httpDirect = await rate(REQUESTS, directPlain);
    const httpProxy = await rate(REQUESTS, viaPlain);

    // Intercepted HTTPS keep-alive.
    const directTls = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: [rootPem] });
    const proxyTls = new TunnelAgent(proxy.port, [ca.certPem]);
    agents.push(directTls, proxyTls);
    const directSecure = () =>
      get(
        {
          host: '127.0.0.1',
          servername: 'www.bench.test',
          port: httpsPort,
          path: '/',
          agent: directTls,
          headers: { host: 'www.bench.test' },
        },
        true,
      );
    const viaSecure = () =>
      get({ host: 'www.bench.test', port: httpsPort, path: '/', agent: proxyTls }, true);
    await rate(WARMUP, directSecure);
    await rate(WARMUP, viaSecure);
    const httpsDirect = await rate(REQUESTS, directSecure);
    const httpsProxy = await rate(REQUESTS, viaSecure);

    // First request to a new host: a fresh connection (and, through the proxy, a fresh leaf).
    const firstDirect: number[] = [];
    const firstProxy: number[] = [];
    for (let i = 0; i < NEW_HOSTS; i++) {
      const name = `new-${i}.bench.test`;
      let t = performance.now();
      await get(
        {
          host: '127.0.0.1',
          servername: name,
          port: httpsPort,
          path: '/',
          ca: [rootPem],
          agent: false,
          headers: { host: name },
        },
        true,
      );
      firstDirect.push(performance.now() - t);
      const once = new TunnelAgent(proxy.port, [ca.certPem]);
      t = performance.now();
      await get({ host: name, port: httpsPort, path: '/', agent: once }, true);
      firstProxy.push(performance.now() - t);
      once.destroy();
    }

    const r = (x: number) => x.toFixed(0).padStart(6);
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    console.log(
      `  requests: ${REQUESTS} per figure, ${CONCURRENCY} concurrent keep-alive connections, loopback`,
    );
    console.log(
      `  HTTP  keep-alive  direct ${r(httpDirect)} req/s   via proxy ${r(httpProxy)} req/s   ratio ${ratio(httpProxy, httpDirect)}x`,
    );
    console.log(
      `  HTTPS keep-alive  direct ${r(httpsDirect)} req/s   intercepted ${r(httpsProxy)} req/s   ratio ${ratio(httpsProxy, httpsDirect)}x`,
    );
    const md = median(firstDirect);
    const mp = median(firstProxy);
    console.log(
      `  first request to a new host (median of ${NEW_HOSTS}): direct ${md.toFixed(1)} ms   via proxy ${mp.toFixed(1)} ms   ` +
        `ratio ${ratio(mp, md)}x   (+${(mp - md).toFixed(1)} ms: CONNECT, hello peek, mint, two handshakes)`,
    );
  } finally {
    for (const a of agents) a.destroy();
    await proxy.close();
    for (const s of [plain, secure]) s.closeAllConnections();
    await Promise.all([plain, secure].map((s) => new Promise<void>((r) => s.close(() => r()))));
    rmSync(dir, { recursive: true, force: true });
  }
}
