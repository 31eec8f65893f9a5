// A passive TLS record parser: what an eavesdropper on the client's path can read, and nothing
// more. Each direction of a connection gets a TlsRecordStream; the two share a TlsSession so
// the client side knows what the ServerHello negotiated.
//
// Records split across TCP chunks, and handshake messages split across records, are both
// reassembled. Payloads are only kept while they are readable (handshake messages in clear,
// alerts); application data is counted and skipped without copying, so a long download costs
// almost nothing. What stays visible (RFC 8446 §2, RFC 5246 §7):
// - TLS 1.2: ClientHello, ServerHello, the server's Certificate chain, ServerKeyExchange,
//   ServerHelloDone, ClientKeyExchange, ChangeCipherSpec; after ChangeCipherSpec, the encrypted
//   Finished and application data (sizes only).
// - TLS 1.3: ClientHello, ServerHello (or HelloRetryRequest); everything after the ServerHello is
//   encrypted and typed application_data on the wire — the certificate is no longer visible.
// - Alerts sent before encryption starts (e.g. curl's `unknown_ca` when it refuses a forged
//   certificate, even under TLS 1.3, since the client has not switched keys yet).
import type { CertSummary, TlsRecord } from '../events/types.ts';
import { cipherSuiteName, groupName, tlsVersionName } from './client-hello.ts';
import { alertByCode } from './tls-alerts.ts';
import { nowMs } from './clock.ts';
import { describeCertificate } from '../ca/index.ts';

const CONTENT_TYPES: Readonly<Record<number, string>> = {
  20: 'change_cipher_spec',
  21: 'alert',
  22: 'handshake',
  23: 'application_data',
  24: 'heartbeat',
  25: 'tls12_cid',
};

/** Handshake message types (IANA TLS HandshakeType registry). */
const HANDSHAKE_TYPES: Readonly<Record<number, string>> = {
  0: 'HelloRequest',
  1: 'ClientHello',
  2: 'ServerHello',
  3: 'HelloVerifyRequest',
  4: 'NewSessionTicket',
  5: 'EndOfEarlyData',
  8: 'EncryptedExtensions',
  11: 'Certificate',
  12: 'ServerKeyExchange',
  13: 'CertificateRequest',
  14: 'ServerHelloDone',
  15: 'CertificateVerify',
  16: 'ClientKeyExchange',
  20: 'Finished',
  21: 'CertificateURL',
  22: 'CertificateStatus',
  24: 'KeyUpdate',
  25: 'CompressedCertificate',
  254: 'MessageHash',
};

const TLS13 = 0x0304;
/** Largest record payload a peer may send: 2^14 plus the TLS 1.2 expansion allowance (RFC 5246 §6.2.3). */
const MAX_RECORD_PAYLOAD = 16384 + 2048;
/** Handshake message bodies we keep to parse (a certificate chain is a few KiB; 256 KiB is generous). */
const MAX_KEPT_MESSAGE = 256 * 1024;
/** ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3). */
const HELLO_RETRY_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c',
  'hex',
);

/** What one connection's ServerHello (and friends) revealed; shared by both directions. */
export class TlsSession {
  /** Negotiated version id (supported_versions wins over legacy_version), or null before the ServerHello. */
  version: number | null = null;
  /** Negotiated cipher suite id, or null. */
  cipherSuite: number | null = null;
  /** Key exchange group id (TLS 1.3 key_share, TLS 1.2 ECDHE ServerKeyExchange), or null. */
  group: number | null = null;
  /** True when the server asked for a second ClientHello. */
  helloRetry = false;
  /** The server's chain as it crossed in clear (TLS ≤ 1.2), or null. */
  serverCertificates: CertSummary[] | null = null;
  /** Certificates that crossed but could not be parsed. */
  unparsedCertificates = 0;
}

interface OpenRecord {
  type: number;
  version: number;
  length: number;
  t: number;
  remaining: number;
  /** Collected payload when readable and wanted; null when skipped. */
  payload: Buffer[] | null;
}

interface OpenMessage {
  type: number;
  length: number;
  have: number;
  /** Collected body when we parse this type; null when only counted. */
  body: Buffer[] | null;
  /** Its name was already reported on a record. */
  named: boolean;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * A stateful parser for one direction of a TLS connection. Feed it the bytes in order with
 * `push`; it returns the records completed by that chunk. Bytes that are not TLS records stop
 * the parsing for good (`desynced`), rather than inventing records from garbage.
 */
export class TlsRecordStream {
  /** True once the stream stopped being parseable TLS. */
  desynced = false;
  private header = Buffer.alloc(5);
  private headerHave = 0;
  private headerT = 0;
  private record: OpenRecord | null = null;
  /** Reading handshake messages is over (ChangeCipherSpec under TLS ≤ 1.2, ServerHello under 1.3). */
  private encrypted = false;
  private encryptedHandshakeRecords = 0;
  private msgHeader = Buffer.alloc(4);
  private msgHeaderHave = 0;
  private message: OpenMessage | null = null;

  constructor(
    readonly dir: 'up' | 'down',
    private readonly t0: number,
    readonly session: TlsSession = new TlsSession(),
  ) {}

  /** The negotiated version as a passive observer can tell it (`TLS 1.3`), or null. */
  get tlsVersion(): string | null {
    return this.session.version === null ? null : tlsVersionName(this.session.version);
  }

  /** TLS ≤ 1.2: the server's certificate chain read off the wire; null for TLS 1.3 or none. */
  get serverCertificates(): CertSummary[] | null {
    return this.session.serverCertificates;
  }

  /** The cipher suite the ServerHello chose (IANA name), or null. */
  get cipherSuite(): string | null {
    return this.session.cipherSuite === null ? null : cipherSuiteName(this.session.cipherSuite);
  }

  /** The key-exchange group (e.g. `x25519`), or null when not visible. */
  get keyExchangeGroup(): string | null {
    return this.session.group === null ? null : groupName(this.session.group);
  }

  /** Parse a chunk; returns the records it completed, in order. Never throws on bad input. */
  push(chunk: Buffer, now: number = nowMs()): TlsRecord[] {
    const out: TlsRecord[] = [];
    let p = 0;
    while (p < chunk.length && !this.desynced) {
      if (this.record === null) {
        if (this.headerHave === 0) this.headerT = now;
        const take = Math.min(5 - this.headerHave, chunk.length - p);
        chunk.copy(this.header, this.headerHave, p, p + take);
        this.headerHave += take;
        p += take;
        if (this.headerHave < 5) break;
        this.headerHave = 0;
        if (!this.openRecord()) break;
        if (this.record !== null && (this.record as OpenRecord).remaining === 0) {
          out.push(this.closeRecord());
        }
        continue;
      }
      const rec: OpenRecord = this.record;
      const take = Math.min(rec.remaining, chunk.length - p);
      if (rec.payload) rec.payload.push(chunk.subarray(p, p + take));
      rec.remaining -= take;
      p += take;
      if (rec.remaining === 0) out.push(this.closeRecord());
    }
    return out;
  }

  /** Validate the header just read and start a record; false (and desynced) when not TLS. */
  private openRecord(): boolean {
    const type = this.header[0] ?? 0;
    const version = this.header.readUInt16BE(1);
    const length = this.header.readUInt16BE(3);
    if (version >> 8 !== 0x03 || (version & 0xff) > 0x04 || length > MAX_RECORD_PAYLOAD) {
      this.desynced = true;
      return false;
    }
    const readable =
      (type === 22 && !this.encrypted) || (type === 21 && length === 2) || type === 20;
    this.record = {
      type,
      version,
      length,
      t: this.headerT,
      remaining: length,
      payload: readable ? [] : null,
    };
    return true;
  }

  private closeRecord(): TlsRecord {
    const rec = this.record as OpenRecord;
    this.record = null;
    const out: TlsRecord = {
      dir: this.dir,
      t: round2(rec.t - this.t0),
      contentType: CONTENT_TYPES[rec.type] ?? `unknown(${rec.type})`,
      version: tlsVersionName(rec.version),
      length: rec.length,
    };
    const payload = rec.payload ? Buffer.concat(rec.payload, rec.length) : null;
    if (rec.type === 22) {
      if (payload) {
        out.handshake = this.readHandshake(payload);
      } else {
        // TLS 1.2: the first handshake record after ChangeCipherSpec is, by protocol, Finished.
        out.handshake = [
          this.encryptedHandshakeRecords++ === 0 ? 'Finished (encrypted)' : 'encrypted',
        ];
      }
    } else if (rec.type === 21 && payload && payload.length === 2 && !this.encrypted) {
      const level = payload[0] === 1 ? 'warning' : 'fatal';
      out.alert = { level, ...alertByCode(payload[1] ?? 0) };
    } else if (rec.type === 20) {
      // Under TLS 1.3 ChangeCipherSpec is a middlebox-compatibility no-op (RFC 8446 §D.4): the
      // real switch to encryption happened at the ServerHello.
      if (this.session.version !== TLS13) this.encrypted = true;
    }
    return out;
  }

  /** Feed one handshake record's payload; returns the messages that start in it. */
  private readHandshake(payload: Buffer): string[] {
    const names: string[] = [];
    let p = 0;
    const continued: string | null = this.message ? this.messageName(this.message) : null;
    while (p < payload.length) {
      if (this.message === null) {
        const take = Math.min(4 - this.msgHeaderHave, payload.length - p);
        payload.copy(this.msgHeader, this.msgHeaderHave, p, p + take);
        this.msgHeaderHave += take;
        p += take;
        if (this.msgHeaderHave < 4) break;
        this.msgHeaderHave = 0;
        const type = this.msgHeader[0] ?? 0;
        const length = this.msgHeader.readUIntBE(1, 3);
        const keep = (type === 2 || type === 11 || type === 12) && length <= MAX_KEPT_MESSAGE;
        // A ServerHello is named once parsed: it may turn out to be a HelloRetryRequest.
        this.message = { type, length, have: 0, body: keep ? [] : null, named: type !== 2 };
        if (type !== 2) names.push(this.messageName(this.message));
      } else {
        const msg: OpenMessage = this.message;
        const take = Math.min(msg.length - msg.have, payload.length - p);
        if (msg.body) msg.body.push(payload.subarray(p, p + take));
        msg.have += take;
        p += take;
      }
      const msg = this.message as OpenMessage | null;
      if (msg && msg.have === msg.length) {
        this.message = null;
        const body = msg.body ? Buffer.concat(msg.body, msg.length) : null;
        if (msg.type === 2) {
          const name = body ? this.readServerHello(body) : 'ServerHello';
          if (!msg.named) names.push(name);
        }
        if (msg.type === 11 && body && this.dir === 'down') this.readCertificates(body);
        if (msg.type === 12 && body) this.readServerKeyExchange(body);
      }
    }
    if (this.message && !this.message.named) {
      this.message.named = true; // a ServerHello whose body completes in a later record
      names.push('ServerHello');
    }
    if (names.length === 0 && continued) return [`${continued} (continued)`];
    return names;
  }

  private messageName(m: OpenMessage): string {
    return HANDSHAKE_TYPES[m.type] ?? `unknown(${m.type})`;
  }

  /** ServerHello: the negotiated version, cipher suite and (TLS 1.3) key share group. */
  private readServerHello(body: Buffer): string {
    try {
      let p = 0;
      const legacyVersion = body.readUInt16BE(p);
      p += 2;
      const random = body.subarray(p, p + 32);
      p += 32;
      const sidLength = body[p] ?? 0;
      p += 1 + sidLength;
      const cipher = body.readUInt16BE(p);
      p += 2 + 1; // cipher suite, compression method
      let version = legacyVersion;
      let group: number | null = null;
      if (p + 2 <= body.length) {
        const extEnd = p + 2 + body.readUInt16BE(p);
        p += 2;
        while (p + 4 <= extEnd && p + 4 <= body.length) {
          const id = body.readUInt16BE(p);
          const len = body.readUInt16BE(p + 2);
          p += 4;
          if (id === 43 && len === 2) version = body.readUInt16BE(p);
          if (id === 51 && len >= 2) group = body.readUInt16BE(p);
          p += len;
        }
      }
      const retry = random.equals(HELLO_RETRY_RANDOM);
      this.session.version = version;
      this.session.cipherSuite = cipher;
      if (group !== null) this.session.group = group;
      if (retry) {
        this.session.helloRetry = true;
        return 'HelloRetryRequest';
      }
      // TLS 1.3: everything the server sends after its ServerHello is encrypted.
      if (version === TLS13 && this.dir === 'down') this.encrypted = true;
      return 'ServerHello';
    } catch {
      return 'ServerHello (malformed)'; // a short body: name it, learn nothing from it
    }
  }

  /** TLS ≤ 1.2 Certificate: a 24-bit list length, then 24-bit length + DER per certificate. */
  private readCertificates(body: Buffer): void {
    if (this.session.version === TLS13) return; // never in clear under 1.3; do not misparse
    const certs: CertSummary[] = [];
    let p = 3;
    const end = Math.min(body.length, 3 + (body.length >= 3 ? body.readUIntBE(0, 3) : 0));
    while (p + 3 <= end) {
      const len = body.readUIntBE(p, 3);
      p += 3;
      const der = body.subarray(p, p + len);
      p += len;
      try {
        certs.push(describeCertificate(der));
      } catch {
        this.session.unparsedCertificates++; // counted, so the view can say one was unreadable
      }
    }
    this.session.serverCertificates = certs;
  }

  /** TLS 1.2 ECDHE ServerKeyExchange: curve_type 3 (named_curve) then the 16-bit group. */
  private readServerKeyExchange(body: Buffer): void {
    if (body.length >= 3 && body[0] === 3) this.session.group = body.readUInt16BE(1);
  }
}
