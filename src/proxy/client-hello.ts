// Reads the TLS ClientHello off a freshly accepted socket without consuming it: the only adapter
// for `read-tls-client-hello` (test/architecture.test.ts enforces that).
//
// Why not call the library's readTlsClientHello(socket) directly: it has no timeout, and when a
// client stays silent its pending `once('readable')` would stay on the socket and later read
// (steal) bytes that belong to whoever the socket is handed to. So this module does the socket
// reading itself — bounded in time and size, every listener removed, every byte put back with
// `socket.unshift` — and only hands the library a complete, reassembled ClientHello record to
// parse in memory (fields, JA3, JA4). Reassembly also covers ClientHellos fragmented across
// several records (legal, and the library alone rejects them).
import type net from 'node:net';
import { createRequire } from 'node:module';
import type * as Rtch from 'read-tls-client-hello';
import type { TlsClientHelloMessage } from 'read-tls-client-hello';

// require, not `import`: see util/ws.ts (an ES module importing CommonJS costs resident memory).
const rtch = createRequire(import.meta.url)('read-tls-client-hello') as typeof Rtch;

/** What a passive observer reads in a ClientHello: everything here crosses the wire in clear. */
export interface ClientHelloInfo {
  /** Server Name Indication (the host the client wants), or null when it sent none. */
  sni: string | null;
  /** ALPN protocols offered, in the client's order, e.g. `["h2", "http/1.1"]`. */
  alpn: string[];
  /**
   * Versions offered, highest first as the client listed them, e.g. `["TLS 1.3", "TLS 1.2"]`
   * (GREASE removed). A client without the supported_versions extension only states its highest
   * version, so the list then has one entry.
   */
  versions: string[];
  /** Cipher suites offered, IANA names in the client's order (GREASE removed; unknown ids as `0xXXXX`). */
  cipherSuites: string[];
  /** JA3 fingerprint (MD5 hex). */
  ja3: string;
  /** JA4 fingerprint (`t13d1516h2_…`). */
  ja4: string;
  /** A best-effort guess at the client software (see guessClient), or null when unsure. */
  clientHint: string | null;
}

/** The result of peeking at the first bytes of a connection. */
export type HelloPeek =
  /**
   * A ClientHello. `bytes`: every byte read, from its first (the ClientHello and anything that
   * came with it): put back on the socket, unless the peek was asked to hand them over
   * (`handOver`), in which case the caller owns them.
   */
  | { kind: 'tls'; hello: ClientHelloInfo; bytes: Buffer }
  /** The first byte is not a TLS handshake record (or the "ClientHello" is malformed). The bytes were put back. */
  | { kind: 'not-tls'; firstBytes: Buffer }
  /**
   * Nothing complete arrived within the timeout; whatever did arrive (`received` bytes: the
   * start of a ClientHello) was put back.
   */
  | { kind: 'timeout'; received: number }
  /** The client closed (or the socket failed) before sending a byte. */
  | { kind: 'closed' }
  /** The client closed in the middle of its ClientHello. */
  | { kind: 'truncated' };

/** TLS record content type of a handshake record (RFC 8446 §5.1). */
const CONTENT_HANDSHAKE = 0x16;
/** Handshake message type of a ClientHello (RFC 8446 §4). */
const HANDSHAKE_CLIENT_HELLO = 0x01;
/** Largest record payload a peer may send: 2^14 plus the TLS 1.2 compression/expansion allowance. */
const MAX_RECORD_PAYLOAD = 16384 + 2048;
/**
 * Largest ClientHello we reassemble. Real ones are 200 B – 2 KiB (post-quantum key shares push
 * Chromium's to ~1.8 KiB); a ClientHello must also fit a 16-bit record length once reassembled.
 */
const MAX_HELLO_BYTES = 65535 - 4;
/** Stop waiting for a ClientHello after this many bytes, whatever they are. */
const MAX_PEEK_BYTES = MAX_HELLO_BYTES + 64 * 5;

type Assessment =
  { state: 'need-more' } | { state: 'not-tls' } | { state: 'complete'; record: Buffer };

/**
 * Decide what the bytes read so far are: not TLS, an incomplete ClientHello, or a complete one
 * (returned as a single record the library can parse, however many records it spanned).
 */
function assess(buf: Buffer): Assessment {
  if (buf.length === 0) return { state: 'need-more' };
  if (buf[0] !== CONTENT_HANDSHAKE) return { state: 'not-tls' };
  const fragments: Buffer[] = [];
  let fragmentBytes = 0;
  let offset = 0;
  let recordVersion = 0x0301;
  for (;;) {
    if (buf.length - offset < 5) return { state: 'need-more' };
    const type = buf[offset];
    const versionMajor = buf[offset + 1];
    const length = buf.readUInt16BE(offset + 3);
    // Every record of a ClientHello is a handshake record with a 3.x record version.
    if (type !== CONTENT_HANDSHAKE || versionMajor !== 0x03 || length === 0) {
      return { state: 'not-tls' };
    }
    if (length > MAX_RECORD_PAYLOAD) return { state: 'not-tls' };
    if (offset === 0) recordVersion = buf.readUInt16BE(1);
    if (buf.length - offset - 5 < length) {
      // Partial record: enough to check the message type early, not enough to finish.
      if (
        fragmentBytes === 0 &&
        buf.length - offset > 5 &&
        buf[offset + 5] !== HANDSHAKE_CLIENT_HELLO
      ) {
        return { state: 'not-tls' };
      }
      return { state: 'need-more' };
    }
    fragments.push(buf.subarray(offset + 5, offset + 5 + length));
    fragmentBytes += length;
    offset += 5 + length;
    const message = Buffer.concat(fragments, fragmentBytes);
    if (message[0] !== HANDSHAKE_CLIENT_HELLO) return { state: 'not-tls' };
    if (message.length < 4) continue;
    const helloLength = message.readUIntBE(1, 3);
    if (helloLength > MAX_HELLO_BYTES) return { state: 'not-tls' };
    if (message.length < 4 + helloLength) continue;
    const body = message.subarray(0, 4 + helloLength);
    const header = Buffer.alloc(5);
    header[0] = CONTENT_HANDSHAKE;
    header.writeUInt16BE(recordVersion, 1);
    header.writeUInt16BE(body.length, 3);
    return { state: 'complete', record: Buffer.concat([header, body]) };
  }
}

/**
 * Wait for the client's first bytes and parse its ClientHello, then put every byte back so the
 * socket can be piped on (to a TLS server, or to the plain-HTTP handler for `not-tls`).
 *
 * Call it while the socket is not flowing (no 'data' listener) — e.g. right after writing the
 * CONNECT 200 and unshifting any `head` bytes. A flowing socket is paused and resumed after.
 * Never rejects; no listener is left behind whatever the outcome.
 */
export function peekClientHello(
  socket: net.Socket,
  timeoutMs: number,
  opts: {
    /**
     * A ClientHello's bytes are handed to the caller (`bytes`) instead of put back: the one read
     * of them, for a caller that sends them on itself (the CONNECT decision: to the capture's
     * record parser and to the internal TLS server, without reading them off the socket again).
     */
    handOver?: boolean;
  } = {},
): Promise<HelloPeek> {
  if (socket.destroyed || socket.readableEnded) return Promise.resolve({ kind: 'closed' });
  return new Promise<HelloPeek>((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const wasFlowing = socket.readableFlowing === true;
    if (wasFlowing) socket.pause();

    /** The bytes read so far, as one Buffer (kept as the one chunk: not joined twice). */
    const joined = (): Buffer => {
      if (chunks.length !== 1) chunks.splice(0, chunks.length, Buffer.concat(chunks, total));
      return chunks[0] ?? Buffer.alloc(0);
    };
    const detach = (putBack: boolean): Buffer => {
      settled = true;
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
      const bytes = joined();
      // After 'end' has been emitted Node refuses an unshift (and destroys the socket): the
      // client is gone anyway, and the caller learns it from the result.
      if (putBack && total > 0 && !socket.readableEnded && !socket.destroyed) {
        socket.unshift(bytes);
      }
      if (wasFlowing) socket.resume();
      return bytes;
    };
    const gone = (): void => {
      if (settled) return;
      detach(false);
      resolve(total === 0 ? { kind: 'closed' } : { kind: 'truncated' });
    };
    const onEnd = gone;
    const onClose = gone;
    // An 'error' is followed by 'close'; listening here also keeps an unhandled 'error' from
    // crashing the process while we are the only listener.
    const onError = gone;
    const onReadable = (): void => {
      if (settled) return;
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        total += chunk.length;
      }
      if (total === 0) return;
      const verdict = assess(joined());
      if (verdict.state === 'need-more' && total <= MAX_PEEK_BYTES) return;
      if (verdict.state === 'complete') {
        const hello = parseHello(verdict.record);
        const bytes = detach(!(hello && opts.handOver === true));
        resolve(
          hello ? { kind: 'tls', hello, bytes } : { kind: 'not-tls', firstBytes: verdict.record },
        );
        return;
      }
      const firstBytes = detach(true);
      resolve({ kind: 'not-tls', firstBytes });
    };
    const timer = setTimeout(() => {
      if (settled) return;
      detach(true);
      resolve({ kind: 'timeout', received: total });
    }, timeoutMs);

    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}

/**
 * Parse one complete ClientHello record (as a passive observer would), or null when it is not one.
 * Synchronous: the record is already in memory, so it is read in one pass over a Buffer (the
 * library's own reader awaits a stream for every field: ~40 promises per ClientHello, ~3 % of
 * the proxy's CPU per new TLS connection, issue 12); the library still parses the extensions and
 * computes JA3/JA4 from the same message.
 */
export function parseHello(record: Buffer): ClientHelloInfo | null {
  const message = readClientHelloMessage(record);
  return message ? describeHello(message) : null;
}

/**
 * The ClientHello in one handshake record (5-byte record header, then the message), in the
 * library's shape (`TlsClientHelloMessage`): the same fields its stream reader returns, the
 * extensions parsed by its own parsers. Null when the bytes are not a well-formed ClientHello.
 * Unlike the library's reader, a ClientHello that ends before an extensions block (legal before
 * TLS 1.2) has none, rather than leaving the reader waiting for bytes that never come.
 */
export function readClientHelloMessage(record: Buffer): TlsClientHelloMessage | null {
  if (record.length < 5 || record[0] !== CONTENT_HANDSHAKE) return null;
  const hello = record.subarray(5, 5 + record.readUInt16BE(3));
  let p = 0;
  const need = (n: number): boolean => p + n <= hello.length;
  if (!need(4) || hello[0] !== HANDSHAKE_CLIENT_HELLO) return null;
  if (hello.readUIntBE(1, 3) !== hello.length - 4) return null;
  p = 4;
  if (!need(2 + 32 + 1)) return null;
  const version = hello.readUInt16BE(p);
  const random = hello.subarray(p + 2, p + 34);
  p += 34;
  const sessionIdLength = hello[p++]!;
  if (!need(sessionIdLength + 2)) return null;
  const sessionId = hello.subarray(p, p + sessionIdLength);
  p += sessionIdLength;
  const suitesLength = hello.readUInt16BE(p);
  p += 2;
  if (!need(suitesLength + 1)) return null;
  const cipherSuites: number[] = [];
  if (suitesLength % 2 !== 0) return null;
  for (let i = 0; i < suitesLength; i += 2) cipherSuites.push(hello.readUInt16BE(p + i));
  p += suitesLength;
  const compressionLength = hello[p++]!;
  if (!need(compressionLength)) return null;
  const compressionMethods = Array.from(hello.subarray(p, p + compressionLength));
  p += compressionLength;
  const extensions: TlsClientHelloMessage['extensions'] = [];
  if (need(2)) {
    const extensionsLength = hello.readUInt16BE(p);
    p += 2;
    const end = p + extensionsLength;
    while (p < end) {
      if (!need(4)) return null;
      const id = hello.readUInt16BE(p);
      const length = hello.readUInt16BE(p + 2);
      p += 4;
      if (!need(length)) return null;
      const data = hello.subarray(p, p + length);
      p += length;
      const parser = (
        rtch.extensionParsers as Record<number, ((d: Buffer) => unknown) | undefined>
      )[id];
      let parsed: unknown = null;
      if (parser && !rtch.isGREASE(id)) {
        try {
          parsed = parser(data);
        } catch {
          parsed = null; // a malformed extension: kept by id, like the library does
        }
      }
      extensions.push({ id, data: parsed } as TlsClientHelloMessage['extensions'][number]);
    }
  }
  return { version, random, sessionId, cipherSuites, compressionMethods, extensions };
}

function hex4(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The IANA name of a cipher suite id (`0x1301` → `TLS_AES_128_GCM_SHA256`), or its hex id. */
export function cipherSuiteName(id: number): string {
  return rtch.CIPHER_SUITES[id] ?? hex4(id);
}

/** The name of a protocol version (`0x0304` → `TLS 1.3`), or its hex id. */
export function tlsVersionName(id: number): string {
  return rtch.TLS_VERSIONS[id] ?? hex4(id);
}

/** The IANA name of a supported group (`29` → `x25519`), or its hex id. */
export function groupName(id: number): string {
  return rtch.SUPPORTED_GROUPS[id] ?? hex4(id);
}

function describeHello(message: TlsClientHelloMessage): ClientHelloInfo {
  const { getExtensionData, isGREASE } = rtch;
  const sni = getExtensionData(message, 0x0000)?.serverName ?? null;
  const alpn = getExtensionData(message, 0x0010)?.protocols ?? [];
  const offered = getExtensionData(message, 0x002b)?.versions?.filter((v) => !isGREASE(v));
  const versions = (offered && offered.length > 0 ? offered : [message.version]).map(
    tlsVersionName,
  );
  const cipherSuites = message.cipherSuites.filter((c) => !isGREASE(c)).map(cipherSuiteName);
  return {
    sni: sni || null,
    alpn,
    versions,
    cipherSuites,
    ja3: rtch.calculateJa3(message),
    ja4: rtch.calculateJa4(message),
    clientHint: guessClient(message),
  };
}

/**
 * A best-effort guess at the client software, from features of its ClientHello. It is a hint
 * for teaching ("this looks like curl"), not an identification: any client can imitate another
 * and distributions change defaults, so it answers null whenever the evidence is not specific.
 *
 * Rules, first match wins (measured on this machine's Node 20 / OpenSSL 3.0 curl, Python 3.11,
 * `openssl s_client`; browsers from their published ClientHellos):
 * - `chromium`: GREASE values plus ALPS (extension 17513/17613) or brotli certificate
 *   compression — Chrome, Edge, Brave, Electron and other Chromium-based clients;
 * - `safari`: GREASE, ALPN `h2`, no ALPS (Apple's stack);
 * - `firefox`: no GREASE, record_size_limit (28) and delegated_credentials (34) (NSS);
 * - OpenSSL-based clients (no GREASE, TLS_EMPTY_RENEGOTIATION_INFO_SCSV among the suites),
 *   told apart by their default TLS 1.2 cipher order and ALPN:
 *   - `node`: Node's own default cipher list, which puts TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
 *     (0xC02F) first among the TLS 1.2 suites;
 *   - `python`: Python 3.10+'s cipher string (`ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:…:!SHA1`):
 *     0xC02C, 0xC030, 0xC02B first and no SHA-1 CBC suites at all;
 *   - `curl`: OpenSSL's default order (0xC02C, 0xC030, 0x009F first) with an ALPN that
 *     includes `http/1.1` (curl always sends ALPN; `openssl s_client` does not);
 *   - `openssl`: OpenSSL's default order without ALPN (`openssl s_client`, wget built on
 *     OpenSSL and other clients that keep OpenSSL's defaults).
 */
export function guessClient(message: TlsClientHelloMessage): string | null {
  const { getExtensionData, isGREASE } = rtch;
  const extensionIds = message.extensions.map((e) => e.id);
  const grease = message.cipherSuites.some(isGREASE) || extensionIds.some((id) => isGREASE(id));
  const alpn = getExtensionData(message, 0x0010)?.protocols ?? [];
  if (grease) {
    const alps = extensionIds.includes(17513) || extensionIds.includes(17613);
    const brotli = getExtensionData(message, 0x001b)?.algorithms?.includes(2) ?? false;
    if (alps || brotli) return 'chromium';
    if (alpn[0] === 'h2') return 'safari';
    return null;
  }
  if (extensionIds.includes(28) && extensionIds.includes(34)) return 'firefox';
  if (!message.cipherSuites.includes(0x00ff)) return null;
  // The first TLS 1.2 suites (after the TLS 1.3 ones) are where OpenSSL users' defaults differ.
  const tls12 = message.cipherSuites.filter((c) => c >> 8 !== 0x13 && c !== 0x00ff);
  const startsWith = (...ids: number[]): boolean => ids.every((id, i) => tls12[i] === id);
  const sha1Cbc = [0xc009, 0xc00a, 0xc013, 0xc014];
  if (startsWith(0xc02f)) return 'node';
  if (startsWith(0xc02c, 0xc030, 0xc02b) && !tls12.some((c) => sha1Cbc.includes(c))) {
    return 'python';
  }
  if (startsWith(0xc02c, 0xc030, 0x009f)) {
    if (alpn.includes('http/1.1')) return 'curl';
    if (alpn.length === 0) return 'openssl';
  }
  return null;
}
