// Read-only body capture: chunks are copied as they stream past (never buffered whole, never
// altered, so the framing the client sees is the server's), up to a limit, with a visible
// `truncated` flag. Text when the content type says so or the bytes are valid UTF-8.
import type { BodyCapture, Header } from '../events/types.ts';

const TEXT_TYPE_RE =
  /^(?:text\/|application\/(?:[a-z0-9.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded|graphql|yaml)\b|image\/svg\+xml)/i;

export class BodyCapturer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  /** Every byte seen, including those past the limit. */
  size = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.size += buf.length;
    const room = this.limit - this.kept;
    if (room <= 0) return;
    const part = buf.length > room ? buf.subarray(0, room) : buf;
    // Copy: the stream may reuse its buffer after the event.
    this.chunks.push(Buffer.from(part));
    this.kept += part.length;
  }

  /** The capture as an event field; `headers` decide text versus bytes. */
  result(headers: readonly Header[]): BodyCapture {
    const bytes = ownConcat(this.chunks, this.kept);
    const truncated = this.size > bytes.length;
    const type = headerValue(headers, 'content-type') ?? '';
    const encoding = headerValue(headers, 'content-encoding');
    const compressed = encoding !== null && !/^\s*identity\s*$/i.test(encoding);
    if (!compressed) {
      const text = decodeUtf8(bytes, truncated);
      if (text !== null && (TEXT_TYPE_RE.test(type) || type === '' || /charset=/i.test(type))) {
        return { text, size: this.size, truncated };
      }
    }
    return { bytes, size: this.size, truncated };
  }
}

/**
 * The chunks in one Buffer of its own. Not `Buffer.concat`: it carves a small result out of
 * Node's shared 8 KiB pool, and whoever keeps the event's bytes (the HAR recorder, the store's
 * queue) would keep the whole slab.
 */
function ownConcat(chunks: readonly Buffer[], length: number): Buffer {
  if (length === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const c of chunks) at += c.copy(out, at);
  return out;
}

/** The first value of a header (case-insensitive), or null. */
export function headerValue(headers: readonly Header[], name: string): string | null {
  const lower = name.toLowerCase();
  for (const [n, v] of headers) if (n.toLowerCase() === lower) return v;
  return null;
}

/** rawHeaders ([n, v, n, v…]) → pairs, original case, order and duplicates kept. */
export function headerPairs(raw: readonly string[]): Header[] {
  const out: Header[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8, or null. A cut capture may end inside a character: allow up to 3 bytes off. */
function decodeUtf8(bytes: Buffer, truncated: boolean): string | null {
  for (let cut = 0; cut <= (truncated ? 3 : 0) && cut <= bytes.length; cut++) {
    try {
      return decoder.decode(bytes.subarray(0, bytes.length - cut));
    } catch {
      // not valid at this cut; a truncated capture may have split a character
      continue;
    }
  }
  return null;
}
