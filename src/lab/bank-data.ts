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
