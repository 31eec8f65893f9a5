// `--pcap FILE`: both legs of every connection, as Wireshark and tshark open a real capture —
// pcapng with a synthetic Ethernet / IPv4-or-IPv6 / TCP framing of the bytes the proxy captured
// (the real addresses and ports, consistent sequence numbers, a three-way handshake and FINs,
// the capture's timestamps). Two interfaces: 0 is the client leg (client <-> mitm-lab, from
// `conn.close`), 1 the upstream leg (mitm-lab <-> servers, from `upstream.wire`: the engine
// sends those only when this sink is on). Client-leg TLS records are written in the order and at
// the times they crossed (from the record list); upstream bytes at the time of each read and
// write. So with the `--keylog` file (it holds the secrets of both legs) tshark decrypts the
// intercepted connections on both legs (`tshark -r FILE -o tls.keylog_file:KEYS -Y http`);
// without it, only the records. Built from events alone: a client connection is written when
// it closes, followed by what its server connections carried; a server connection's end when
// it closes.
//
// Bounded like the wire capture it comes from: a connection whose capture was cut says so in
// a comment where it stops, and the file stops at `maxBytes` with a last comment saying so.
import fs from 'node:fs';
import net from 'node:net';
import type { EventBus } from '../events/bus.ts';
import type { ConnCloseEvent, ProxyEvent, UpstreamWireEvent } from '../events/types.ts';
import { LabError } from '../util/lab-error.ts';

/** Default bound of a pcap file: 256 MiB, as the events file. */
export const DEFAULT_PCAP_MAX_BYTES = 256 * 1024 * 1024;
/** Payload bytes per synthetic TCP segment: a typical Ethernet MSS. */
const MSS = 1460;
/** The file holds what crossed in clear (passwords too): owner only. */
const PCAP_FILE_MODE = 0o600;
/** Initial sequence numbers of the synthetic TCP connections (any fixed values do). */
const ISN_CLIENT = 1_000_000;
const ISN_SERVER = 5_000_000;
/** The pcapng interfaces: one per leg. */
const IF_CLIENT_LEG = 0;
const IF_UPSTREAM_LEG = 1;
/** The last byte of the synthetic MAC addresses (02:00:00:00:00:0N, locally administered). */
const MAC_CLIENT = 1;
const MAC_PROXY = 2;
const MAC_SERVER = 3;

export interface PcapSink {
  /** Connections written so far (client connections, and server connections begun). */
  written(): number;
  close(): void;
}

interface Endpoint {
  ip: string;
  port: number;
}

interface Segment {
  fromClient: boolean;
  data: Buffer;
  /** Microseconds since the epoch. */
  us: bigint;
  comment?: string;
}

// ---- pcapng blocks (https://www.ietf.org/archive/id/draft-tuexen-opsawg-pcapng-05.html) ----

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function option(code: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(code, 0);
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([head, value, Buffer.alloc(pad4(value.length))]);
}

const END_OF_OPTIONS = Buffer.alloc(4);

function block(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(total, 4);
  body.copy(out, 8);
  out.writeUInt32LE(total, total - 4);
  return out;
}

function sectionHeader(comment: string): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(0x1a2b3c4d, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeUInt16LE(0, 6);
  fixed.writeBigInt64LE(-1n, 8); // section length not given
  return block(
    0x0a0d0d0a,
    Buffer.concat([
      fixed,
      option(1, Buffer.from(comment)),
      option(4, Buffer.from('mitm-lab')),
      END_OF_OPTIONS,
    ]),
  );
}

function interfaceDescription(name: string, description: string): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(1, 0); // LINKTYPE_ETHERNET
  fixed.writeUInt32LE(0, 4); // no snap length
  return block(
    0x00000001,
    Buffer.concat([
      fixed,
      option(2, Buffer.from(name)), // if_name
      option(3, Buffer.from(description)), // if_description
      END_OF_OPTIONS,
    ]),
  );
}

function enhancedPacket(iface: number, frame: Buffer, us: bigint, comment?: string): Buffer {
  const fixed = Buffer.alloc(20);
  fixed.writeUInt32LE(iface, 0);
  fixed.writeUInt32LE(Number(us >> 32n), 4);
  fixed.writeUInt32LE(Number(us & 0xffffffffn), 8);
  fixed.writeUInt32LE(frame.length, 12);
  fixed.writeUInt32LE(frame.length, 16);
  const opts = comment ? Buffer.concat([option(1, Buffer.from(comment)), END_OF_OPTIONS]) : null;
  return block(
    0x00000006,
    Buffer.concat([fixed, frame, Buffer.alloc(pad4(frame.length)), ...(opts ? [opts] : [])]),
  );
}

// ---- synthetic Ethernet / IP / TCP ----

function checksum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand `::`.
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;

function tcpFrame(
  src: Endpoint,
  dst: Endpoint,
  seq: number,
  ack: number,
  flags: number,
  data: Buffer,
  ipId: number,
): Buffer {
  const v6 = !net.isIPv4(src.ip);
  const tcp = Buffer.alloc(20 + data.length);
  tcp.writeUInt16BE(src.port, 0);
  tcp.writeUInt16BE(dst.port, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(flags & ACK ? ack >>> 0 : 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  data.copy(tcp, 20);
  const s = ipBytes(src.ip);
  const d = ipBytes(dst.ip);
  // The TCP checksum covers a pseudo-header of the addresses, protocol and length.
  const pseudo = v6
    ? Buffer.concat([s, d, Buffer.from([0, 0, tcp.length >> 8, tcp.length & 0xff, 0, 0, 0, 6])])
    : Buffer.concat([s, d, Buffer.from([0, 6, tcp.length >> 8, tcp.length & 0xff])]);
  tcp.writeUInt16BE(checksum(Buffer.concat([pseudo, tcp])), 16);
  let ip: Buffer;
  if (v6) {
    ip = Buffer.alloc(40);
    ip.writeUInt32BE(0x60000000, 0);
    ip.writeUInt16BE(tcp.length, 4);
    ip[6] = 6;
    ip[7] = 64;
    s.copy(ip, 8);
    d.copy(ip, 24);
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + tcp.length, 2);
    ip.writeUInt16BE(ipId & 0xffff, 4);
    ip.writeUInt16BE(0x4000, 6); // don't fragment
    ip[8] = 64;
    ip[9] = 6;
    s.copy(ip, 12);
    d.copy(ip, 16);
    ip.writeUInt16BE(checksum(ip), 10);
  }
  // The MAC addresses are set by the caller (which side sent it).
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  return Buffer.concat([eth, ip, tcp]);
}

/** `::ffff:127.0.0.1` is an IPv4 client: frame it as IPv4. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/** Where the TLS records start in one direction's bytes: after a CONNECT and its answer. */
function tlsStart(buf: Buffer, dir: 'up' | 'down'): number {
  const starts = dir === 'up' ? 'CONNECT ' : 'HTTP/1.';
  if (buf.subarray(0, starts.length).toString('latin1') !== starts) return 0;
  const end = buf.indexOf('\r\n\r\n');
  return end < 0 ? buf.length : end + 4;
}

/** The connection's bytes as segments in the order and at the times they crossed. */
export function connectionSegments(openedUs: bigint, close: ConnCloseEvent): Segment[] {
  const w = close.wire;
  const up = w.up.bytes;
  const down = w.down.bytes;
  const closedUs = BigInt(Date.parse(close.at)) * 1000n;
  const at = (ms: number): bigint => openedUs + BigInt(Math.round(ms * 1000));
  const out: Segment[] = [];
  const push = (fromClient: boolean, data: Buffer, us: bigint): void => {
    for (let i = 0; i < data.length; i += MSS)
      out.push({ fromClient, data: data.subarray(i, i + MSS), us });
  };
  if (w.records.length > 0) {
    const cur = { up: tlsStart(up, 'up'), down: tlsStart(down, 'down') };
    push(true, up.subarray(0, cur.up), at(0));
    push(false, down.subarray(0, cur.down), at(0.1));
    for (const r of w.records) {
      const buf = r.dir === 'up' ? up : down;
      const n = 5 + r.length;
      push(r.dir === 'up', buf.subarray(cur[r.dir], cur[r.dir] + n), at(r.t));
      cur[r.dir] += n;
    }
    // Past the record list (it is bounded too): the rest of each direction, at the close.
    push(true, up.subarray(Math.min(cur.up, up.length)), closedUs);
    push(false, down.subarray(Math.min(cur.down, down.length)), closedUs);
  } else {
    push(true, up, at(1));
    push(false, down, at(2));
  }
  const cut: string[] = [];
  if (w.up.truncated) cut.push(`client -> proxy: ${up.length} of ${w.up.size} bytes kept`);
  if (w.down.truncated) cut.push(`proxy -> client: ${down.length} of ${w.down.size} bytes kept`);
  if (w.recordsTruncated) cut.push('the TLS record list was cut (later records at the close time)');
  if (cut.length > 0) {
    const last = out[out.length - 1];
    const comment = `mitm-lab: the wire capture of ${close.connId} stops here (${cut.join('; ')}): later bytes were not recorded`;
    if (last) last.comment = comment;
  }
  return out.filter((s) => s.data.length > 0 || s.comment);
}

/**
 * One synthetic TCP connection on one interface: the handshake, data with running sequence
 * numbers (split at the MSS), FINs. Each call returns the pcapng blocks to write.
 */
class TcpStream {
  private cSeq = ISN_CLIENT;
  private sSeq = ISN_SERVER;
  private ipId = 1;

  constructor(
    private readonly iface: number,
    private readonly client: Endpoint & { mac: number },
    private readonly server: Endpoint & { mac: number },
  ) {}

  private packet(
    fromClient: boolean,
    flags: number,
    data: Buffer,
    us: bigint,
    comment?: string,
  ): Buffer {
    const [src, dst] = fromClient ? [this.client, this.server] : [this.server, this.client];
    const frame = tcpFrame(
      src,
      dst,
      fromClient ? this.cSeq : this.sSeq,
      fromClient ? this.sSeq : this.cSeq,
      flags,
      data,
      this.ipId++,
    );
    frame[0] = 2;
    frame[5] = dst.mac;
    frame[6] = 2;
    frame[11] = src.mac;
    const len = data.length + (flags & (SYN | FIN) ? 1 : 0);
    if (fromClient) this.cSeq += len;
    else this.sSeq += len;
    return enhancedPacket(this.iface, frame, us, comment);
  }

  open(us: bigint): Buffer[] {
    return [
      this.packet(true, SYN, Buffer.alloc(0), us),
      this.packet(false, SYN | ACK, Buffer.alloc(0), us),
      this.packet(true, ACK, Buffer.alloc(0), us),
    ];
  }

  /** Data one way, in MSS-sized segments; `comment` goes on the last one. */
  data(fromClient: boolean, data: Buffer, us: bigint, comment?: string): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < data.length; i += MSS) {
      const part = data.subarray(i, i + MSS);
      out.push(
        this.packet(fromClient, ACK | PSH, part, us, i + MSS >= data.length ? comment : undefined),
      );
    }
    return out;
  }

  close(us: bigint, comment?: string): Buffer[] {
    return [
      this.packet(true, FIN | ACK, Buffer.alloc(0), us, comment),
      this.packet(false, FIN | ACK, Buffer.alloc(0), us),
      this.packet(true, ACK, Buffer.alloc(0), us),
    ];
  }
}

/** The packets of one client connection: handshake, data with running sequence numbers, FINs. */
function connectionPackets(
  client: Endpoint,
  server: Endpoint,
  openedUs: bigint,
  close: ConnCloseEvent,
): Buffer[] {
  const tcp = new TcpStream(
    IF_CLIENT_LEG,
    { ...client, mac: MAC_CLIENT },
    { ...server, mac: MAC_PROXY },
  );
  const out = tcp.open(openedUs);
  let last = openedUs;
  for (const s of connectionSegments(openedUs, close)) {
    last = s.us > last ? s.us : last;
    out.push(...tcp.data(s.fromClient, s.data, last, s.comment));
  }
  const closedUs = BigInt(Date.parse(close.at)) * 1000n;
  out.push(...tcp.close(closedUs > last ? closedUs : last));
  return out;
}

/** An upstream connection being written: its stream, its last time, what it kept. */
interface UpstreamState {
  tcp: TcpStream;
  openedUs: bigint;
  last: bigint;
  kept: { up: number; down: number };
  cutNoted: boolean;
}

/** The packets of one `upstream.wire`: the handshake the first time, its chunks, FINs at the end. */
function upstreamPackets(
  e: UpstreamWireEvent,
  known: UpstreamState | undefined,
): {
  state: UpstreamState;
  packets: Buffer[];
} {
  const packets: Buffer[] = [];
  let state = known;
  if (!state) {
    const openedUs = BigInt(Date.parse(e.openedAt)) * 1000n;
    state = {
      tcp: new TcpStream(
        IF_UPSTREAM_LEG,
        { ip: plainIp(e.localAddress), port: e.localPort, mac: MAC_PROXY },
        { ip: plainIp(e.remoteAddress), port: e.remotePort, mac: MAC_SERVER },
      ),
      openedUs,
      last: openedUs,
      kept: { up: 0, down: 0 },
      cutNoted: false,
    };
    packets.push(...state.tcp.open(openedUs));
  }
  const st = state;
  const cut =
    e.truncated && !st.cutNoted
      ? `mitm-lab: the wire capture of upstream connection ${e.upstreamId} stops here (the capture limit was reached): later bytes were counted, not recorded`
      : undefined;
  e.chunks.forEach((c, i) => {
    const us = st.openedUs + BigInt(Math.round(c.t * 1000));
    st.last = us > st.last ? us : st.last;
    const data = c.bytes;
    st.kept[c.dir] += data.length;
    const comment = i === e.chunks.length - 1 ? cut : undefined;
    packets.push(...st.tcp.data(c.dir === 'up', data, st.last, comment));
  });
  const eventUs = BigInt(Date.parse(e.at)) * 1000n;
  if (cut && e.chunks.length === 0)
    packets.push(enhancedPacket(IF_UPSTREAM_LEG, Buffer.alloc(0), eventUs, cut));
  if (cut) st.cutNoted = true;
  if (e.closed) {
    const totals = e.truncated
      ? `mitm-lab: ${e.upstreamId} carried ${e.bytesUp} bytes to the server and ${e.bytesDown} back; the capture kept ${st.kept.up} and ${st.kept.down}`
      : undefined;
    packets.push(...st.tcp.close(eventUs > st.last ? eventUs : st.last, totals));
  }
  return { state: st, packets };
}

/** Start writing every closed connection to `file` (created 0600, replaced if it exists). */
export function openPcapSink(
  file: string,
  bus: EventBus,
  opts: { maxBytes?: number } = {},
): PcapSink {
  const maxBytes = opts.maxBytes ?? DEFAULT_PCAP_MAX_BYTES;
  const limitText =
    maxBytes % (1024 * 1024) === 0 ? `${maxBytes / 1024 / 1024} MiB` : `${maxBytes} bytes`;
  let fd: number;
  try {
    fd = fs.openSync(file, 'w', PCAP_FILE_MODE);
    fs.fchmodSync(fd, PCAP_FILE_MODE);
  } catch (err) {
    throw new LabError(
      'config',
      `cannot write the capture ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'give --pcap a writable file path (its folder must exist)',
    );
  }
  let size = 0;
  let full = false;
  let count = 0;
  const write = (b: Buffer): void => {
    fs.writeSync(fd, b);
    size += b.length;
  };
  write(
    sectionHeader(
      'mitm-lab: both legs of each connection, framed as TCP from the bytes the proxy captured: interface 0 the client leg (client <-> mitm-lab), interface 1 the upstream leg (mitm-lab <-> servers); see docs/sinks.md',
    ),
  );
  write(interfaceDescription('client-leg', 'mitm-lab client leg: client <-> mitm-lab'));
  write(interfaceDescription('upstream-leg', 'mitm-lab upstream leg: mitm-lab <-> servers'));
  let proxy: Endpoint = { ip: '127.0.0.1', port: 8080 };
  const opened = new Map<string, { client: Endpoint; us: bigint }>();
  const upstreams = new Map<string, UpstreamState>();
  /** Write `packets` unless the file would pass its bound (then say so, and stop). */
  const writeBounded = (packets: Buffer[], at: string): boolean => {
    const bytes = packets.reduce((n, p) => n + p.length, 0);
    if (maxBytes > 0 && size + bytes > maxBytes) {
      full = true;
      upstreams.clear();
      write(
        enhancedPacket(
          IF_CLIENT_LEG,
          Buffer.alloc(0),
          BigInt(Date.parse(at)) * 1000n,
          `mitm-lab: the capture stops here: the file reached its limit of ${limitText}; later connections were not written`,
        ),
      );
      return false;
    }
    for (const p of packets) write(p);
    return true;
  };
  const off = bus.on((e: ProxyEvent) => {
    if (full) return;
    switch (e.type) {
      case 'proxy.listening':
        proxy = {
          ip: plainIp(e.host === '0.0.0.0' ? '127.0.0.1' : e.host === '::' ? '::1' : e.host),
          port: e.port,
        };
        return;
      case 'conn.open':
        opened.set(e.connId, {
          client: { ip: plainIp(e.clientAddress), port: e.clientPort },
          us: BigInt(Date.parse(e.at)) * 1000n,
        });
        return;
      case 'conn.close': {
        const o = opened.get(e.connId);
        opened.delete(e.connId);
        if (!o) return;
        // One IP version per connection: an IPv4 client of an IPv6 listener is framed as IPv4.
        const v4 = net.isIPv4(o.client.ip);
        const server = {
          ip: v4 === net.isIPv4(proxy.ip) ? proxy.ip : v4 ? '127.0.0.1' : '::1',
          port: proxy.port,
        };
        if (writeBounded(connectionPackets(o.client, server, o.us, e), e.at)) count++;
        return;
      }
      case 'upstream.wire': {
        const known = upstreams.get(e.upstreamId);
        const { state, packets } = upstreamPackets(e, known);
        if (!writeBounded(packets, e.at)) return;
        if (!known) count++;
        if (e.closed) upstreams.delete(e.upstreamId);
        else upstreams.set(e.upstreamId, state);
        return;
      }
      default:
        return;
    }
  });
  return {
    written: () => count,
    close() {
      off();
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}
