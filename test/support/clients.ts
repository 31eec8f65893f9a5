// Real TLS clients aimed at a loopback server under a chosen name: curl with `--resolve`, so
// the name (SNI, certificate check) is `host` while the bytes go to 127.0.0.1. Trust is always
// explicit (`--cacert`); validation is never switched off.
import { runTool, type RunResult } from './run.ts';

/**
 * `curl -sS --max-time 10 --noproxy '*' --resolve host:port:127.0.0.1 EXTRA https://host:port/`.
 * IPv6 literals are bracketed in the URL. `extra` goes before the URL (e.g. --cacert FILE).
 */
export function curlLoopback(host: string, port: number, extra: string[] = []): Promise<RunResult> {
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return runTool('curl', [
    '-sS',
    '--max-time',
    '10',
    '--noproxy',
    '*',
    '--resolve',
    `${urlHost}:${port}:127.0.0.1`,
    ...extra,
    `https://${urlHost}:${port}/`,
  ]);
}
