// A test fixture, not a test: an origin, or a load of clients, in a process of its own, so the
// proxy under test, the origin behind it, the clients and the test that measures (four
// processes) share no event loop: a busy origin must not delay the answer a measured client
// waits for. Run as `node --import tsx load-child.ts '{"role":"origin","certFile":…,"keyFile":…}'`
// — an origin (HTTP and HTTPS, "ok" to every request, keep-alive) that prints
// `{"origin":{"http":PORT,"https":PORT}}` — or `'{"role":"clients","origin":{…}}'`, which
// obeys JSON commands, one a line, on stdin:
//  - {"cmd":"busy","proxyPort":P,"conns":N,"host":H} — N keep-alive connections through the
//    proxy (opened 100 at a time), each sending `GET http://H:PORT/busy` again as soon as the
//    last response is in; progress every 500 ms as {"busy":{opened,served,done,errors}}
//    (`served`: connections that had at least one response);
//  - {"cmd":"stop-busy"} — closes them; {"stopped":"busy"} once all are closed;
//  - {"cmd":"https","proxyPort":P,"conns":N,"batch":B,"host":H,"caFile":F} — N CONNECTs to
//    H:HTTPS_PORT, B at a time (a batch starts when the last one is open or failed), each a TLS
//    handshake trusting only F and one request; {"https":{opened,failed,errors}} when all are
//    done (opened: a 200 came back); they stay open (a request every 2 s);
//  - {"cmd":"close-https"} — closes them; {"stopped":"https"} once all are closed;
//  - {"cmd":"requests","proxyPort":P,"conns":C,"total":N,"host":H,"caFile":F} — N requests over
//    C intercepted HTTPS keep-alive connections; {"requests":{done,seconds,errors}} every 1,000
//    and once all connections have closed.
// Also used by `npm run soak` (scripts/soak.ts).
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';
import tls from 'node:tls';

interface Args {
  role: 'origin' | 'clients';
  certFile?: string;
  keyFile?: string;
  origin?: { http: number; https: number };
}

/** How often an open HTTPS connection sends another request (the proxy closes after 5 s idle). */
const KEEP_OPEN_MS = 2_000;

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const say = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

async function startOrigin(
  certFile: string,
  keyFile: string,
): Promise<{ http: number; https: number }> {
  const answer: http.RequestListener = (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      res.end('ok');
    });
  };
  const plain = http.createServer({ keepAliveTimeout: 60_000 }, answer);
  const secure = https.createServer(
    {
      cert: readFileSync(certFile, 'utf8'),
      key: readFileSync(keyFile, 'utf8'),
      keepAliveTimeout: 60_000,
    },
    answer,
  );
  const listen = (s: net.Server): Promise<number> =>
    new Promise((resolve) =>
      s.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () =>
        resolve((s.address() as net.AddressInfo).port),
      ),
    );
  return { http: await listen(plain), https: await listen(secure) };
}

/**
 * Send `request` on `socket`, and again each time a whole response is in (responses are small,
 * with a Content-Length); `onResponse` runs for each.
 */
function keepAsking(
  socket: net.Socket | tls.TLSSocket,
  request: string,
  onResponse: () => void,
  more: () => boolean = () => true,
): void {
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.slice(end + 4 + length);
      onResponse();
      if (more()) socket.write(request);
      else socket.end();
    }
  });
  if (more()) socket.write(request);
}

/** The clients' side: busy keep-alive connections, and intercepted HTTPS ones. */
class Clients {
  private readonly errorCounts: Record<string, number> = {};
  private readonly busy = new Set<net.Socket>();
  private busyReport: NodeJS.Timeout | null = null;
  private readonly held = new Set<net.Socket>();

  constructor(private readonly origin: { http: number; https: number }) {}

  private countError = (err: NodeJS.ErrnoException): void => {
    const code = err.code ?? err.message;
    this.errorCounts[code] = (this.errorCounts[code] ?? 0) + 1;
  };

  startBusy(proxyPort: number, conns: number, host: string): void {
    const stats = { opened: 0, served: 0, done: 0, errors: 0 };
    const target = `${host}:${this.origin.http}`;
    const request = `GET http://${target}/busy HTTP/1.1\r\nHost: ${target}\r\n\r\n`;
    let started = 0;
    const batch = (): void => {
      for (const until = Math.min(conns, started + 100); started < until; started++) {
        const s = net.connect(proxyPort, '127.0.0.1');
        this.busy.add(s);
        s.on('error', (err: NodeJS.ErrnoException) => {
          stats.errors++;
          this.countError(err);
        });
        s.once('close', () => this.busy.delete(s));
        s.once('connect', () => {
          stats.opened++;
          let first = true;
          keepAsking(s, request, () => {
            stats.done++;
            if (first) stats.served++;
            first = false;
          });
        });
      }
      if (started < conns) setTimeout(batch, 200);
    };
    batch();
    this.busyReport = setInterval(
      () => say({ busy: { ...stats, errorCodes: this.errorCounts } }),
      500,
    );
  }

  async stopBusy(): Promise<void> {
    if (this.busyReport) clearInterval(this.busyReport);
    this.busyReport = null;
    await closeAll(this.busy);
    say({ stopped: 'busy' });
  }

  /** CONNECT, TLS trusting `ca`, one request: resolves true when its 200 came back. */
  private openHttps(proxyPort: number, host: string, ca: string): Promise<boolean> {
    const target = `${host}:${this.origin.https}`;
    return new Promise((resolve) => {
      const s = net.connect(proxyPort, '127.0.0.1');
      this.held.add(s);
      s.once('close', () => {
        this.held.delete(s);
        resolve(false);
      });
      s.on('error', this.countError);
      s.once('connect', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
      let head = '';
      const onHead = (d: Buffer): void => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        s.removeListener('data', onHead);
        if (!head.startsWith('HTTP/1.1 200')) {
          this.countError(Object.assign(new Error(head), { code: head.split('\r\n')[0] }));
          s.destroy();
          return;
        }
        const t = tls.connect({ socket: s, servername: host, ca: [ca] });
        t.on('error', this.countError);
        t.once('secureConnect', () => {
          let got = '';
          const onData = (c: Buffer): void => {
            got += c.toString('latin1');
            if (!got.includes('\r\n\r\nok')) return;
            t.removeListener('data', onData);
            resolve(got.startsWith('HTTP/1.1 200'));
            // Open, and kept open: a request every KEEP_OPEN_MS, so the proxy's keep-alive
            // limit (5 s idle) closes none of them while the others open.
            t.on('data', () => undefined);
            const again = setInterval(
              () => t.write(`GET /again HTTP/1.1\r\nHost: ${host}\r\n\r\n`),
              KEEP_OPEN_MS,
            );
            t.once('close', () => clearInterval(again));
          };
          t.on('data', onData);
          t.write(`GET /open HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        });
      };
      s.on('data', onHead);
    });
  }

  async startHttps(
    proxyPort: number,
    conns: number,
    batch: number,
    host: string,
    caFile: string,
  ): Promise<void> {
    const ca = readFileSync(caFile, 'utf8');
    let opened = 0;
    let failed = 0;
    for (let i = 0; i < conns; i += batch) {
      const results = await Promise.all(
        Array.from({ length: Math.min(batch, conns - i) }, () =>
          this.openHttps(proxyPort, host, ca),
        ),
      );
      for (const ok of results) {
        if (ok) opened++;
        else failed++;
      }
    }
    say({ https: { opened, failed, errors: this.errorCounts } });
  }

  /**
   * `total` requests through the proxy over `conns` intercepted HTTPS keep-alive connections
   * (CONNECT, TLS trusting only `caFile`); {"requests":{done,…}} every 1,000 and at the end.
   */
  async requests(
    proxyPort: number,
    conns: number,
    total: number,
    host: string,
    caFile: string,
  ): Promise<void> {
    const ca = readFileSync(caFile, 'utf8');
    const target = `${host}:${this.origin.https}`;
    const request = `GET /soak HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const started = performance.now();
    let sent = 0;
    let done = 0;
    const report = (): void =>
      say({
        requests: {
          done,
          seconds: (performance.now() - started) / 1000,
          errors: this.errorCounts,
        },
      });
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const s = net.connect(proxyPort, '127.0.0.1');
        s.on('error', this.countError);
        s.once('close', () => resolve());
        s.once('connect', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
        let head = '';
        const onHead = (d: Buffer): void => {
          head += d.toString('latin1');
          if (!head.includes('\r\n\r\n')) return;
          s.removeListener('data', onHead);
          const t = tls.connect({ socket: s, servername: host, ca: [ca] });
          t.on('error', this.countError);
          t.once('secureConnect', () =>
            keepAsking(
              t,
              request,
              () => {
                if (++done % 1000 === 0) report();
              },
              () => sent++ < total,
            ),
          );
        };
        s.on('data', onHead);
      });
    await Promise.all(Array.from({ length: conns }, one));
    report();
  }

  async closeHttps(): Promise<void> {
    await closeAll(this.held);
    say({ stopped: 'https' });
  }
}

/** Destroy every socket of `set`; resolves once all have closed. */
function closeAll(set: Set<net.Socket>): Promise<unknown> {
  return Promise.all(
    [...set].map((s) => new Promise((resolve) => (s.once('close', resolve), s.destroy()))),
  );
}

// ---- commands ------------------------------------------------------------------------------
interface Command {
  cmd: 'busy' | 'stop-busy' | 'https' | 'close-https' | 'requests' | 'exit';
  proxyPort?: number;
  conns?: number;
  total?: number;
  batch?: number;
  host?: string;
  caFile?: string;
}

async function obey(origin: { http: number; https: number }): Promise<void> {
  const clients = new Clients(origin);
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const c = JSON.parse(line) as Command;
    if (c.cmd === 'busy') clients.startBusy(c.proxyPort!, c.conns!, c.host!);
    else if (c.cmd === 'stop-busy') await clients.stopBusy();
    else if (c.cmd === 'https')
      void clients.startHttps(c.proxyPort!, c.conns!, c.batch ?? 100, c.host!, c.caFile!);
    else if (c.cmd === 'close-https') await clients.closeHttps();
    else if (c.cmd === 'requests')
      void clients.requests(c.proxyPort!, c.conns!, c.total!, c.host!, c.caFile!);
    else break;
  }
}

// ---- start (after every declaration above) ----
if (args.role === 'origin') {
  const origin = await startOrigin(args.certFile!, args.keyFile!);
  say({ origin });
  // Runs until stdin closes (the test ends it).
  process.stdin.resume();
  process.stdin.once('end', () => process.exit(0));
} else {
  await obey(args.origin!);
  process.exit(0);
}
