// The scripted victim's own record of what it did (`mitm-lab victim --events FILE`): JSON Lines,
// one record per line. This is the *victim's* side of the story — what the client experienced —
// to be read next to the proxy's events (docs/events.md), which are the attacker's side.
// Documented field by field in docs/lab.md.

/** Which device the victim plays. */
export type VictimProfile = 'normal' | 'compromised';
export const VICTIM_PROFILES: readonly VictimProfile[] = ['normal', 'compromised'];

/** How one attempt of a step ended, from the client's point of view. */
export type VictimOutcome =
  /** It worked: an HTTP response (2xx/3xx) or an open WebSocket. */
  | 'ok'
  /** TLS handshake done, then the client refused the server's certificate. */
  | 'refused-certificate'
  /** The TLS handshake itself failed (alert, no shared version or cipher). */
  | 'tls-failed'
  /** A response arrived, but an error status (e.g. the proxy's 502 for a broken upstream). */
  | 'http-error'
  /** The proxy refused the CONNECT or could not be reached. */
  | 'proxy-error'
  /** No answer in time. */
  | 'timeout';

/** The first line: who the victim is. */
export interface VictimStartRecord {
  type: 'victim.start';
  /** ISO 8601. */
  at: string;
  profile: VictimProfile;
  /** The proxy URL it browses through. */
  proxy: string;
  /** Names of the roots it trusts, e.g. `["mitm-lab Lab Public Root"]`. */
  trusts: string[];
}

/** One attempt at one step. A step refused on its first attempt is retried once (attempt 2). */
export interface VictimStepRecord {
  type: 'victim.step';
  at: string;
  profile: VictimProfile;
  /** Stable step id: `http-login`, `ws-chat`, `https-login`, `https-api`, `wss-chat`, `http-transfer`, `https-transfer`, `gallery:<id>`. */
  step: string;
  /** 1-based position in the tour, and the tour length. */
  index: number;
  total: number;
  title: string;
  /** The URL (or ws URL) the step is about. */
  url: string;
  /** 1, or 2 for the retry after a refusal (what a browser reload does). */
  attempt: number;
  outcome: VictimOutcome;
  /** The client's own words: Node's error message, or e.g. `HTTP 200 OK`. */
  said: string;
  /** Node's error code (`CERT_HAS_EXPIRED`, `ERR_SSL_…`), the HTTP status, or null. */
  code: string | null;
  /** The HTTP status of the last response, or null. */
  status: number | null;
  /** When TLS completed and the client accepted: what it saw. */
  tls: {
    protocol: string | null;
    cipher: string | null;
    /** Certificate subject CN. */
    subject: string;
    /** Certificate issuer CN: `mitm-lab Lab Intermediate` = the real lab site; anything else = not the lab PKI. */
    issuer: string;
    /** True when the issuer is the lab PKI's intermediate (the real site). */
    genuine: boolean;
  } | null;
  /** Secrets the victim sent in this attempt (`password`, `session cookie`, `bearer token`, `chat message`, `transfer`). */
  sent: string[];
  /** One sentence for the person watching: what this means. */
  meaning: string;
  /** For a refusal: what a browser would show (Chromium's code), when known. */
  browserWouldShow: string | null;
  /** For gallery hosts: what the gallery data expects a Node client to do when connecting directly. */
  expectedDirect: string | null;
  /** Transfer steps that got through: what the victim was shown, and what the bank booked. */
  transfer?: TransferSeen;
}

/** A rent transfer, as the victim saw it and as the bank's ledger booked it. */
export interface TransferSeen {
  /** The IBAN the transfer page filled in (what the victim sent). */
  pageIban: string;
  /** What the confirmation page said: the IBAN and the amount, or null when not found. */
  confirmedIban: string | null;
  confirmedAmount: string | null;
  /** What the bank's ledger booked under the transfer's reference (null: nothing found). */
  bookedIban: string | null;
  /** The real owner of the booked account, per the bank, or null. */
  bookedOwner: string | null;
  bookedAmount: string | null;
  /** True when the money went to the landlord's account. */
  toLandlord: boolean;
}

/** The last line: a summary. */
export interface VictimEndRecord {
  type: 'victim.end';
  at: string;
  profile: VictimProfile;
  /** How many steps ran. */
  steps: number;
  /** Steps whose final attempt got through. */
  ok: number;
  /** Steps whose final attempt stopped at the TLS handshake (certificate refused or no agreement). */
  refused: number;
  /** Steps that ended any other way (an error status such as the proxy's 502, proxy error, timeout). */
  failed: number;
}

export type VictimRecord = VictimStartRecord | VictimStepRecord | VictimEndRecord;
