// What the scripted victim says about each step, as data: `{slot}` placeholders, no logic.
// victim.ts picks a key from what happened; the sentence is filled in here.

export const VICTIM_TEXT = {
  /** Plain HTTP worked. */
  httpOk:
    'Plain HTTP: the {secrets} crossed in clear text — the proxy, and anyone on the path, read them.',
  /** HTTPS worked and the certificate came from the lab PKI: the proxy only tunnelled. */
  httpsGenuine:
    'Connected to the real {host} (certificate issued by {issuer}): the proxy only tunnels — it sees the name {host} (SNI), sizes and timing, not the {secrets}.',
  /** A compromised device reached the real site: auto mode had switched the host to tunnelling. */
  httpsGenuineButTrusting:
    'Connected to the real {host}: the proxy only tunnelled, because a client refused its forgery for this host earlier (auto mode remembers). Press f in the proxy UI (forget refused hosts) to see this device decrypted.',
  /** HTTPS worked with a certificate that is not from the lab PKI: a trusted forgery. */
  httpsForged:
    'This device trusts the mitm-lab CA, so it accepted a forged certificate (issued by {issuer}): the proxy decrypted everything — {secrets} included. The padlock was there all along.',
  /** A certificate refusal that is not the gallery's own failure: the proxy's forgery, unless tunnelled. */
  refusedForgery:
    'The client refused the certificate it was shown. Behind this proxy that is its forgery, unless the proxy tunnelled the host (its Why view names the certificate it showed). Nothing secret was sent. A browser would show {browser}.',
  /** A certificate refusal that is exactly what the gallery host teaches. */
  refusedAsExpected:
    'Refused, as a careful client should: {problem} A browser would show {browser}.',
  /** A TLS failure before any certificate was judged. */
  tlsFailed: 'The TLS handshake itself failed, before any certificate was judged: {problem}',
  /** A TLS failure on a non-gallery host. */
  tlsFailedOther:
    'The TLS handshake failed before any certificate was judged; no HTTP was exchanged.',
  /** The proxy answered with an error status (a broken upstream it would not pass on). */
  proxyRefusedUpstream:
    "The device accepted the proxy's forged certificate, but the proxy validated the real server, found it broken, and answered 502 instead. A MITM proxy that validates upstream keeps the victim from being worse off than without it.",
  /** An ordinary HTTP error from the site. */
  httpError: 'The site answered with an error: {said}.',
  /** The gallery page loaded. */
  galleryOk: 'Loaded {host}. Directly, a Node client is expected to: {expected}. {extra}',
  /** The proxy refused or could not be reached. */
  proxyError: 'The proxy did not open the way: {said}',
  /** Nothing in time. */
  timeout: 'No answer in time: {said}',
  /** A transfer the bank booked to the landlord. */
  transferArrived:
    "The bank's ledger shows the money on the landlord's account ({iban}, EUR {amount}).",
  /** A transfer the bank booked elsewhere: the man in the middle changed it (`--tamper`). */
  transferDiverted:
    "But the bank's ledger booked EUR {amount} to {iban}, owned by {owner}: the man in the middle changed the transfer on its way, and the confirmation page too, so nothing on screen looked wrong.",
  /** Printed before a retry. */
  retry: 'attempt 2 (the user presses reload):',
} as const;

export type VictimTextKey = keyof typeof VICTIM_TEXT;

/** Fill `{slot}`s; unknown slots stay visible rather than vanish. */
export function say(key: VictimTextKey, slots: Record<string, string>): string {
  return VICTIM_TEXT[key].replace(/\{(\w+)\}/g, (m, k: string) => slots[k] ?? m).trim();
}
