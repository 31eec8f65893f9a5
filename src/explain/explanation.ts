// The shape of one teaching entry, and the slots its text may use. Entries are data (see
// catalog.ts); this file only says what a complete entry holds.

/** What each client shows for a case: one line, or several when the case covers several causes. */
export type ClientLines = Partial<Record<ClientName, ClientShows | readonly ClientShows[]>>;

/** One entry of the explain catalog. Text may hold `{slot}` placeholders (see SLOTS). */
export interface Explanation<C extends string = string> {
  /** One line, for a heading. */
  title: string;
  /** What happened, in plain words, naming the host. */
  whatHappened: string;
  /** Which step of DNS → TCP → TLS (ClientHello … Finished) → HTTP it is. */
  handshakeStep: string;
  /** The same, told for the negotiated version when it is known (the order differs). */
  handshakeStepByVersion?: Partial<Record<'TLS 1.3' | 'TLS 1.2', string>>;
  /** What each client shows in this case (beyond what its causes say). */
  clients?: ClientLines;
  /**
   * The causes this signal covers (an alert code or a silent close names a family, never one
   * cause); explain() says which of them the proxy can rule out, and shows each client's line
   * for the causes that remain.
   */
  causes?: readonly C[];
  /** Upstream failures: what each client shows WITHOUT the proxy, for comparison. */
  directly?: ClientLines;
  /** What it teaches. */
  lesson: string;
  /** A lab host or command that reproduces it, when one exists. */
  labEndpoint?: string;
}

/**
 * What a refusal adds when the proxy saw the host send Strict-Transport-Security on an earlier
 * visit it decrypted: the host uses HSTS, and what a browser that saw it shows instead.
 */
export interface HstsNote {
  title: string;
  text: string;
  clients: ClientLines;
  lesson: string;
}

/** A fact about what mitm-lab forged that can rule a cause out (explain.ts checks it). */
export type RuleId =
  | 'forged-names-host'
  | 'forged-valid-now'
  | 'forged-key-strong'
  | 'forged-signed-by-ca'
  | 'forged-within-constraints';

/** One cause an alert code or a hang-up can stand for. */
export interface Cause {
  /** A few words naming it. */
  title: string;
  /** What it means, in a sentence. */
  text: string;
  /** What each client shows for this cause. */
  clients: ClientLines;
  /** The fact that rules it out when the certificate was mitm-lab's forgery. */
  ruledOutBy?: RuleId;
}

/**
 * The slots catalog text may use, with what stands in when the event does not carry a value.
 * Every slot is always filled, so a reader never sees a raw `{…}`.
 */
export const SLOTS = {
  /** The host name (SNI or CONNECT target). */
  host: 'the server',
  /** The error code (Node's `err.code`). */
  code: 'no code',
  /** The raw error message the engine kept. */
  raw: 'no message',
  /** The TLS alert's number. */
  alertCode: '?',
  /** The TLS alert's name. */
  alertName: 'unknown alert',
  /** Which client the ClientHello suggests (`curl`, `chromium`…). */
  client: 'the client',
  /** The port. */
  port: '443',
  /** What the wire shows of the client's verdict on a tunnel (ClientVerdict.evidence). */
  evidence: 'nothing conclusive',
  /** The forged certificate's validity start and end (ISO dates). */
  notBefore: 'its start date',
  notAfter: 'its end date',
  /** The lab's own words on what is wrong with this host, for a gallery host. */
  labProblem: '',
  /** The Strict-Transport-Security value the proxy read from this host earlier, and when. */
  hstsHeader: 'a policy',
  hstsSeenAt: 'earlier',
} as const;

export type SlotName = keyof typeof SLOTS;
export type SlotValues = Partial<Record<SlotName, string | number | null>>;

/**
 * The clients whose words the catalog quotes. `python` is the standard library (`urllib`,
 * `ssl`) and `requests`, which report the same OpenSSL reason; `openssl` is `openssl s_client`.
 */
export const CLIENT_NAMES = [
  'chromium',
  'firefox',
  'curl',
  'wget',
  'python',
  'node',
  'openssl',
] as const;
export type ClientName = (typeof CLIENT_NAMES)[number];

/**
 * What one client shows for a case, in a form a test can hold against a real run of that
 * client (test/e2e/client-matrix.test.ts does, for every case the matrix reaches).
 *
 * `outcome: 'ok'` means the client got an HTTP response (whatever its status) and `code` is
 * that status; `'error'` means it failed before any response and `code` is its own error
 * code: curl, wget and `openssl s_client` their exit status (`'60'`), Node `err.code`
 * (`'CERT_HAS_EXPIRED'`), Python the innermost exception class (`'SSLCertVerificationError'`),
 * a browser the code its error page names (`'NET::ERR_CERT_AUTHORITY_INVALID'`,
 * `'SEC_ERROR_UNKNOWN_ISSUER'`).
 */
export interface ClientShows {
  outcome: 'ok' | 'error';
  code?: string;
  /** A piece of the client's own words (its message, or the page's heading), quoted as is. */
  says?: string;
  /** A few words of context, shown after the quote. */
  note?: string;
  /** True when no test run of that client backs this line: it is shown as unverified. */
  unverified?: true;
}
