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
