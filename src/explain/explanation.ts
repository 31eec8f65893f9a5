// The shape of one teaching entry, and the slots its text may use. Entries are data (see
// catalog.ts); this file only says what a complete entry holds.

/** What each kind of client shows the person using it. */
export interface ClientViews {
  /** Chromium and Firefox: the interstitial / error code names. */
  browser: string;
  /** curl: exit code and message. */
  curl: string;
  /** Node (`https`, `tls`, fetch): the error code. */
  node: string;
  /** Python (`ssl`, `urllib`, `requests`): the exception and reason. */
  python: string;
}

/** One entry of the explain catalog. Text may hold `{slot}` placeholders (see SLOTS). */
export interface Explanation {
  /** One line, for a heading. */
  title: string;
  /** What happened, in plain words, naming the host. */
  whatHappened: string;
  /** Which step of DNS → TCP → TLS (ClientHello … Finished) → HTTP it is. */
  handshakeStep: string;
  /** What a browser, curl, Node and Python show for it. */
  whatClientsShow: ClientViews;
  /** What it teaches. */
  lesson: string;
  /** A lab host or command that reproduces it, when one exists. */
  labEndpoint?: string;
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
