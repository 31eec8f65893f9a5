// The lab exercises as DATA: what each asks the student to do and the checkpoints that show it
// was done. The checks themselves (predicates over events only) are in progress.ts; the pages
// a student reads are docs/labs/NN-*.md. `{proxy}` and `{ca}` in a step stand for the proxy's
// URL and the mitm-lab CA certificate's path; `{labRoot}` for the lab public root. The pages
// spell them `$P`, `certs/certs/ca.pem` and `certs/lab/root.pem` (test/lessons/labs-pages.test.ts
// checks that every step here is on its page, and runs the pages).
import { chromiumCommand } from './chromium.ts';

/** One thing a student must have done, told by the events alone. */
export interface Checkpoint {
  /** Stable id, `<exercise>.<name>`. */
  id: string;
  /** What it proves, in a few words (shown ticked or not). */
  title: string;
  /** One line shown while it is not done: what to do next. */
  hint: string;
}

export interface Exercise {
  /** `1`, `2`, … (what `mitm-lab check N` takes). */
  id: string;
  slug: string;
  title: string;
  goal: string;
  /** The page in docs/labs/. */
  page: string;
  /** The commands of its steps, in order (copy-paste, placeholders filled by the caller). */
  steps: readonly string[];
  checkpoints: readonly Checkpoint[];
}

const LOGIN = '-d user=alice -d password=correct-horse-battery-staple';
const browser = (url: string): string => chromiumCommand('{proxy}', url);
/** Exercise 7's browser: one profile folder, `$D`, kept for every visit (its HSTS memory). */
const sameBrowser = (url: string): string => chromiumCommand('{proxy}', url, '$D');
/**
 * A browser that trusts the lab public root the way a normal device trusts the public CAs:
 * Chromium on Linux reads trust from `$HOME/.pki/nssdb`, so a throwaway HOME with an NSS
 * database holding the lab root (the student's own browser and HOME are left alone).
 */
const TRUSTING_HOME = [
  'H=$(mktemp -d); mkdir -p $H/.pki/nssdb',
  'certutil -d sql:$H/.pki/nssdb -N --empty-password',
  "certutil -d sql:$H/.pki/nssdb -A -t C,, -n 'mitm-lab Lab Public Root' -i {labRoot}",
].join('; ');
/** A compromised device: the same, plus the interceptor's CA (exercise 7). */
const COMPROMISED_HOME = [
  'C=$(mktemp -d); mkdir -p $C/.pki/nssdb',
  'certutil -d sql:$C/.pki/nssdb -N --empty-password',
  "certutil -d sql:$C/.pki/nssdb -A -t C,, -n 'mitm-lab Lab Public Root' -i {labRoot}",
  "certutil -d sql:$C/.pki/nssdb -A -t C,, -n 'Interceptor CA' -i {ca}",
].join('; ');
/** Exercise 8: the URIs of the HTTP requests in the capture, without and with the key log. */
const TSHARK_URIS = 'tshark -r lab.pcapng -Y http.request -T fields -e http.request.uri';
const TSHARK_URIS_KEYS =
  'tshark -r lab.pcapng -o tls.keylog_file:keys.log -Y http.request -T fields -e http.request.uri';
/** Exercise 9: the landlord's IBAN and the rent, posted straight to the bank (no page). */
const TRANSFER_FORM =
  '-d name=Landlord -d iban=DE89370400440532013000 -d amount=120.00 -d reference=curl';
const GALLERY_TWICE =
  'for h in expired not-yet-valid wrong-host self-signed untrusted-root weak-key old-tls no-shared-cipher hsts; do for attempt in 1 2; do curl -s -o /dev/null -w "$h $attempt: %{http_code} exit %{exitcode} %{errormsg}\\n" -x {proxy} --cacert {labRoot} https://$h.bank.test/; done; done';

export const EXERCISES: readonly Exercise[] = [
  {
    id: '1',
    slug: 'http-login-sniffed',
    title: 'A login over HTTP, sniffed',
    goal: 'See that plain HTTP hides nothing: the password and the session cookie cross the wire readable.',
    page: 'docs/labs/01-http-login-sniffed.md',
    steps: [
      `curl -sS -x {proxy} -i ${LOGIN} http://bank.test/login`,
      `S=$(grep -o 'session=[0-9a-f]*' lab.jsonl | tail -1); curl -sS -x {proxy} -H "Cookie: $S" http://bank.test/account | grep Balance`,
      browser('http://bank.test/'),
      'npx mitm-lab victim --proxy {proxy} --only http-login,ws-chat',
      'npx mitm-lab report --events lab.jsonl',
    ],
    checkpoints: [
      {
        id: '1.password-over-http',
        title: 'a password seen over plain HTTP',
        hint: `log in over plain HTTP through the proxy: curl -x {proxy} ${LOGIN} http://bank.test/login`,
      },
      {
        id: '1.cookie-over-http',
        title: 'a session cookie seen over plain HTTP',
        hint: 'the login answer over plain HTTP sets a cookie: log in over http:// (not https://)',
      },
      {
        id: '1.browser-over-http',
        title: "a browser's page over plain HTTP",
        hint: `open http://bank.test/ in a browser that uses the proxy: ${browser('http://bank.test/')}`,
      },
    ],
  },
  {
    id: '2',
    slug: 'https-refused',
    title: 'HTTPS: the forgery refused',
    goal: 'See certificate validation stop a man in the middle, and what an eavesdropper still learns.',
    page: 'docs/labs/02-https-refused.md',
    steps: [
      browser('https://bank.test/'),
      `curl -sS -x {proxy} ${LOGIN} https://bank.test/login`,
      `curl -sS -x {proxy} --cacert {labRoot} ${LOGIN} https://bank.test/login`,
      'npx mitm-lab victim --proxy {proxy} --only https-login,https-api,wss-chat',
    ],
    checkpoints: [
      {
        id: '2.forgery-refused',
        title: 'a client refused the forged certificate for bank.test',
        hint: 'from a clean state (R in the UI), open https://bank.test/ in a browser that does not trust the mitm-lab CA, or log in with a plain curl: curl -x {proxy} … https://bank.test/login',
      },
      {
        id: '2.real-site-tunnelled',
        title: 'the retry reached the real bank.test through a tunnel (only metadata visible)',
        hint: 'in auto mode, after a refusal, log in again trusting the lab root: curl -x {proxy} --cacert {labRoot} … https://bank.test/login',
      },
      {
        id: '2.browser-refused',
        title: 'a browser refused the forged certificate',
        hint: `first thing from a clean state (R in the UI; auto mode tunnels a host once refused): ${browser('https://bank.test/')}`,
      },
    ],
  },
  {
    id: '3',
    slug: 'compromised-device',
    title: 'A compromised device, decrypted',
    goal: 'See a device that trusts the interceptor: a padlock, and the proxy reading everything.',
    page: 'docs/labs/03-compromised-device.md',
    steps: [
      `curl -sS -x {proxy} --cacert {ca} ${LOGIN} https://bank.test/login`,
      'npx mitm-lab victim --proxy {proxy} --profile compromised --only https-login,https-api,wss-chat',
      'npx mitm-lab victim --proxy {proxy} --profile compromised --only gallery',
    ],
    checkpoints: [
      {
        id: '3.password-decrypted',
        title: 'a password read from decrypted HTTPS',
        hint: `log in over HTTPS trusting the mitm-lab CA: curl -x {proxy} --cacert {ca} ${LOGIN} https://bank.test/login`,
      },
      {
        id: '3.broken-server-refused',
        title: 'the proxy refused a broken real server for a trusting device (502)',
        hint: 'on the same device, visit a gallery host the proxy has not tunnelled: curl -x {proxy} --cacert {ca} https://expired.bank.test/',
      },
    ],
  },
  {
    id: '4',
    slug: 'certificate-warning-gallery',
    title: 'The certificate-warning gallery',
    goal: 'Meet every common certificate error, and see a client refuse the real server.',
    page: 'docs/labs/04-certificate-warning-gallery.md',
    steps: [
      GALLERY_TWICE,
      TRUSTING_HOME,
      `HOME=$H ${browser('https://expired.bank.test/')}`,
      `HOME=$H ${browser('https://wrong-host.bank.test/')}`,
      'npx mitm-lab victim --proxy {proxy} --only gallery',
    ],
    checkpoints: [
      {
        id: '4.real-certificate-refused',
        title: "a client refused a gallery host's real certificate",
        hint: 'visit a gallery host twice in auto mode, trusting the lab root: the retry meets the real server (curl -x {proxy} --cacert {labRoot} https://expired.bank.test/)',
      },
      {
        id: '4.three-hosts',
        title: 'three different gallery hosts tried',
        hint: 'try at least three of the gallery hosts listed at http://lab.test/',
      },
      {
        id: '4.browser-warning',
        title: "a browser met a gallery host's real warning",
        hint: 'once curl has tried a gallery host twice (it is tunnelled then), open it in a browser that trusts the lab root (exercise 4, steps 3 and 4)',
      },
    ],
  },
  {
    id: '5',
    slug: 'what-https-leaks',
    title: 'What HTTPS still leaks',
    goal: 'See, in eavesdrop mode, what a passive observer learns from HTTPS it cannot decrypt: every host, when, how often and how much.',
    page: 'docs/labs/05-what-https-leaks.md',
    steps: [
      'npx mitm-lab victim --proxy {proxy} --only http-login,https-login,https-api,wss-chat',
      TRUSTING_HOME,
      `HOME=$H ${browser('https://bank.test/')}`,
      'curl -sS -o /dev/null -w "%{http_code}\\n" -x {proxy} --cacert {labRoot} --tls-max 1.2 https://bank.test/',
      'npx mitm-lab report --events lab.jsonl',
    ],
    checkpoints: [
      {
        id: '5.program-observed',
        title: "the victim's HTTPS login passed by, unread (eavesdrop mode)",
        hint: 'start in eavesdrop mode (npx mitm-lab start --fresh --mode eavesdrop --events lab.jsonl), then: npx mitm-lab victim --proxy {proxy} --only https-login',
      },
      {
        id: '5.browser-observed',
        title: "a browser's HTTPS visit seen from outside: name, sizes, timing",
        hint: `in eavesdrop mode, open a lab site over HTTPS in a browser: ${browser('https://bank.test/')}`,
      },
      {
        id: '5.certificate-in-clear',
        title: 'a server certificate read off the wire (TLS 1.2)',
        hint: 'in eavesdrop mode, connect with TLS 1.2: curl -x {proxy} --cacert {labRoot} --tls-max 1.2 https://bank.test/',
      },
    ],
  },
  {
    id: '6',
    slug: 'tls12-vs-tls13',
    title: 'TLS 1.2 vs 1.3: the certificate on the wire',
    goal: 'Find the forged certificate in clear in a TLS 1.2 handshake, and see that TLS 1.3 encrypts it.',
    page: 'docs/labs/06-tls12-vs-tls13.md',
    steps: [
      'curl -sS -o /dev/null -w "%{http_code}\\n" -x {proxy} --cacert {ca} https://bank.test/',
    ],
    checkpoints: [
      {
        id: '6.forged-certificate-in-clear',
        title: 'the forged certificate read off the wire (TLS 1.2)',
        hint: 'start with npx mitm-lab start --fresh --client-tls-max 1.2 --events lab.jsonl (or press v until the header says client TLS<=1.2), then: curl -x {proxy} --cacert {ca} https://bank.test/',
      },
      {
        id: '6.forged-certificate-hidden',
        title: 'the same forgery in TLS 1.3: only its size on the wire',
        hint: 'press v (the header drops "client TLS<=1.2"), then again: curl -x {proxy} --cacert {ca} https://bank.test/',
      },
    ],
  },
  {
    id: '7',
    slug: 'hsts',
    title: 'HSTS in a real browser',
    goal: 'See a browser that once met a site over trusted HTTPS refuse to let its user click through a forgery for it, while the same forgery elsewhere has a Proceed link; and see what the proxy can know of it.',
    page: 'docs/labs/07-hsts.md',
    steps: [
      TRUSTING_HOME,
      'D=$(mktemp -d)',
      `HOME=$H ${sameBrowser('https://hsts.bank.test/')}`,
      'curl -sS -o /dev/null -D - -x {proxy} --cacert {ca} https://hsts.bank.test/',
      `HOME=$H ${sameBrowser('https://hsts.bank.test/')}`,
      `HOME=$H ${sameBrowser('https://bank.test/')}`,
      COMPROMISED_HOME,
      `HOME=$C ${sameBrowser('https://hsts.bank.test/')}`,
    ],
    checkpoints: [
      {
        id: '7.policy-stored',
        title: 'a browser loaded hsts.bank.test in eavesdrop mode (policy stored, header unread)',
        hint: `in eavesdrop mode, open https://hsts.bank.test/ in a browser that trusts the lab root, keeping its profile in $D (exercise 7, steps 1 and 2): HOME=$H ${sameBrowser('https://hsts.bank.test/')}`,
      },
      {
        id: '7.header-read',
        title: 'the proxy read Strict-Transport-Security in a response it decrypted',
        hint: 'in intercept mode, fetch the HSTS host on a device that trusts the mitm-lab CA: curl -sS -o /dev/null -D - -x {proxy} --cacert {ca} https://hsts.bank.test/',
      },
      {
        id: '7.hsts-refused',
        title: 'a browser refused the forgery on a host the proxy saw send HSTS',
        hint: `once the proxy has read the header (previous checkpoint), open https://hsts.bank.test/ again with the same profile, in intercept mode: HOME=$H ${sameBrowser('https://hsts.bank.test/')}`,
      },
      {
        id: '7.plain-refused',
        title: 'a browser refused the forgery on a host not seen sending HSTS (for comparison)',
        hint: `in intercept mode, open https://bank.test/ with the same profile: HOME=$H ${sameBrowser('https://bank.test/')}`,
      },
      {
        id: '7.trusted-ca',
        title: 'a browser that trusts the mitm-lab CA loaded the HSTS host, decrypted',
        hint: `in intercept mode, open https://hsts.bank.test/ with the same profile on a device that trusts the mitm-lab CA (exercise 7, step 7): HOME=$C ${sameBrowser('https://hsts.bank.test/')}`,
      },
    ],
  },
  {
    id: '8',
    slug: 'decrypt-a-capture',
    title: 'Decrypt a capture yourself',
    goal: 'Open what crossed the wire in tshark (Wireshark in a terminal): records only without the keys; with the key log the proxy wrote, the intercepted requests in clear on both legs, and a tunnel still closed.',
    page: 'docs/labs/08-decrypt-a-capture.md',
    steps: [
      `curl -sS -o /dev/null -w "%{http_code}\\n" -x {proxy} --cacert {ca} ${LOGIN} https://bank.test/login`,
      'curl -sS -o /dev/null -w "%{http_code}\\n" -x {proxy} http://bank.test/',
      'for attempt in 1 2; do curl -s -o /dev/null -w "$attempt: %{http_code} exit %{exitcode}\\n" -x {proxy} --cacert {labRoot} https://bank.test/; done',
      TSHARK_URIS,
      TSHARK_URIS_KEYS,
      'tshark -r lab.pcapng -o tls.keylog_file:keys.log -Y urlencoded-form -T fields -e urlencoded-form.key -e urlencoded-form.value',
      'tshark -r lab.pcapng -o tls.keylog_file:keys.log -Y "tls.handshake.type == 1 || http.request" -T fields -e tcp.stream -e frame.interface_name -e http.request.method -e http.request.uri -e tls.handshake.extensions_server_name',
    ],
    checkpoints: [
      {
        id: '8.recording',
        title: 'the session wrote a capture and its TLS keys (--pcap and --keylog)',
        hint: 'start the lab with both files: npx mitm-lab start --fresh --events lab.jsonl --pcap lab.pcapng --keylog keys.log',
      },
      {
        id: '8.decryptable',
        title: 'an intercepted HTTPS connection went into the capture (its keys in the key log)',
        hint: `log in over HTTPS on a device that trusts the mitm-lab CA, while recording: curl -x {proxy} --cacert {ca} ${LOGIN} https://bank.test/login`,
      },
      {
        id: '8.opaque',
        title: 'a tunnelled HTTPS connection went into the capture (no key for it anywhere)',
        hint: 'while recording, visit bank.test twice trusting only the lab root: the first refuses the forgery, the second is tunnelled (curl -x {proxy} --cacert {labRoot} https://bank.test/)',
      },
    ],
  },
  {
    id: '9',
    slug: 'tampering',
    title: 'A man in the middle changes what you read',
    goal: 'Watch a man in the middle rewrite a bank transfer and its confirmation over plain HTTP and over HTTPS on a device that trusts its CA, and fail to touch it on a device that does not: only that transfer reaches the landlord.',
    page: 'docs/labs/09-tampering.md',
    steps: [
      'npx mitm-lab victim --proxy {proxy} --only http-transfer',
      'npx mitm-lab victim --proxy {proxy} --profile compromised --only https-transfer',
      'npx mitm-lab victim --proxy {proxy} --only https-transfer',
      `curl -s -o /dev/null -c jar.txt -x {proxy} ${LOGIN} http://bank.test/login`,
      `curl -s -b jar.txt -x {proxy} ${TRANSFER_FORM} http://bank.test/transfer | grep -o 'Sent.*'`,
      'curl -s -x {proxy} http://bank.test/transfers.txt',
    ],
    checkpoints: [
      {
        id: '9.tampering',
        title: 'the proxy ran with tamper rules (--tamper)',
        hint: 'start the lab with the built-in rules: npx mitm-lab start --fresh --events lab.jsonl --tamper bank',
      },
      {
        id: '9.changed-over-http',
        title: 'a transfer over plain HTTP was changed on its way',
        hint: 'let the victim pay the rent over plain HTTP: npx mitm-lab victim --proxy {proxy} --only http-transfer',
      },
      {
        id: '9.changed-over-https',
        title: 'a transfer over HTTPS was changed: the device trusted the CA',
        hint: 'a compromised device pays the rent over HTTPS (before a normal one, which makes auto mode tunnel bank.test): npx mitm-lab victim --proxy {proxy} --profile compromised --only https-transfer',
      },
      {
        id: '9.untouchable',
        title:
          'a device that does not trust the CA refused the forgery and reached the real bank through a tunnel',
        hint: 'a normal device pays the rent over HTTPS: it refuses the forgery, and its retry is tunnelled (npx mitm-lab victim --proxy {proxy} --only https-transfer)',
      },
    ],
  },
];

/** The exercise with this id, or undefined. */
export function exerciseById(id: string): Exercise | undefined {
  return EXERCISES.find((e) => e.id === id);
}
