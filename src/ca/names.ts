// Host names as they reach the CA come from the network (CONNECT lines, SNI) and the command
// line: validate them before they name a certificate, a cache entry or anything else.
// http-mitm-proxy wrote files named after the raw host (`CONNECT ../../x:443` escaped the CA
// folder, ENGINE-NOTES.md); here a name is a DNS name or an IP literal, or it is refused.
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { LabError } from '../util/lab-error.ts';

/** RFC 1035 2.3.4: at most 63 octets per label, 253 characters for a name in text form. */
const MAX_LABEL = 63;
const MAX_NAME = 253;

/** What kind of name `normalizeHost` returned. */
export function hostKind(host: string): 'dns' | 'ipv4' | 'ipv6' {
  return isIPv4(host) ? 'ipv4' : isIPv6(host) ? 'ipv6' : 'dns';
}

/**
 * Validate and normalise a host: lower-case DNS name (IDNs to punycode, one trailing dot
 * dropped) or an IP literal (IPv6 without brackets, compressed). Throws LabError('usage').
 */
export function normalizeHost(host: string): string {
  const bad = (why: string): never => {
    throw new LabError(
      'usage',
      `${JSON.stringify(host)} is not a valid host name or IP address: ${why}`,
      'a host is a DNS name like shop.test or an address like 127.0.0.1 or ::1',
    );
  };
  if (typeof host !== 'string' || host.length === 0) return bad('it is empty');
  if (host.length > MAX_NAME + 2) return bad(`it is longer than ${MAX_NAME} characters`);
  let h = host;
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (isIPv4(h)) return h;
  if (isIPv6(h)) {
    if (h.includes('%')) return bad('IPv6 zone identifiers cannot be in a certificate');
    return compressIpv6(h);
  }
  if (/\s/.test(h)) return bad('it contains white space');
  if (/[/\\?#@:%[\]]/.test(h)) return bad('it contains a path, port or URL character');
  if (h.includes('*')) return bad('wildcards are not minted; give the full name');
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(h)) {
    const ascii = domainToASCII(h);
    if (!ascii) return bad('it is not a valid internationalised domain name');
    h = ascii;
  }
  h = h.toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.length === 0) return bad('it is empty');
  if (h.length > MAX_NAME) return bad(`it is longer than ${MAX_NAME} characters`);
  const labels = h.split('.');
  for (const label of labels) {
    if (label.length === 0)
      return bad('it has an empty label (two dots in a row, or a leading dot)');
    if (label.length > MAX_LABEL)
      return bad(`the label "${label.slice(0, 20)}…" is longer than ${MAX_LABEL} characters`);
    // Letters, digits, hyphen (RFC 952/1123); underscore too, which real internal names use.
    if (!/^[a-z0-9_-]+$/.test(label))
      return bad(`the label "${label}" has a character other than a-z, 0-9, - or _`);
    if (label.startsWith('-') || label.endsWith('-'))
      return bad(`the label "${label}" starts or ends with a hyphen`);
  }
  // 1.2.3 or 999.1.1.1 looks like an address but is none: refuse rather than guess.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!))
    return bad('it looks like an IP address but is not one');
  return h;
}

/**
 * Normalise a `--permit` value into a name-constraint base: a DNS name (a leading `*.` or `.`
 * is dropped, since an RFC 5280 DNS subtree already covers every name under it) or an IP
 * address / CIDR range. Throws LabError('usage').
 */
export function normalizePermit(value: string): { kind: 'dns' | 'ip'; base: string } {
  const cidr = /^(.+)\/(\d{1,3})$/.exec(value);
  if (cidr) {
    const addr = normalizeHost(cidr[1]!);
    const bits = hostKind(addr) === 'ipv4' ? 32 : hostKind(addr) === 'ipv6' ? 128 : -1;
    const len = Number(cidr[2]);
    if (bits < 0 || len > bits)
      throw new LabError('usage', `--permit ${value}: not an IP range (address/prefix-length)`);
    return { kind: 'ip', base: `${addr}/${len}` };
  }
  const name = normalizeHost(value.replace(/^\*?\./, ''));
  const kind = hostKind(name);
  if (kind === 'dns') return { kind, base: name };
  return { kind: 'ip', base: `${name}/${kind === 'ipv4' ? 32 : 128}` };
}

/** May `host` (normalised) be named by a CA permitting these subtrees? RFC 5280 4.2.1.10. */
export function withinConstraints(host: string, dns: string[], ips: string[]): boolean {
  const kind = hostKind(host);
  if (kind === 'dns') return dns.some((base) => host === base || host.endsWith(`.${base}`));
  return ips.some((cidr) => inCidr(host, cidr));
}

function inCidr(ip: string, cidr: string): boolean {
  const [base = '', lenText = ''] = cidr.split('/');
  const a = ipBytes(ip);
  const b = ipBytes(base);
  if (!a || !b || a.length !== b.length) return false;
  const len = Number(lenText);
  for (let i = 0; i < len; i++) {
    const bit = 0x80 >> (i & 7);
    if ((a[i >> 3]! & bit) !== (b[i >> 3]! & bit)) return false;
  }
  return true;
}

function ipBytes(ip: string): number[] | null {
  if (isIPv4(ip)) return ip.split('.').map(Number);
  if (!isIPv6(ip)) return null;
  // Expand through the URL parser's canonical form, then fill the `::` gap.
  const canon = compressIpv6(ip);
  const [head = '', tail] = canon.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function compressIpv6(ip: string): string {
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}
