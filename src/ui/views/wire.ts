// View 1, Wire: what an eavesdropper on the client's path sees of this flow. For plain HTTP,
// the readable bytes themselves with the secrets marked; for TLS, the metadata TLS leaves
// visible (destination, SNI, ALPN, versions, cipher suites, record sizes and timing, the TLS
// 1.2 certificate) and a hex/ASCII dump of the ciphertext. Built from the connection's wire
// capture, i.e. what really crossed, not a reconstruction.
import type { ExplainContext } from '../../explain/index.ts';
import type { CertSummary, TlsRecord, WireBytes } from '../../events/types.ts';
import type { Flow } from '../../store/index.ts';
import { markSecrets } from '../redact.ts';
import { bold, bytes, dim, esc, field, ms, printable, tag } from '../text.ts';
import { headEnd, OPCODE_NAMES, parseWsFrames } from './ws-frames.ts';

/** Bytes of ciphertext shown per direction: enough to see it is noise, bounded for speed. */
const HEX_BYTES = 256;
/** Records listed before "… and N more". */
const MAX_RECORDS_SHOWN = 60;

export interface ViewContext {
  redact: boolean;
  width: number;
  /** What the composition root knows beyond the events (the lab's hosts), for the Why view. */
  explain?: ExplainContext;
}

export function wireView(flow: Flow, ctx: ViewContext): string[] {
  const tls = flow.badge !== 'HTTP plaintext';
  return tls ? tlsWire(flow, ctx) : httpWire(flow, ctx);
}

function decode(b: WireBytes): Buffer {
  return b.bytes;
}

/**
 * The readable text of one direction, secrets marked, as lines. A kept-alive connection's
 * capture is up to the store's limit (tens of KiB) and the newest flow is redrawn every frame
 * while traffic flows, so the result is kept per buffer: the store hands out the same buffer
 * while its bytes do not change (and never alters bytes it kept), so same buffer, same length
 * and same redaction give the same lines.
 */
const readableCache = new WeakMap<Buffer, { len: number; redact: boolean; lines: string[] }>();
function readableLines(b: WireBytes, redact: boolean): string[] {
  const buf = decode(b);
  const hit = readableCache.get(buf);
  if (hit && hit.len === buf.length && hit.redact === redact) return hit.lines;
  const text = printable(buf.toString('latin1').replace(/\r\n/g, '\n'));
  const lines = markSecrets(text, redact).split('\n');
  readableCache.set(buf, { len: buf.length, redact, lines });
  return lines;
}

function httpWire(flow: Flow, ctx: ViewContext): string[] {
  const c = flow.conn;
  const out: string[] = [
    bold('WIRE') + ' - what anyone on the path reads: plain HTTP, nothing is encrypted',
    field('from', esc(`${c.clientAddress ?? '?'}:${c.clientPort ?? '?'}`)) +
      '  ->  ' +
      esc(`${flow.host}:${flow.port ?? 80}`),
  ];
  // c.wire: the capture so far while the connection is open (conn.wire), the final one after.
  const wire = c.wire ?? c.closed?.wire;
  if (!wire) {
    out.push(
      dim('The connection is open and nothing was captured yet (updates every 0.5 s).'),
      dim('Meanwhile, the request as the proxy parsed it (the same text crossed the wire):'),
      '',
    );
    const r = flow.request;
    if (r) {
      const head = [
        `${r.method} ${r.path} HTTP/${r.httpVersion}`,
        ...r.headers.map(([n, v]) => `${n}: ${v}`),
      ].join('\n');
      const body = 'text' in r.body ? r.body.text : `(${bytes(r.body.size)} of binary)`;
      out.push(...markSecrets(`${head}\n\n${body}`, ctx.redact).split('\n'));
    }
    if (flow.ws.length) {
      out.push(
        '',
        tag('cyan-fg', `--- WebSocket messages, readable on the wire: ${flow.ws.length} ---`),
      );
      for (const m of flow.ws) {
        const arrow = m.direction === 'client-to-server' ? '->' : '<-';
        const text =
          m.preview !== null
            ? markSecrets(printable(m.preview), ctx.redact)
            : dim(`binary, ${bytes(m.size)}`);
        out.push(`${arrow} ${text}`);
      }
    }
    return out;
  }
  if (c.flowCount > 1)
    out.push(
      dim(
        `This connection carried ${c.flowCount} requests (keep-alive): below, in the order they crossed.`,
      ),
    );
  if (!c.closed) out.push(dim('Still open: the capture so far, growing as bytes cross.'));
  out.push(
    '',
    tag(
      'cyan-fg',
      `--- client -> server: ${bytes(wire.up.size)}${wire.up.truncated ? ' (capture cut)' : ''} ---`,
    ),
  );
  const websocket = isWebSocket(flow);
  out.push(...(websocket ? wsLines(wire.up, 'client', ctx) : readableLines(wire.up, ctx.redact)));
  out.push(
    '',
    tag(
      'cyan-fg',
      `--- server -> client: ${bytes(wire.down.size)}${wire.down.truncated ? ' (capture cut)' : ''} ---`,
    ),
  );
  out.push(
    ...(websocket ? wsLines(wire.down, 'server', ctx) : readableLines(wire.down, ctx.redact)),
  );
  return out;
}

/** A WebSocket upgrade (its messages were seen, or the request asked for one). */
function isWebSocket(flow: Flow): boolean {
  if (flow.ws.length > 0) return true;
  return (flow.request?.headers ?? []).some(
    ([n, v]) => n.toLowerCase() === 'upgrade' && v.toLowerCase() === 'websocket',
  );
}

/** Most frames shown per direction (a chat has few; a stream would fill the screen). */
const MAX_FRAMES_SHOWN = 20;

const hex = (b: Buffer, max = 24): string =>
  [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, '0')).join(' ') +
  (b.length > max ? ' ..' : '');

/**
 * One direction of a WebSocket connection: the HTTP upgrade as text, then each frame as it
 * crossed. A client's frames are masked: the key is in the frame, so the unmasked payload is
 * shown beside the bytes, as readable by anyone on the path.
 */
function wsLines(b: WireBytes, from: 'client' | 'server', ctx: ViewContext): string[] {
  const buf = decode(b);
  // The heads before the frames (a CONNECT and its answer first, when the client tunnelled):
  // the frames start after the upgrade's own head.
  let end = -1;
  for (let pos = 0; ;) {
    const next = headEnd(buf.subarray(pos));
    if (next < 0) break;
    const head = buf.subarray(pos, pos + next).toString('latin1');
    pos += next;
    if (/^upgrade:\s*websocket/im.test(head) || /^HTTP\/1\.1 101 /.test(head)) {
      end = pos;
      break;
    }
  }
  if (end < 0) return readableLines(b, ctx.redact);
  const out = markSecrets(
    printable(buf.subarray(0, end).toString('latin1').replace(/\r\n/g, '\n')),
    ctx.redact,
  )
    .split('\n')
    .filter((l, i, all) => i < all.length - 1 || l !== '');
  const frames = parseWsFrames(buf.subarray(end), MAX_FRAMES_SHOWN);
  if (frames.length === 0) return out;
  out.push(
    '',
    from === 'client'
      ? tag('yellow-fg', bold('WebSocket frames, masked - NOT encrypted'))
      : tag('yellow-fg', bold('WebSocket frames, not masked - readable as they are')),
  );
  if (from === 'client')
    out.push(
      dim(
        'Masking (RFC 6455 5.3) is not encryption: the 4-byte key travels in each frame header, so anyone on the path unmasks it. It only keeps caches in between from mistaking frames for HTTP.',
      ),
    );
  for (const f of frames) {
    const name = OPCODE_NAMES[f.opcode] ?? `opcode ${f.opcode}`;
    const cut = f.onWire.length < f.declared ? ` (capture has ${f.onWire.length})` : '';
    out.push(
      `  ${name} frame, ${f.declared} byte${f.declared === 1 ? '' : 's'}${cut}${f.mask ? `, key ${hex(f.mask)}` : ''}`,
    );
    if (f.mask) out.push(`    ${dim('on the wire')}  ${esc(hex(f.onWire))}`);
    const text =
      f.opcode === 1 || (f.opcode === 0 && f.payload.every((x) => x >= 0x20 || x === 0x0a))
        ? markSecrets(printable(f.payload.toString('utf8')), ctx.redact)
        : dim(esc(hex(f.payload)));
    out.push(
      `    ${dim(f.mask ? 'unmasked   ' : 'payload    ')}  ${text}  ${tag('red-fg', 'readable by anyone on the path')}`,
    );
  }
  return out;
}

function tlsWire(flow: Flow, ctx: ViewContext): string[] {
  const c = flow.conn;
  const h = c.hello;
  const wire = c.wire ?? c.closed?.wire ?? null;
  const out: string[] = [
    bold('WIRE') + ' - what an eavesdropper sees: metadata and ciphertext, never the content',
    field('destination', esc(`${flow.host}:${flow.port ?? h?.port ?? 443}`)) +
      dim(`   (client ${c.clientAddress ?? '?'}:${c.clientPort ?? '?'})`),
  ];
  if (h) {
    out.push(
      field(
        'SNI',
        h.sni
          ? tag('yellow-fg', esc(h.sni)) + dim('   sent in clear in the ClientHello')
          : dim('none sent'),
      ),
      field(
        'ALPN offered',
        esc(h.alpn.join(', ') || 'none') +
          (c.accepted?.alpn ? `   chosen ${esc(c.accepted.alpn)}` : ''),
      ),
      field(
        'versions',
        `offered ${esc(h.versions.join(', ') || '?')}   chosen ${esc(chosenVersion(flow) ?? 'not seen')}`,
      ),
      field(
        'cipher',
        // What crossed the wire (the ServerHello) first; the proxy's own record otherwise.
        (wire?.cipherSuite ?? c.tunnel?.cipherSuite ?? c.accepted?.cipher)
          ? `chosen ${esc(wire?.cipherSuite ?? c.tunnel?.cipherSuite ?? c.accepted?.cipher ?? '')}`
          : dim('chosen: not recorded'),
      ),
      field(
        'key exchange',
        (wire?.keyExchangeGroup ?? c.tunnel?.keyExchangeGroup)
          ? `${esc(wire?.keyExchangeGroup ?? c.tunnel?.keyExchangeGroup ?? '')}` +
              dim('   ephemeral (EC)DH: the session key never crosses the wire')
          : dim('not seen (no ServerHello yet, or RSA key transport)'),
      ),
      field(
        '',
        dim(
          esc(
            `offered ${h.cipherSuites.length}: ${h.cipherSuites.slice(0, 6).join(', ')}${h.cipherSuites.length > 6 ? ', ...' : ''}`,
          ),
        ),
      ),
      field(
        'client',
        esc(h.clientHint ? `${h.clientHint} (guessed from the ClientHello)` : 'not recognised'),
      ),
      field('JA3 / JA4', dim(esc(`${shortHash(h.ja3)}  ${h.ja4}`))),
    );
  } else {
    out.push(dim('No ClientHello recorded for this connection.'));
  }
  if (c.tunnel) {
    out.push(
      field(
        'bytes',
        `${bytes(c.tunnel.bytesUp)} up, ${bytes(c.tunnel.bytesDown)} down in ${ms(c.tunnel.durationMs)}, ${c.tunnel.recordCount} records`,
      ),
    );
  }
  if (!wire) {
    out.push('', dim('The connection is open and nothing was captured yet (updates every 0.5 s).'));
    return out;
  }
  out.push(
    '',
    bold(`TLS records`) +
      dim(
        `  (${wire.records.length}${wire.recordsTruncated ? '+' : ''}: sizes and timing are visible to anyone)`,
      ),
  );
  for (const r of wire.records.slice(0, MAX_RECORDS_SHOWN)) out.push(recordLine(r));
  if (wire.records.length > MAX_RECORDS_SHOWN)
    out.push(dim(`  ... and ${wire.records.length - MAX_RECORDS_SHOWN} more`));
  out.push('');
  const certs: CertSummary[] | null =
    wire.serverCertificates ?? c.tunnel?.serverCertificates ?? null;
  if (certs && certs.length) {
    out.push(
      bold('Server certificate, in clear') +
        dim(' (TLS 1.2 sends it unencrypted: anyone on the path reads this)'),
    );
    for (const cert of certs) {
      out.push(
        field('  subject', esc(cert.subject)),
        field('  issuer', esc(cert.issuer)),
        field('  SANs', esc(cert.sans.join(', ') || '-')),
        field('  SHA-256', esc(cert.sha256)),
      );
    }
  } else if ((wire.tlsVersion ?? chosenVersion(flow) ?? '').includes('1.3')) {
    out.push(
      dim('TLS 1.3: the server certificate is encrypted; an eavesdropper sees only its size.'),
    );
  }
  out.push('', bold('Ciphertext') + dim(` (first ${HEX_BYTES} bytes each way)`));
  out.push(tag('cyan-fg', `client -> server, ${bytes(wire.up.size)}`));
  out.push(...hexDump(decode(wire.up).subarray(0, HEX_BYTES)));
  out.push(tag('cyan-fg', `server -> client, ${bytes(wire.down.size)}`));
  out.push(...hexDump(decode(wire.down).subarray(0, HEX_BYTES)));
  void ctx;
  return out;
}

function chosenVersion(flow: Flow): string | null {
  const c = flow.conn;
  return c.accepted?.protocol ?? c.tunnel?.tlsVersion ?? c.wire?.tlsVersion ?? null;
}

function shortHash(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function recordLine(r: TlsRecord): string {
  const arrow = r.dir === 'up' ? '->' : '<-';
  const what = r.alert
    ? tag('red-fg', esc(`alert ${r.alert.level} ${r.alert.code} ${r.alert.name}`))
    : r.handshake?.length
      ? esc(r.handshake.join(', '))
      : r.contentType === 'application_data'
        ? dim('encrypted')
        : '';
  return `  ${arrow} ${ms(r.t).padStart(9)}  ${esc(r.contentType.padEnd(18))} ${String(r.length).padStart(6)} B  ${what}`;
}

/** Classic hex/ASCII dump, 16 bytes a row. */
export function hexDump(buf: Buffer): string[] {
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i += 16) {
    const row = buf.subarray(i, i + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row]
      .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'))
      .join('');
    lines.push(`  ${dim(i.toString(16).padStart(4, '0'))}  ${hex.padEnd(47)}  ${esc(ascii)}`);
  }
  if (lines.length === 0) lines.push(dim('  (no bytes)'));
  return lines;
}
