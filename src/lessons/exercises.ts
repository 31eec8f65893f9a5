// The lab exercises as DATA: what each asks the student to do and the checkpoints that show it
// was done. The checks themselves (predicates over events only) are in progress.ts; the pages
// a student reads are docs/labs/NN-*.md. `{proxy}` and `{ca}` in a step stand for the proxy's
// URL and the mitm-lab CA certificate's path; `{labRoot}` for the lab public root.

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

export const EXERCISES: readonly Exercise[] = [
  {
    id: '1',
    slug: 'http-login-sniffed',
    title: 'A login over HTTP, sniffed',
    goal: 'See that plain HTTP hides nothing: the password and the session cookie cross the wire readable.',
    page: 'docs/labs/01-http-login-sniffed.md',
    steps: [
      `curl -x {proxy} ${LOGIN} http://bank.test/login`,
      'chromium --proxy-server={proxy} --user-data-dir=$(mktemp -d) http://bank.test/login',
      'npx mitm-lab victim --only http-login',
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
        hint: 'open http://bank.test/login in a browser that uses the proxy',
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
      `curl -x {proxy} ${LOGIN} https://bank.test/login`,
      `curl -x {proxy} --cacert {labRoot} ${LOGIN} https://bank.test/login`,
      'chromium --proxy-server={proxy} --user-data-dir=$(mktemp -d) https://bank.test/',
    ],
    checkpoints: [
      {
        id: '2.forgery-refused',
        title: 'a client refused the forged certificate for bank.test',
        hint: `log in over HTTPS with a client that does not trust the mitm-lab CA: curl -x {proxy} ${LOGIN} https://bank.test/login`,
      },
      {
        id: '2.real-site-tunnelled',
        title: 'the retry reached the real bank.test through a tunnel (only metadata visible)',
        hint: 'in auto mode, repeat the login trusting the lab root: curl -x {proxy} --cacert {labRoot} … https://bank.test/login',
      },
      {
        id: '2.browser-refused',
        title: 'a browser refused the forged certificate',
        hint: 'open https://bank.test/ in a browser that uses the proxy and does not trust the mitm-lab CA (press f first if bank.test is tunnelled)',
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
      `curl -x {proxy} --cacert {ca} ${LOGIN} https://bank.test/login`,
      'npx mitm-lab victim --profile compromised',
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
        hint: 'on the same device, visit a gallery host: curl -x {proxy} --cacert {ca} https://expired.bank.test/',
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
      'for h in expired not-yet-valid wrong-host self-signed untrusted-root weak-key; do curl -sS -o /dev/null -x {proxy} --cacert {labRoot} https://$h.bank.test/; curl -sS -o /dev/null -x {proxy} --cacert {labRoot} https://$h.bank.test/; done',
      'npx mitm-lab victim --only gallery',
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
        hint: 'press f in the UI, then open two gallery hosts in a browser through the proxy, each twice',
      },
    ],
  },
];

/** The exercise with this id, or undefined. */
export function exerciseById(id: string): Exercise | undefined {
  return EXERCISES.find((e) => e.id === id);
}
