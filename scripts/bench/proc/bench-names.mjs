// The bench's name rule for the processes that have no resolve option of their own (the bare
// library, the bare Node relay): `*.bench.test` is 127.0.0.1, anything else goes to the system
// resolver. An agent's `lookup`.
//
// A bench name still costs what a name costs a proxy: one lookup through the system resolver
// (getaddrinfo on libuv's thread pool; /etc/hosts), of `localhost`, since no hosts file is
// edited. ../../shared/bench resolves its names through /etc/hosts, and the library opens a
// server connection, so a lookup, for every client connection that asks `Connection: close`:
// answered from a table instead, it read ~0.3 ms less CPU per new TLS connection than there.
import dns from 'node:dns';

const BENCH_NAME_RE = /(^|\.)bench\.test$/i;

/** `*.bench.test` is 127.0.0.1 (after a system lookup of localhost); anything else is looked up. */
export function lookup(hostname, options, cb) {
  if (!BENCH_NAME_RE.test(hostname)) return dns.lookup(hostname, options, cb);
  dns.lookup('localhost', { family: 4 }, (err) => {
    if (err) return cb(err);
    if (options.all) return cb(null, [{ address: '127.0.0.1', family: 4 }]);
    return cb(null, '127.0.0.1', 4);
  });
}
