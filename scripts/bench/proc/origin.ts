// The bench's origin, in its own process: HTTP and HTTPS on 127.0.0.1 (ephemeral ports), each
// answering `/small` with 1 KiB (as ../../shared/bench's origin does) and anything else with
// `ok`. Prints `{"http":PORT,"https":PORT}` once listening; exits when its stdin closes (the
// bench that started it is gone).
// usage: node --import tsx origin.ts CERT.pem KEY.pem
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';

const [certFile, keyFile] = process.argv.slice(2);
if (!certFile || !keyFile) throw new Error('usage: origin.ts CERT.pem KEY.pem');

/** The body of `/small`: 1 KiB of text. */
const SMALL = Buffer.alloc(1024, 'x');

const handler: http.RequestListener = (req, res) => {
  req.resume();
  const body = req.url === '/small' ? SMALL : Buffer.from('ok');
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
};
// Keep-alive for as long as a bench window lasts, whatever Node's default.
const options = { keepAliveTimeout: 120_000, headersTimeout: 130_000, requestTimeout: 0 };
const plain = http.createServer(options, handler);
const secure = https.createServer(
  { ...options, cert: readFileSync(certFile), key: readFileSync(keyFile) },
  handler,
);
await Promise.all(
  [plain, secure].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))),
);
const port = (s: net.Server): number => (s.address() as net.AddressInfo).port;
process.stdout.write(`${JSON.stringify({ http: port(plain), https: port(secure) })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
