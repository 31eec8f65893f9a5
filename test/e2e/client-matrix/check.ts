// Holding what the product says against what a client really did. A client line
// (`ClientShows`) matches a run when the outcomes are equal, its `code` (if any) equals the
// run's code, and its `says` (if any) occurs in the run's text, ignoring case. Every mismatch is
// reported as one compact line, so a failing run lists all of them at once.
import type { ClientShows } from '../../../src/explain/index.ts';
import type { ClientOutcome, GalleryEntry } from '../../../src/lab/index.ts';
import type { CellRecord } from './matrix.ts';
import { catalogClient, type ClientRun, type MatrixClient } from './types.ts';

/** One cell where the product's words and the client's disagree. */
export interface Mismatch {
  client: MatrixClient;
  host: string;
  mode: string;
  /** What the client did: `error 60 "curl: (60) …"`. */
  said: string;
  /** What the product claims, and where (explanation key or gallery field). */
  claims: string;
}

/** Does `line` describe `run`? */
export function lineMatches(
  run: Pick<ClientRun, 'outcome' | 'code' | 'text'>,
  line: ClientShows,
): boolean {
  if (line.outcome !== run.outcome) return false;
  if (line.code !== undefined && line.code !== run.code) return false;
  if (line.says !== undefined && !run.text.toLowerCase().includes(line.says.toLowerCase()))
    return false;
  return true;
}

/** A line as a short string: `error 60 "certificate has expired"`. */
export function showLine(l: ClientShows): string {
  return [l.outcome, l.code, l.says === undefined ? undefined : `"${l.says}"`]
    .filter((x) => x !== undefined)
    .join(' ');
}

function saidOf(run: ClientRun): string {
  const text = run.text.length > 120 ? `${run.text.slice(0, 119)}…` : run.text;
  return `${run.outcome} ${run.code} "${text}"`;
}

/**
 * A cell through the proxy, against its explanation: there is at least one line for the
 * client, one of them matches the run, and none claims the other outcome.
 */
export function checkProxied(cell: CellRecord): Mismatch[] {
  const base = { client: cell.client, host: cell.host, mode: cell.mode, said: saidOf(cell) };
  const exp = cell.explanation;
  if (!exp) return [{ ...base, claims: 'nothing: the proxy recorded no flow for this cell' }];
  const name = catalogClient(cell.client);
  const lines = exp.clients[name] ?? [];
  if (lines.length === 0) return [{ ...base, claims: `${exp.key}: no ${name} line` }];
  const out: Mismatch[] = [];
  const opposite = lines.filter((l) => l.outcome !== cell.outcome);
  if (opposite.length)
    out.push({ ...base, claims: `${exp.key}: ${name} ${opposite.map(showLine).join(' | ')}` });
  if (!lines.some((l) => lineMatches(cell, l)) && !opposite.length)
    out.push({ ...base, claims: `${exp.key}: ${name} ${lines.map(showLine).join(' | ')}` });
  return out;
}

/** The gallery's measured outcome for a client, as a client line. */
export function galleryLine(g: GalleryEntry, client: MatrixClient): ClientShows {
  const key = client === 'python-urllib' || client === 'python-requests' ? 'python' : client;
  const o: ClientOutcome = g.clients[key];
  if (o.outcome === 'accepted') return { outcome: 'ok' };
  // Node's https.get reports an alert from the server as EPROTO (its request write fails);
  // tls.connect, which the gallery's own test uses, as ERR_SSL_*.
  const code = client === 'node' && o.httpsCode !== undefined ? o.httpsCode : o.code;
  return { outcome: 'error', code, says: o.text };
}

/**
 * A direct cell, against the gallery (no proxy, so no event to explain): bank.test must load;
 * a gallery host must do what the gallery's measured outcome for that client says.
 */
export function checkDirect(cell: CellRecord, g: GalleryEntry | undefined): Mismatch[] {
  const base = { client: cell.client, host: cell.host, mode: cell.mode, said: saidOf(cell) };
  if (!g)
    return cell.outcome === 'ok' && cell.code === '200'
      ? []
      : [{ ...base, claims: 'bank.test: ok 200 (the lab site itself)' }];
  const line = galleryLine(g, cell.client);
  return lineMatches(cell, line)
    ? []
    : [{ ...base, claims: `gallery ${g.id}.clients: ${showLine(line)}` }];
}

/** Every mismatch, one line each, for a failure message. */
export function formatMismatches(ms: readonly Mismatch[]): string {
  return ms
    .map((m) => `- ${m.client} | ${m.host} | ${m.mode} | said: ${m.said} | claims: ${m.claims}`)
    .join('\n');
}
