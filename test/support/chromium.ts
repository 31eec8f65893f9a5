// Headless Chromium (Debian's /usr/bin/chromium) driven with `--dump-dom` through a proxy, kept
// on loopback with a PAC script: lab names (*.test) go to the proxy, anything else to a closed
// port (Debian's Chromium sends its own update and account requests through any proxy it is
// given). Bounded by a timeout that kills Chromium's whole process group, by its PID.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
const LAUNCH_TIMEOUT_MS = 20_000;

export interface Dump {
  /** Exit code; null when killed by the timeout. */
  code: number | null;
  timedOut: boolean;
  dom: string;
  stderr: string;
  ms: number;
}

/** A loopback port with nothing listening (Chromium's traffic for non-lab names dies there). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** PAC script as a data: URL: lab names (*.test) → the proxy; anything else → `deadPort`. */
export function pacUrl(proxyPort: number, deadPort: number): string {
  const pac = `function FindProxyForURL(url, host) {
  return dnsDomainIs(host, '.test') ? 'PROXY 127.0.0.1:${proxyPort}' : 'PROXY 127.0.0.1:${deadPort}';
}`;
  return `data:application/x-ns-proxy-autoconfig;base64,${Buffer.from(pac).toString('base64')}`;
}

/**
 * `chromium --dump-dom URL` through the proxy on `proxyPort`, with a fresh profile (removed
 * after). `home` replaces HOME (where Chromium on Linux finds the NSS database
 * `~/.pki/nssdb`); `extra` are more flags.
 */
export async function dumpDom(
  tmp: string,
  proxyPort: number,
  url: string,
  opts: { home?: string; extra?: string[] } = {},
): Promise<Dump> {
  const pac = pacUrl(proxyPort, await closedPort());
  const profile = mkdtempSync(path.join(tmp, 'profile-'));
  const home = opts.home ?? mkdtempSync(path.join(tmp, 'home-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    `--user-data-dir=${profile}`,
    `--proxy-pac-url=${pac}`,
    ...(opts.extra ?? []),
    '--dump-dom',
    url,
  ];
  const t0 = Date.now();
  return new Promise((resolve) => {
    // Own process group: on timeout the browser and its helpers (zygote, renderer, network
    // service) go together, by the group of the PID we started — nothing else.
    const child = spawn(CHROMIUM, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: home },
    });
    let dom = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (dom += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, LAUNCH_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      if (!opts.home) rmSync(home, { recursive: true, force: true });
      resolve({ code, timedOut, dom, stderr, ms: Date.now() - t0 });
    });
  });
}
