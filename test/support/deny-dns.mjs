// Preloaded into a mitm-lab process under test (NODE_OPTIONS=--import …/deny-dns.mjs): the
// system resolver is never asked. Every dns.lookup of a name — the one the proxy falls back to
// for a name no rule covers — is written (one name a line) to the file in
// MITM_LAB_TEST_DNS_LOG and fails at once with ENOTFOUND, as a name that does not exist would
// (IP literals pass: they ask no resolver). Tests read the file to prove which names the proxy
// would have looked up, without any DNS query leaving the machine.
// MITM_LAB_TEST_DNS_ANSWERS (JSON, {"name": "address"}) makes those names resolve instead, as a
// DNS server would answer them (recorded all the same): how a test gives the proxy a name that
// points at its own machine without a hosts file or a resolver.
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';

const log = process.env.MITM_LAB_TEST_DNS_LOG;
const answers = JSON.parse(process.env.MITM_LAB_TEST_DNS_ANSWERS ?? '{}');
const original = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  // An IP literal (listen('127.0.0.1') looks it up too) asks no resolver: keep Node's answer.
  if (net.isIP(hostname)) return original.call(dns, hostname, options, callback);
  const cb = typeof options === 'function' ? options : callback;
  const opts = typeof options === 'object' && options !== null ? options : {};
  if (log) fs.appendFileSync(log, `${hostname}\n`);
  const address = answers[hostname.toLowerCase()];
  if (typeof address === 'string') {
    const family = net.isIP(address);
    if (opts.all) process.nextTick(cb, null, [{ address, family }]);
    else process.nextTick(cb, null, address, family);
    return;
  }
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname} (test: no system resolver)`);
  Object.assign(err, { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname });
  process.nextTick(cb, err);
};
