// The matrix as text: the raw measurements (JSON, and a long Markdown table for reading them),
// and docs/client-matrix.md, the table the docs link to — normalised so that a run on another
// day, with other ports and temp folders, renders the same file.
import type { CellRecord, MatrixResult } from './matrix.ts';
import { MATRIX_CLIENTS, MATRIX_MODES, type MatrixClient, type MatrixMode } from './types.ts';

/** One cell as the raw results list it: the run, the proxy's events, the explanation key. */
export function rawCell(c: CellRecord): object {
  return {
    client: c.client,
    host: c.host,
    mode: c.mode,
    outcome: c.outcome,
    code: c.code,
    text: c.text,
    explainKey: c.explanation?.key ?? null,
    events: c.events,
    flows: c.flows,
    ms: c.ms,
  };
}

export function rawJson(r: MatrixResult): string {
  return `${JSON.stringify(
    { versions: r.versions, skipped: r.skipped, ms: r.ms, cells: r.cells.map(rawCell) },
    null,
    1,
  )}\n`;
}

/** Words that vary between runs (ports, dates, temp paths, ids) replaced by stable stand-ins. */
export function normalise(text: string): string {
  return (
    text
      .replace(/\/tmp\/[\w./-]+/g, 'TMP')
      .replace(/(\.test|127\.0\.0\.1|localhost):\d{2,5}\b/g, '$1:PORT')
      .replace(/\bport[ =:]+\d{2,5}\b/gi, (m) => m.replace(/\d+$/, 'PORT'))
      .replace(
        /\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d\d:\d\d:\d\d \d{4}( GMT)?/g,
        'DATE',
      )
      .replace(/\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?/g, 'DATE')
      .replace(/mitm-lab throwaway CA \d{4}-\d\d-\d\d \w+/g, 'mitm-lab throwaway CA DATE ID')
      .replace(/\b0x[0-9a-f]{6,}\b/gi, '0x…')
      // OpenSSL prefixes its error lines with the thread id (Node's EPROTO messages keep it).
      .replace(/\b[0-9A-F]{12,16}:error:/g, 'error:')
  );
}

/** `|` would end a table cell. */
function cellText(s: string): string {
  return s.replace(/\|/g, '\\|');
}

function quote(s: string, max: number): string {
  const t = normalise(s);
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

const MODE_TITLE: Record<MatrixMode, string> = {
  direct: 'direct (no proxy; the client trusts the lab public root only)',
  'intercept-untrusted': 'intercept, CA not trusted (the client trusts the lab root only)',
  'intercept-trusted': "intercept, CA trusted (the client trusts the lab root and the proxy's CA)",
  'auto-first': 'auto, first attempt (the client trusts the lab root only)',
  'auto-retry': 'auto, the same request again (the proxy now tunnels the host)',
};

/** The raw measurements, readable: one long table, every cell with the proxy's side. */
export function rawMarkdown(r: MatrixResult): string {
  const lines = [
    '# Client matrix — raw measurements',
    '',
    `${r.cells.length} cells in ${Math.round(r.ms / 1000)} s.`,
    '',
    ...Object.entries(r.versions).map(([c, v]) => `- ${c}: ${v}`),
    ...r.skipped.map((s) => `- ${s.client}: SKIPPED, ${s.why}`),
  ];
  for (const mode of MATRIX_MODES) {
    const cells = r.cells.filter((c) => c.mode === mode);
    if (!cells.length) continue;
    lines.push('', `## ${MODE_TITLE[mode]}`, '');
    lines.push('| client | host | outcome | code | text | proxy events | explain key |');
    lines.push('|---|---|---|---|---|---|---|');
    for (const c of cells) {
      const ev = c.events
        .map((e) =>
          [e.connId, e.type, e.outcome, e.alert, e.reason, e.code, e.status ?? undefined]
            .filter((x) => x !== undefined && x !== null)
            .join(' '),
        )
        .join('; ');
      lines.push(
        `| ${c.client} | ${c.host} | ${c.outcome} | ${cellText(c.code)} | ${cellText(c.text)} | ${cellText(ev)} | ${c.explanation?.key ?? ''} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** How long a quote in docs/client-matrix.md may be. */
const QUOTE_CHARS = 140;

/**
 * The part of a client's words worth a table cell: OpenSSL's source file and line dropped; for
 * requests, whose message wraps the real one three times, the innermost message.
 */
function docQuote(c: CellRecord): string {
  let t = c.text.replace(/:\.\.\/[\w/.-]+\.c:\d+:?/g, ': ');
  if (c.client === 'python-requests') {
    const inner = /\((?:\d+, )?(['"])(.+?)\1\)+$/.exec(t);
    if (inner) t = `… ${inner[2]}`;
  }
  // A browser's words end with the code the cell already shows.
  if (t.endsWith(` | ${c.code}`)) t = t.slice(0, -` | ${c.code}`.length);
  return quote(t, QUOTE_CHARS);
}

const CLIENT_TITLE: Record<MatrixClient, string> = {
  curl: 'curl',
  wget: 'wget',
  'python-urllib': 'Python urllib',
  'python-requests': 'Python requests',
  node: 'Node https.get',
  openssl: 'openssl s_client',
  chromium: 'Chromium',
  firefox: 'Firefox ESR',
};

/**
 * docs/client-matrix.md: a header (what, how, which versions), then per mode a table host ×
 * client whose cell is the outcome's code and a short quote of the client's own words.
 */
export function docsMarkdown(r: MatrixResult): string {
  const clients = MATRIX_CLIENTS.filter((c) => r.cells.some((x) => x.client === c));
  const hosts = [...new Set(r.cells.map((c) => c.host))];
  const lines: string[] = [
    '# The client matrix: what real clients show',
    '',
    '<!-- Generated by test/e2e/client-matrix.test.ts: `npm run docs:matrix`. Do not edit. -->',
    '',
    `Every client below met \`bank.test\` and every gallery host of the built-in lab (see`,
    '[lab.md](lab.md)) in five ways, and this is what each one said, in its own words. The test',
    'that produced this page runs on every `npm test`: it holds every explanation the proxy gives',
    'for a case against what the client really did in it (and the direct cells against the',
    'gallery data), and fails when this page no longer matches a fresh run.',
    '',
    '- **direct**: no proxy; the client trusts the lab public root only.',
    '- **intercept, CA not trusted**: `--mode intercept`; the client trusts the lab root only.',
    "- **intercept, CA trusted**: `--mode intercept`; the client trusts the lab root and the proxy's CA.",
    '- **auto, first attempt** and **auto, retry**: `--mode auto` (the default); the client trusts',
    '  the lab root only; the same request twice — after the refusal, the proxy tunnels the host.',
    '',
    'A cell is the outcome: **bold** an HTTP status (the client got a response), `code` a',
    'failure before any response — curl, wget and `openssl s_client` their exit status, Node',
    '`err.code`, Python the innermost exception class, a browser the code its error page names —',
    "then the start of the client's message (for a browser: title | heading | code). Ports, dates",
    'and temporary paths are replaced by `PORT`, `DATE` and `TMP`.',
    '',
    'Clients (all on loopback; browsers headless with a fresh profile, trust through an NSS',
    "database, driven by puppeteer-core; Chromium's network prediction and Firefox's speculative",
    'connections off: no connections opened ahead):',
    '',
    ...clients.map((c) => `- ${CLIENT_TITLE[c]}: ${normalise(r.versions[c] ?? '?')}`),
  ];
  for (const mode of MATRIX_MODES) {
    const cells = r.cells.filter((c) => c.mode === mode);
    if (!cells.length) continue;
    lines.push('', `## ${MODE_TITLE[mode]}`, '');
    lines.push(`| host | ${clients.map((c) => CLIENT_TITLE[c]).join(' | ')} |`);
    lines.push(`|---|${clients.map(() => '---').join('|')}|`);
    for (const host of hosts) {
      const row = clients.map((client) => {
        const c = cells.find((x) => x.client === client && x.host === host);
        if (!c) return '';
        const code = c.outcome === 'ok' ? `**${c.code}**` : `\`${c.code}\``;
        return cellText(`${code} ${docQuote(c)}`);
      });
      lines.push(`| \`${host}\` | ${row.join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
