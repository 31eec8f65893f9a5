// Bare http-mitm-proxy 1.1 (mitm-lab's own dependency), as the bench's reference: no hooks, only
// what it takes to run it like ../../shared/bench's `hmp` kind — keep-alive on, upstream
// validation on (the origin's root comes through NODE_EXTRA_CA_CERTS) — plus the same name rule
// the bench gives mitm-lab (`--resolve '*.bench.test=127.0.0.1'`), as an agent lookup.
// Prints `listening PORT` when ready; SIGTERM ends it.
// usage: node hmp-proxy.mjs CA_DIR
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import { lookup } from './bench-names.mjs';

const { Proxy } = createRequire(import.meta.url)('http-mitm-proxy');
const caDir = process.argv[2];
if (!caDir) throw new Error('usage: hmp-proxy.mjs CA_DIR');

const proxy = new Proxy();
proxy.onError(() => {}); // the library logs every error itself
proxy.listen(
  {
    host: '127.0.0.1',
    port: 0,
    sslCaDir: caDir,
    keepAlive: true,
    httpAgent: new http.Agent({ keepAlive: true, lookup }),
    httpsAgent: new https.Agent({ keepAlive: true, lookup }),
  },
  (err) => {
    if (err) {
      process.stderr.write(`listen failed: ${err}\n`);
      process.exit(1);
    }
    process.stdout.write(`listening ${proxy.httpServer.address().port}\n`);
  },
);
process.on('SIGTERM', () => process.exit(0));
