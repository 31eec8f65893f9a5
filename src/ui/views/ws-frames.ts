// WebSocket frames read back from the captured wire bytes (RFC 6455 §5.2), for the Wire view:
// a client's frames are masked (§5.3) with a 4-byte key that travels in the frame itself, so
// masking hides nothing from anyone on the path — it only keeps a browser's frames from being
// mistaken for another protocol by caches in between. The view shows the masked bytes as they
// crossed, the key, and the payload unmasked, as any observer can.

export interface WsFrame {
  fin: boolean;
  /** 1 text, 2 binary, 8 close, 9 ping, 10 pong, 0 continuation. */
  opcode: number;
  /** The masking key as it crossed, or null (server frames are never masked). */
  mask: Buffer | null;
  /** The payload bytes as they crossed (masked for a client's frame). */
  onWire: Buffer;
  /** The payload after unmasking: what the application sent. */
  payload: Buffer;
  /** The frame's full length declared, when the capture holds only part of it. */
  declared: number;
}

export const OPCODE_NAMES: Record<number, string> = {
  0: 'continuation',
  1: 'text',
  2: 'binary',
  8: 'close',
  9: 'ping',
  10: 'pong',
};

/** Frames in `buf` (stops at the first incomplete header; a cut payload is kept as far as it goes). */
export function parseWsFrames(buf: Buffer, max = 50): WsFrame[] {
  const out: WsFrame[] = [];
  let i = 0;
  while (i + 2 <= buf.length && out.length < max) {
    const b0 = buf[i]!;
    const b1 = buf[i + 1]!;
    let len = b1 & 0x7f;
    let p = i + 2;
    if (len === 126) {
      if (p + 2 > buf.length) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > buf.length) break;
      const big = buf.readBigUInt64BE(p);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) break;
      len = Number(big);
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked && p + 4 > buf.length) break;
    const mask = masked ? buf.subarray(p, p + 4) : null;
    if (masked) p += 4;
    const onWire = buf.subarray(p, Math.min(buf.length, p + len));
    const payload = Buffer.from(onWire);
    if (mask) for (let k = 0; k < payload.length; k++) payload[k]! ^= mask[k % 4]!;
    out.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, mask, onWire, payload, declared: len });
    i = p + len;
  }
  return out;
}

/** Where the HTTP head ends (after its blank line) in `buf`, or -1. */
export function headEnd(buf: Buffer): number {
  const at = buf.indexOf('\r\n\r\n');
  return at < 0 ? -1 : at + 4;
}
