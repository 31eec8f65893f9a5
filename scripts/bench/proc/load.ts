// The bench's load client, in its own process, on raw net/tls sockets: it sends exactly what
// curl and browsers send to a proxy (absolute-form `GET http://host:port/small` with
// `Proxy-Connection: Keep-Alive` for plain HTTP; `CONNECT host:port`, TLS with SNI trusting the
// proxy's CA, then origin-form requests for HTTPS), one request in flight per connection.
// Without a proxy it talks to the origin itself (the direct baseline).
//
// usage: node --import tsx load.ts '<LoadSpec as JSON>'
// Prints `{"phase":"measuring"}` when the warm-up ends (the bench reads the proxy's CPU then),
// and one `{"phase":"done",…}` line with the results (LoadResult) at the end.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

export interface LoadSpec {
  /**
   * http / https: keep-alive requests on `conns` connections; newconn: `conns` loops of a new
   * connection (CONNECT + TLS) + one request with `Connection: close`; mint: one such
   * connection per name of `hosts`, one after another, timing the first response byte.
   */
  mode: 'http' | 'https' | 'newconn' | 'mint';
  /** The proxy's port on 127.0.0.1, or null to talk to the origin directly. */
  proxyPort: number | null;
  /** The origin's ports on 127.0.0.1. */
  origin: { http: number; https: number };
  /** The name in URLs, Host and SNI (the proxy resolves it; direct connects to 127.0.0.1). */
  host: string;
  /** PEM files the client trusts (the proxy's CA; the origin's root when direct). */
  ca: string[];
  conns: number;
  warmupS: number;
  durationS: number;
  /** mint: the names, in order. */
  hosts?: string[];
  /** One request or connection may take this long before it counts as an error. */
  timeoutMs: number;
}

export interface LoadResult {
  phase: 'done';
  /** Requests (http/https) or connections (newconn, mint) completed in the measured window. */
  count: number;
  errors: number;
  /** First error messages (a few). */
  errorSamples: string[];
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connections that had to be opened again (the server answered `Connection: close`). */
  reconnects: number;
  /** mint: time to the first response byte for each name, in order. */
  ttfbMs?: number[];
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** A parsed response head. */
interface Head {
  status: number;
  length: number | null;
  chunked: boolean;
  close: boolean;
}

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  let length: number | null = null;
  let chunked = false;
  let close = false;
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line
      .slice(i + 1)
      .trim()
      .toLowerCase();
    if (name === 'content-length') length = Number(value);
    else if (name === 'transfer-encoding') chunked = value.includes('chunked');
    else if (name === 'connection' || name === 'proxy-connection') close = value === 'close';
  }
  return { status, length, chunked, close };
}

/**
 * Reads responses off one socket: `next()` resolves when a whole response has arrived
 * (Content-Length, chunked, or — without either — the connection's end).
 */
class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: {
    resolve: (r: { head: Head; firstByteAt: number }) => void;
    reject: (e: Error) => void;
  } | null = null;
  private head: Head | null = null;
  private bodyStart = 0;
  private firstByteAt = 0;
  private ended = false;
  private failure: Error | null = null;

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      if (this.firstByteAt === 0) this.firstByteAt = performance.now();
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.check();
    });
    socket.on('end', () => {
      this.ended = true;
      this.check();
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('closed')));
  }

  next(): Promise<{ head: Head; firstByteAt: number }> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.waiting = { resolve, reject };
      this.check();
    });
  }

  private fail(err: Error): void {
    // A response without a length ends with its connection.
    if (this.head && this.head.length === null && !this.head.chunked) {
      this.ended = true;
      this.check();
    }
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(this.failure);
  }

  private check(): void {
    if (!this.waiting) return;
    if (!this.head) {
      const end = this.buf.indexOf(CRLF2);
      if (end < 0) return;
      this.head = parseHead(this.buf.subarray(0, end).toString('latin1'));
      this.bodyStart = end + 4;
    }
    const h = this.head;
    let done = -1;
    if (h.length !== null) {
      if (this.buf.length >= this.bodyStart + h.length) done = this.bodyStart + h.length;
    } else if (h.chunked) {
      done = chunkedEnd(this.buf, this.bodyStart);
    } else if (this.ended) {
      done = this.buf.length;
    }
    if (done < 0) return;
    const w = this.waiting;
    const result = { head: h, firstByteAt: this.firstByteAt };
    this.waiting = null;
    this.head = null;
    this.buf = this.buf.subarray(done);
    this.firstByteAt = this.buf.length > 0 ? performance.now() : 0;
    w.resolve(result);
  }
}

/** Where a chunked body ends (after its last chunk and trailers), or -1 when not yet. */
function chunkedEnd(buf: Buffer, from: number): number {
  let i = from;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) return -1;
    const size = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return -1;
    if (size === 0) {
      const end = buf.indexOf(CRLF2, eol);
      return end < 0 ? -1 : end + 4;
    }
    i = eol + 2 + size + 2;
    if (i > buf.length) return -1;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** `CONNECT target` on a new connection to the proxy; the socket once it answered 200. */
async function tunnel(proxyPort: number, target: string): Promise<net.Socket> {
  const s = await connectTcp(proxyPort);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf(CRLF2);
      if (end < 0) return;
      s.removeListener('data', onData);
      s.removeListener('error', reject);
      const status = parseHead(buf.subarray(0, end).toString('latin1')).status;
      if (status !== 200) {
        s.destroy();
        reject(new Error(`CONNECT answered ${status}`));
        return;
      }
      if (buf.length > end + 4) s.unshift(buf.subarray(end + 4));
      resolve(s);
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

function startTls(socket: net.Socket | null, port: number, host: string, ca: string[]) {
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    // No ALPN offer, as ../../shared/bench's client (it offers none either).
    const opts: tls.ConnectionOptions = { servername: host, ca };
    const s = socket
      ? tls.connect({ ...opts, socket })
      : tls.connect({ ...opts, host: '127.0.0.1', port });
    s.setNoDelay(true);
    s.once('secureConnect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One client connection as the spec says (plain, or CONNECT + TLS, or TLS direct). */
async function open(spec: LoadSpec, ca: string[], host: string): Promise<net.Socket> {
  const { proxyPort } = spec;
  if (spec.mode === 'http') return connectTcp(proxyPort ?? spec.origin.http);
  const target = `${host}:${spec.origin.https}`;
  const raw = proxyPort === null ? null : await tunnel(proxyPort, target);
  return startTls(raw, spec.origin.https, host, ca);
}

function requestText(spec: LoadSpec, host: string, close: boolean): string {
  const port = spec.mode === 'http' ? spec.origin.http : spec.origin.https;
  const authority = `${host}:${port}`;
  const target =
    spec.mode === 'http' && spec.proxyPort !== null ? `http://${authority}/small` : '/small';
  const proxyHeader =
    spec.mode === 'http' && spec.proxyPort !== null ? 'Proxy-Connection: Keep-Alive\r\n' : '';
  const connection = close ? 'Connection: close\r\n' : '';
  return `GET ${target} HTTP/1.1\r\nHost: ${authority}\r\nUser-Agent: mitm-lab-bench\r\nAccept: */*\r\n${proxyHeader}${connection}\r\n`;
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const ca = spec.ca.map((f) => readFileSync(f, 'utf8'));
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let reconnects = 0;
  let count = 0;
  let measuring = false;
  let stop = false;
  const error = (err: unknown): void => {
    if (!measuring) return;
    errors++;
    if (errorSamples.length < 5)
      errorSamples.push(String(err instanceof Error ? err.message : err));
  };

  if (spec.mode === 'mint') {
    const ttfbMs: number[] = [];
    for (const host of spec.hosts ?? []) {
      const t0 = performance.now();
      try {
        const s = await withTimeout(open(spec, ca, host), spec.timeoutMs, 'connect');
        const reader = new ResponseReader(s);
        s.write(requestText(spec, host, true));
        const { head, firstByteAt } = await withTimeout(reader.next(), spec.timeoutMs, 'response');
        if (head.status !== 200) throw new Error(`status ${head.status}`);
        ttfbMs.push(firstByteAt - t0);
        s.destroy();
      } catch (err) {
        measuring = true;
        error(err);
        ttfbMs.push(NaN);
      }
    }
    const ok = Float64Array.from(ttfbMs.filter((x) => !Number.isNaN(x))).sort();
    const result: LoadResult = {
      phase: 'done',
      count: ok.length,
      errors,
      errorSamples,
      seconds: 0,
      perSecond: 0,
      p50Ms: pct(ok, 50),
      p99Ms: pct(ok, 99),
      reconnects: 0,
      ttfbMs,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const keepAlive = spec.mode === 'http' || spec.mode === 'https';
  const loop = async (): Promise<void> => {
    let socket: net.Socket | null = null;
    let reader: ResponseReader | null = null;
    while (!stop) {
      const t0 = performance.now();
      try {
        if (!socket || socket.destroyed) {
          socket = await withTimeout(open(spec, ca, spec.host), spec.timeoutMs, 'connect');
          reader = new ResponseReader(socket);
        }
        socket.write(requestText(spec, spec.host, !keepAlive));
        const { head } = await withTimeout(reader!.next(), spec.timeoutMs, 'response');
        if (head.status !== 200) throw new Error(`status ${head.status}`);
        if (measuring && !stop) {
          count++;
          latencies.push(performance.now() - t0);
        }
        if (!keepAlive) {
          // A new connection per request ends as ../../shared/bench's client ends it: gracefully
          // (TLS close_notify, then FIN), destroyed a second later if still open.
          const s = socket;
          s.end();
          setTimeout(() => s.destroy(), 1000).unref();
          socket = null;
        } else if (head.close) {
          // A keep-alive connection the server closed: count it, open another.
          if (measuring) reconnects++;
          socket.destroy();
          socket = null;
        }
      } catch (err) {
        error(err);
        socket?.destroy();
        socket = null;
      }
    }
    socket?.destroy();
  };
  const loops = Array.from({ length: spec.conns }, loop);
  await new Promise((r) => setTimeout(r, spec.warmupS * 1000));
  measuring = true;
  process.stdout.write('{"phase":"measuring"}\n');
  const t = performance.now();
  await new Promise((r) => setTimeout(r, spec.durationS * 1000));
  const seconds = (performance.now() - t) / 1000;
  const measured = count;
  stop = true;
  const sorted = Float64Array.from(latencies).sort();
  const result: LoadResult = {
    phase: 'done',
    count: measured,
    errors,
    errorSamples,
    seconds,
    perSecond: measured / seconds,
    p50Ms: pct(sorted, 50),
    p99Ms: pct(sorted, 99),
    reconnects,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // In-flight requests finish (or time out) on their own; the bench does not wait for them.
  void Promise.allSettled(loops);
  setTimeout(() => process.exit(0), 50).unref();
}

await main();
