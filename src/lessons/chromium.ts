// The Chromium command the lab suggests (the start page, the exercises, docs/labs/): a
// throwaway profile, pointed at the proxy, without the browser's own background connections to
// Google. Without these flags one launch of Debian's Chromium 156 through `mitm-lab start`
// added accounts.google.com, update.googleapis.com, clients2.google.com,
// optimizationguide-pa.googleapis.com and redirector.gvt1.com to the flow list, and a page with
// a form content-autofill.googleapis.com (measured with headless Chromium through the proxy,
// 30-60 s per launch; test/lessons/labs-pages.test.ts runs every suggested command and fails on a
// host outside the lab). One host stays: on a certificate error page Chromium probes
// connectivitycheck.gstatic.com for a captive portal, and only a profile preference
// (alternate_error_pages) turns that off, not a flag.

/**
 * The flags, each with what it silences (as measured):
 * - the first five: first-run and default-browser prompts, background networking, component
 *   and sync updates (redirector.gvt1.com);
 * - `--disable-features=…`: optimization hints (optimizationguide-pa.googleapis.com), the
 *   network time query (clients2.google.com/time), autofill server queries on pages with a
 *   form (content-autofill.googleapis.com);
 * - `--gaia-url` and `--component-updater=url-source`: the account check (ListAccounts on
 *   accounts.google.com) and the on-demand component check (update.googleapis.com), which no
 *   flag turns off, sent to a closed port on this machine instead (port 9, "discard"): Chromium
 *   never sends loopback addresses through a proxy, so they fail at once, unseen.
 */
export const CHROMIUM_QUIET_FLAGS: readonly string[] = [
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=OptimizationHints,NetworkTimeServiceQuerying,AutofillServerCommunication',
  '--gaia-url=http://127.0.0.1:9/',
  '--component-updater=url-source=http://127.0.0.1:9/',
];

/**
 * `chromium --proxy-server=PROXY --user-data-dir=$(mktemp -d) FLAGS… URL`: one line to copy
 * into a shell (a fresh, throwaway profile each time: nothing remembered between runs). Give
 * `profile` (a shell word such as `$D`) to keep one profile across visits, as exercise 7 does:
 * the browser's HSTS memory lives in it.
 */
export function chromiumCommand(proxy: string, url: string, profile = '$(mktemp -d)'): string {
  return `chromium --proxy-server=${proxy} --user-data-dir=${profile} ${CHROMIUM_QUIET_FLAGS.join(' ')} ${url}`;
}
