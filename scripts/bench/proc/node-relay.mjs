// The floor under any proxy built on Node's own `http`, `https` and `tls` (issue 12): a relay that
// does nothing but relay. Plain HTTP: `http.createServer` → `http.request` on a keep-alive agent
// → `pipe`. HTTPS: a CONNECT is answered 200 and its socket given to an `https` server
// (`server.emit('connection', socket)`, the socket's own handle: no JavaScript per chunk), which
// presents ONE fixed ECDSA P-256 certificate (no minting), then the same relay over a validating
// keep-alive `https.Agent`. No capture, no events, no checks, no log. What a proxy adds on top of
// this is what it does; what this costs, no proxy on Node can go under.
// *.bench.test resolves to 127.0.0.1 (the bench's name rule); the origin's root is trusted.
// Prints `listening PORT` when ready; SIGTERM ends it. `--port N` listens there instead of on a
// free port (the shared harness's `custom` kind: docs/performance.md, "Latest figures").
// usage: node node-relay.mjs CERT.pem KEY.pem ORIGIN_ROOT.pem [--port N]
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { lookup } from './bench-names.mjs';

const [certFile, keyFile, rootFile, portFlag, portValue] = process.argv.slice(2);
const port = portFlag === '--port' ? Number(portValue) : 0;
if (!certFile || !keyFile || !rootFile || !Number.isInteger(port) || port < 0 || port > 65535)
  throw new Error('usage: node-relay.mjs CERT.pem KEY.pem ORIGIN_ROOT.pem [--port N]');

// As long as a bench window lasts, whatever Node's defaults.
const serverOptions = { keepAliveTimeout: 120_000, headersTimeout: 130_000, requestTimeout: 0 };
const agents = {
  http: new http.Agent({ keepAlive: true, lookup }),
  https: new https.Agent({ keepAlive: true, lookup, ca: readFileSync(rootFile) }),
};
/** Hop-by-hop headers (RFC 9110 §7.6.1) a relay must not forward. */
const HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
]);

function relay(secure) {
  return (req, res) => {
    let target;
    try {
      target = new URL(secure ? `https://${req.headers.host}${req.url}` : req.url);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const headers = {};
    for (const [name, value] of Object.entries(req.headers))
      if (!HOP.has(name)) headers[name] = value;
    const upstream = (secure ? https : http).request(
      {
        host: target.hostname,
        port: target.port || (secure ? 443 : 80),
        servername: secure ? target.hostname : undefined,
        method: req.method,
        path: target.pathname + target.search,
        headers,
        agent: secure ? agents.https : agents.http,
      },
      (answer) => {
        const out = {};
        for (const [name, value] of Object.entries(answer.headers))
          if (!HOP.has(name)) out[name] = value;
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
  };
}

const tlsServer = https.createServer(
  { ...serverOptions, cert: readFileSync(certFile), key: readFileSync(keyFile) },
  relay(true),
);
const server = http.createServer(serverOptions, relay(false));
server.on('connect', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length > 0) socket.unshift(head);
  tlsServer.emit('connection', socket);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
