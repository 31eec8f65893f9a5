// The bench's name rule for the processes that have no resolve option of their own (the bare
// library, the bare Node relay): `*.bench.test` is 127.0.0.1, anything else goes to the system
// resolver. An agent's `lookup`.
import dns from 'node:dns';

/** `*.bench.test` is 127.0.0.1; anything else goes to the system resolver. */
export function lookup(hostname, options, cb) {
  if (!/(^|\.)bench\.test$/i.test(hostname)) return dns.lookup(hostname, options, cb);
  if (options.all) return cb(null, [{ address: '127.0.0.1', family: 4 }]);
  return cb(null, '127.0.0.1', 4);
}
