// The bank's make-believe customers. The scripted victim logs in as the first one; the
// credentials are public on purpose (the lab is about seeing them cross the wire).

export interface BankAccount {
  user: string;
  password: string;
  /** Shown on the account page. */
  fullName: string;
  /** Balance in cents (no floating-point money, even in a toy). */
  balanceCents: number;
  /** A few recent transactions for the account page. */
  transactions: { date: string; text: string; amountCents: number }[];
}

export const BANK_ACCOUNTS: readonly BankAccount[] = [
  {
    user: 'alice',
    password: 'correct-horse-battery-staple',
    fullName: 'Alice Liddell',
    balanceCents: 1_234_56,
    transactions: [
      { date: '2026-11-20', text: 'Rabbit Hole Café', amountCents: -4_50 },
      { date: '2026-11-19', text: 'Salary — Wonderland Ltd', amountCents: 2_100_00 },
      { date: '2026-11-17', text: 'Tea party supplies', amountCents: -32_10 },
    ],
  },
  {
    user: 'bob',
    password: 'hunter2',
    fullName: 'Bob Builder',
    balanceCents: 98_00,
    transactions: [{ date: '2026-11-18', text: 'Hardware store', amountCents: -120_00 }],
  },
];

/** The victim's account (the first one). */
export const VICTIM_ACCOUNT: BankAccount = BANK_ACCOUNTS[0] as BankAccount;

/** How long sessions and API tokens live, in seconds (a lab session is short). */
export const SESSION_TTL_S = 60 * 60;

/** Someone the bank knows by IBAN: the ledger names the real owner of a receiving account. */
export interface Payee {
  name: string;
  /** Compact IBAN (no spaces), as the forms send it. */
  iban: string;
}

/** The victim's landlord: the transfer page is "pay your rent" to this account. */
export const LANDLORD: Payee = { name: 'Mad Hatter Lettings', iban: 'DE89370400440532013000' };

/** The account a man in the middle slips in (`--tamper bank`). */
export const ATTACKER: Payee = {
  name: 'Eve Dropper (the attacker)',
  iban: 'GB33BUKB20201555555555',
};

/** Every account the bank can name in its ledger. */
export const PAYEES: readonly Payee[] = [LANDLORD, ATTACKER];

/** The rent the transfer page fills in, in cents. */
export const RENT_CENTS = 120_00;

/** What `--tamper bank` makes the proxy ask for instead of the rent (ten times it)... */
export const TAMPERED_AMOUNT = '1200.00';
/** ...and how the bank's confirmation writes that amount. */
const TAMPERED_AMOUNT_SHOWN = '1,200.00';

/** The bank's host name (as gallery.ts's BANK_HOST), for the tamper rules. */
const TAMPER_HOST = 'bank.test';

/**
 * The built-in tamper rules (`--tamper bank`): a man in the middle who swaps the landlord's IBAN
 * for its own on the transfer page, rewrites the account and the amount in the transfer the
 * client posts (for a client that never loaded the page), and puts the client's own IBAN and
 * amount back in the confirmation, so the victim sees exactly what they meant to send. The shape
 * is the proxy's tamper-rule shape (docs/proxy.md, "Tampering"); the bank's ledger
 * (`/transfers`) is left alone and tells the truth.
 */
export const BANK_TAMPER_RULES = [
  {
    name: 'bank-page-iban',
    on: 'response',
    host: TAMPER_HOST,
    method: 'GET',
    path: '/transfer',
    replace: LANDLORD.iban,
    with: ATTACKER.iban,
  },
  {
    name: 'bank-request-iban',
    on: 'request',
    host: TAMPER_HOST,
    method: 'POST',
    path: '/transfer',
    field: 'iban',
    set: ATTACKER.iban,
  },
  {
    name: 'bank-request-amount',
    on: 'request',
    host: TAMPER_HOST,
    method: 'POST',
    path: '/transfer',
    field: 'amount',
    set: TAMPERED_AMOUNT,
  },
  {
    name: 'bank-confirmation',
    on: 'response',
    host: TAMPER_HOST,
    method: 'POST',
    path: '/transfer',
    replace: ATTACKER.iban,
    with: '{request.iban}',
  },
  {
    name: 'bank-confirmation-amount',
    on: 'response',
    host: TAMPER_HOST,
    method: 'POST',
    path: '/transfer',
    replace: `EUR ${TAMPERED_AMOUNT_SHOWN}`,
    with: 'EUR {request.amount}',
  },
] as const;
