// View 2, Decrypted: what the man in the middle reads. For HTTP flows, the request and the
// response (headers, bodies, JSON and forms pretty-printed) and any WebSocket messages; for
// refused and tunnelled connections, the honest answer: nothing, the proxy never held the keys.
// A WebSocket upgrade shows as the two handshakes it was, one per leg, each with its own key.
import { createHash } from 'node:crypto';
import type { Header, TamperMark, WsHandshakeEvent as WsHandshake } from '../../events/types.ts';
import type { Flow, StoredBody } from '../../store/index.ts';
import { isSecretField, isSecretHeader, markSecrets, mask } from '../redact.ts';
import { bold, bytes, dim, esc, tag } from '../text.ts';
import { hexDump, type ViewContext } from './wire.ts';

/** Bytes of a binary body shown as hex: enough to recognise a format (PNG, gzip…). */
const BINARY_PREVIEW_BYTES = 128;
/** Body lines shown; the rest is one key away in a real tool, here a bounded screen. */
const MAX_BODY_LINES = 400;

export function decryptedView(flow: Flow, ctx: ViewContext): string[] {
  if (flow.kind === 'tls') {
    const why =
      flow.badge === 'HTTPS refused'
        ? 'The client refused the forged certificate and hung up before sending any request.'
        : 'The proxy passed the encrypted bytes through without terminating TLS.';
    const out = [
      bold('DECRYPTED') + ' - what the man in the middle reads',
      '',
      tag('green-fg', bold('Nothing: the proxy never held the keys.')),
      esc(why),
      dim('The session keys exist only at the two ends; the Wire view shows all the proxy saw.'),
    ];
    if (flow.upstreamError) {
      out.push(
        '',
        tag('red-fg', esc(`Upstream: ${flow.upstreamError.code} ${flow.upstreamError.message}`)),
      );
    }
    return out;
  }
  const out: string[] = [
    bold('DECRYPTED') +
      (flow.visibility === 'wire'
        ? ' - plain HTTP: this was never encrypted; everyone on the path read the same'
        : ' - HTTPS, decrypted by the proxy (the client trusted its CA)'),
  ];
  if (flow.wsHandshake && flow.request && flow.response) {
    out.push(...webSocketLegs(flow, flow.wsHandshake, ctx.redact));
    out.push(...wsMessageLines(flow, ctx.redact));
    return out;
  }
  const r = flow.request;
  if (r) {
    // The URL's query string may carry a token: marked like everything else.
    out.push(
      '',
      tag('cyan-fg', bold(`${esc(r.method)} ${markSecrets(r.url, ctx.redact)}`)) +
        dim(` HTTP/${r.httpVersion}`),
    );
    out.push(...headerLines(r.headers, ctx.redact));
    out.push(
      ...(r.tampered
        ? tamperedLines(r.tampered, contentType(r.headers), ctx.redact, 'the client', 'the server')
        : bodyLines(r.body, contentType(r.headers), ctx.redact)),
    );
  } else {
    out.push('', dim('(the request was not seen)'));
  }
  const res = flow.response;
  if (res) {
    out.push(
      '',
      tag('cyan-fg', bold(esc(`${res.status} ${res.statusMessage}`))) +
        dim(` HTTP/${res.httpVersion}`),
    );
    if (res.incomplete) {
      out.push(
        tag('red-fg', bold(esc(`Cut upstream: ${res.incomplete.code} ${res.incomplete.message}`))),
        dim(
          'The server stopped mid-body; the client got the response cut too. Below: what arrived.',
        ),
      );
    }
    out.push(...headerLines(res.headers, ctx.redact));
    out.push(
      ...(res.tampered
        ? tamperedLines(
            res.tampered,
            contentType(res.headers),
            ctx.redact,
            'the server',
            'the client',
          )
        : bodyLines(res.body, contentType(res.headers), ctx.redact)),
    );
  } else if (flow.upstreamError) {
    const e = flow.upstreamError;
    out.push(
      '',
      tag('red-fg', bold(esc(`No response from ${e.host}: ${e.code}`))),
      esc(e.message),
      dim(
        esc(
          `mitm-lab answered the client ${e.status ?? '(the client was gone)'} itself; see the Why view.`,
        ),
      ),
    );
  } else {
    out.push('', dim('(waiting for the response)'));
  }
  out.push(...wsMessageLines(flow, ctx.redact));
  return out;
}

function wsMessageLines(flow: Flow, redact: boolean): string[] {
  if (!flow.ws.length) return [];
  const out = [
    '',
    bold(
      `WebSocket messages (${flow.ws.length}${flow.wsDropped ? `, ${flow.wsDropped} older dropped` : ''})`,
    ),
  ];
  for (const m of flow.ws) {
    const arrow = m.direction === 'client-to-server' ? '->' : '<-';
    const text =
      m.kind === 'text' && m.preview !== null
        ? markSecrets(m.preview, redact)
        : dim(`binary, ${bytes(m.size)}`);
    out.push(`  ${arrow} ${text}${m.truncated ? dim(' (cut)') : ''}`);
  }
  return out;
}

/**
 * A WebSocket upgrade as the two handshakes it really was: the client's with the proxy, the
 * proxy's with the server. Each leg's Accept is checked against that leg's key (RFC 6455
 * §4.2.2: base64 of the SHA-1 of the key and a fixed GUID), so the pairing is visible.
 */
function webSocketLegs(flow: Flow, hs: WsHandshake, redact: boolean): string[] {
  const req = flow.request!;
  const res = flow.response!;
  const clientKey = headerValue(req.headers, 'sec-websocket-key');
  const proxyKey = headerValue(hs.toServerHeaders, 'sec-websocket-key');
  const out = [
    '',
    bold('WebSocket: two handshakes, one on each leg'),
    dim('The proxy is a server to the client and a client to the server, so each leg has its own'),
    dim('Sec-WebSocket-Key, and its own Sec-WebSocket-Accept computed from that key.'),
  ];
  if (clientKey !== null && proxyKey !== null && clientKey !== proxyKey)
    out.push(dim('The two keys differ: two separate handshakes, not one relayed.'));
  out.push(
    '',
    tag('cyan-fg', bold('Leg 1: client <-> proxy')),
    tag('cyan-fg', bold(`${esc(req.method)} ${markSecrets(req.url, redact)}`)) +
      dim(` HTTP/${req.httpVersion}  (the client's request)`),
    ...headerLines(req.headers, redact),
    tag('cyan-fg', bold('101 Switching Protocols')) + dim(" HTTP/1.1  (the proxy's answer)"),
    ...headerLines(hs.toClientHeaders, redact),
    ...acceptCheck(clientKey, headerValue(hs.toClientHeaders, 'sec-websocket-accept')),
    '',
    tag('cyan-fg', bold('Leg 2: proxy <-> server')),
    tag('cyan-fg', bold(`GET ${markSecrets(hs.toServerPath, redact)}`)) +
      dim(" HTTP/1.1  (the proxy's own request)"),
    ...headerLines(hs.toServerHeaders, redact),
    tag('cyan-fg', bold(esc(`${res.status} ${res.statusMessage}`))) +
      dim(` HTTP/${res.httpVersion}  (the server's answer)`),
    ...headerLines(res.headers, redact),
    ...acceptCheck(proxyKey, headerValue(res.headers, 'sec-websocket-accept')),
  );
  return out;
}

/** RFC 6455 §1.3: the GUID every server appends to the client's key before hashing. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function acceptCheck(key: string | null, accept: string | null): string[] {
  if (key === null || accept === null) return [];
  const expected = createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
  const sum = `base64(SHA-1(${key} + ${WS_GUID})) = ${expected}`;
  return expected === accept
    ? [dim(`  Accept check: ${esc(sum)}: matches this leg's key`)]
    : [tag('red-fg', `  Accept check: ${esc(sum)}: does NOT match this leg's key`)];
}

function headerValue(headers: readonly Header[], name: string): string | null {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1] ?? null;
}

function contentType(headers: Header[]): string {
  return headers.find(([n]) => n.toLowerCase() === 'content-type')?.[1].toLowerCase() ?? '';
}

function headerLines(headers: Header[], redact: boolean): string[] {
  return headers.map(([name, value]) => {
    const secret = isSecretHeader(name);
    const shown = secret
      ? redact
        ? `{black-fg}{yellow-bg}${esc(mask(value))}{/yellow-bg}{/black-fg}`
        : `{white-fg}{red-bg}${esc(value)}{/red-bg}{/white-fg}`
      : markSecrets(value, redact);
    return `  ${dim(esc(name))}: ${shown}`;
  });
}

/**
 * A body `--tamper` changed: the original as its sender sent it, then what the receiver got
 * instead, each line that differs marked `>>` (the headers above are the sender's; the
 * receiver's differ only in Content-Length).
 */
function tamperedLines(
  mark: TamperMark,
  type: string,
  redact: boolean,
  sender: string,
  receiver: string,
): string[] {
  const before = bodyLines(mark.before, type, redact);
  const after = bodyLines(mark.after, type, redact);
  const seen = new Set(before);
  return [
    '',
    `{black-fg}{yellow-bg}${bold(' TAMPERED ')}{/yellow-bg}{/black-fg} ` +
      tag('yellow-fg', esc(`the proxy changed this body (rules: ${mark.rules.join(', ')})`)),
    dim(esc(`As ${sender} sent it${mark.encoding ? ` (decoded from ${mark.encoding})` : ''}:`)),
    ...before.slice(1),
    '',
    tag('yellow-fg', bold(esc(`What ${receiver} received instead`))) +
      dim(' (>> marks what changed):'),
    ...after
      .slice(1)
      .map((l) =>
        l.startsWith('  ') && !seen.has(l) ? `${tag('yellow-fg', '>>')}${l.slice(2)}` : l,
      ),
  ];
}

function bodyLines(body: StoredBody, type: string, redact: boolean): string[] {
  if (body.size === 0 && !('text' in body && body.text)) return [];
  const out: string[] = [''];
  if ('bytes' in body) {
    out.push(dim(`  (binary body, ${bytes(body.size)}; the first bytes:)`));
    out.push(...hexDump(body.bytes.subarray(0, BINARY_PREVIEW_BYTES)));
  } else {
    const pretty = prettyBody(body.text, type, redact);
    const lines = pretty.split('\n');
    out.push(...lines.slice(0, MAX_BODY_LINES).map((l) => `  ${l}`));
    if (lines.length > MAX_BODY_LINES)
      out.push(dim(`  ... ${lines.length - MAX_BODY_LINES} more lines`));
  }
  if (body.truncated)
    out.push(
      tag('yellow-fg', `  [truncated: body was ${bytes(body.size)}, only the start was kept]`),
    );
  return out;
}

/** JSON indented, forms one field a line (secret fields marked); anything else as text. */
function prettyBody(text: string, type: string, redact: boolean): string {
  const trimmed = text.trim();
  if (type.includes('json') || /^[[{]/.test(trimmed)) {
    try {
      return markSecrets(JSON.stringify(JSON.parse(trimmed), null, 2), redact);
    } catch {
      // Not valid JSON after all (or cut short): show it as text below.
    }
  }
  if (
    type.includes('x-www-form-urlencoded') ||
    /^[\w.%-]+=[^\s]*(&[\w.%-]+=[^\s]*)*$/.test(trimmed)
  ) {
    const params = new URLSearchParams(trimmed);
    const lines: string[] = [];
    for (const [k, v] of params) {
      const value = isSecretField(k)
        ? redact
          ? `{black-fg}{yellow-bg}${esc(mask(v))}{/yellow-bg}{/black-fg}`
          : `{white-fg}{red-bg}${esc(v)}{/red-bg}{/white-fg}`
        : esc(v);
      lines.push(`${dim(esc(k))} = ${value}`);
    }
    if (lines.length) return lines.join('\n');
  }
  return markSecrets(text, redact);
}
