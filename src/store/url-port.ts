// The port of an absolute URL (`flow.port`), read by hand for the common shapes: the fold
// (./fold.ts) calls it for every request, where `new URL()` would cost too much.

/**
 * The port of an absolute URL; not `new URL()`, because this runs for every request. The common
 * shape (`http://host[:port]/…`, no userinfo, no IPv6 literal) is read by hand; anything else
 * goes to the general pattern.
 */
export function portOf(url: string, scheme: 'http' | 'https'): number | null {
  const start = url.startsWith('http://') ? 7 : url.startsWith('https://') ? 8 : -1;
  const at = start > 0 ? url.indexOf('@', start) : -1;
  const slash = start > 0 ? url.indexOf('/', start) : -1;
  // Userinfo (an @ before the path) may hide a colon anywhere: the general pattern reads it.
  if (start > 0 && (at < 0 || (slash >= 0 && slash < at))) {
    let end = start;
    let colon = -1;
    for (; end < url.length; end++) {
      const ch = url.charCodeAt(end);
      if (ch === 0x2f || ch === 0x3f || ch === 0x23) break; // / ? #
      if (ch === 0x5b) {
        end = -1; // [ (an IPv6 literal): the general pattern
        break;
      }
      if (ch === 0x3a && colon < 0) colon = end;
    }
    if (end >= 0) {
      let digits = colon < 0 ? 0 : colon + 1;
      if (colon >= 0) while (digits < end && isDigit(url.charCodeAt(digits))) digits++;
      if (colon >= 0 && digits > colon + 1) return Number(url.slice(colon + 1, digits));
      return scheme === 'https' ? 443 : 80;
    }
  }
  return portOfSlow(url, scheme);
}

function isDigit(ch: number): boolean {
  return ch >= 0x30 && ch <= 0x39;
}

function portOfSlow(url: string, scheme: 'http' | 'https'): number | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^/:?#]*)(?::(\d+))?/i.exec(url);
  if (!m) return null;
  return m[1] ? Number(m[1]) : scheme === 'https' ? 443 : 80;
}
