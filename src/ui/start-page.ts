// The start page (`g`, and the detail pane while nothing is listed) and the victim tour's panel:
// plain-text lines the caller gives (commands to copy, the projector command) and the tour's
// narration. A command is never wrapped — a wrapped command pastes broken — so lines that start
// with a space (the caller's convention for commands) are cut with a marker instead, and `y`
// writes them whole to a file.
import { bold, cutLine, dim, esc, tag } from './text.ts';

/** The keys a newcomer needs next, shown at the foot of the start page. */
const NEXT_KEYS =
  'l the lessons, ticked as you go;  w what HTTPS does not hide;  R reset the lab;  y save these commands to a file;  ? every key';

export interface StartPageInput {
  /** Nothing listed yet (the page fills the pane by itself). */
  empty: boolean;
  /** The caller's lines; null for the default ones. */
  guide: readonly string[] | null;
  /** The proxy's address for the default lines. */
  listen: string;
  /** The tour's narration so far. */
  narration: readonly string[];
  width: number;
}

/** Is this guide line a command (cut, never wrapped)? */
export function isCommandLine(line: string): boolean {
  return /^\s/.test(line) && line.trim() !== '';
}

export function startPageLines(p: StartPageInput): string[] {
  const title = p.empty
    ? '{bold}No flows yet.{/bold} Try these, from another terminal:'
    : '{bold}Start page{/bold}  (g goes back to the flow)';
  const body = p.guide ?? [
    'Point a client at the proxy, for example:',
    `  curl -x http://${p.listen} http://bank.test/`,
    `  curl -x http://${p.listen} https://bank.test/`,
  ];
  // The narration first: after a tour it is what the audience asks about; the commands follow.
  const lines = [title, ''];
  if (p.narration.length) lines.push(bold('Victim tour'), ...p.narration.map(esc), '');
  for (const line of body)
    lines.push(isCommandLine(line) ? esc(cutLine(line, p.width)) : esc(line));
  lines.push('', dim(esc(NEXT_KEYS)));
  lines.push(dim('Each request or TLS connection becomes a row above.'));
  return lines;
}

export interface TourPanelInput {
  narration: readonly string[];
  /** The step the tour waits to run (Enter runs it), or null while a step runs or when done. */
  waiting: { index: number; total: number; title: string } | null;
  running: boolean;
}

/** A step's first narration line: `[2/9] title — url`. */
const STEP_LINE = /^\[(\d+)\/(\d+)\] /;

/**
 * The tour panel, what matters on top (it never scrolls out of view): what Enter does next, the
 * step just run in full, then the earlier steps one line each, the latest first.
 */
export function tourPanelLines(t: TourPanelInput): string[] {
  const out: string[] = [
    `${bold('Victim tour')}  ${dim('Enter runs the next step; Esc hides this panel (t shows it again)')}`,
  ];
  if (t.waiting)
    out.push(
      tag(
        'green-fg',
        bold(esc(`Enter: run step ${t.waiting.index}/${t.waiting.total}: ${t.waiting.title}`)),
      ),
    );
  else if (t.running) out.push(dim('running this step...'));
  else out.push(dim('The tour is over: t runs it again on the other device.'));
  out.push('');
  let lastStep = -1;
  t.narration.forEach((line, i) => {
    if (STEP_LINE.test(line)) lastStep = i;
  });
  const current = lastStep >= 0 ? t.narration.slice(lastStep) : t.narration;
  current.forEach((line, i) =>
    out.push(i === 0 && lastStep >= 0 ? tag('yellow-fg', bold(esc(line))) : esc(line)),
  );
  // After the tour, its last line ("victim tour done") is in `current` already.
  const earlier = lastStep >= 0 ? t.narration.slice(0, lastStep) : [];
  const headings = earlier.filter((line) => STEP_LINE.test(line) || !line.startsWith('    '));
  if (headings.length) out.push('', dim('Earlier:'), ...headings.reverse().map((l) => dim(esc(l))));
  return out;
}
