// The instructor's classroom grid (`mitm-lab classroom`): one row per student, one column per
// exercise (done/total checkpoints, ticking live), their last outcome in words and how long
// since they were last heard from; class totals per exercise under the grid; Enter shows one
// student's checkpoints and hints; g shows the join command and its QR code. Same house as the
// proxy's UI: screen.ts owns the terminal, the redraw scheduler draws at most `fps` a second.
import { LAST_WORDS, type Roster, type StudentRow } from '../classroom/index.ts';
import { EXERCISES } from '../lessons/index.ts';
import { qrLines } from './qr.ts';
import { scheduleRedraws } from './scheduler.ts';
import { FOOTER_ROWS, HEADER_ROWS, TAB_ROWS, openScreen } from './screen.ts';
import { bold, dim, esc, fit, tag } from './text.ts';
import { wrapAll } from './wrap.ts';

export interface ClassroomUiOptions {
  roster: Roster;
  /** The command students run to join (shown on the join page and in the header). */
  joinCommand: string;
  /** The URL the QR code carries (the join URL). */
  joinUrl: string;
  /** `listening on 192.168.1.10:4000`, `replay of class.jsonl`… */
  source: string;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  /** Frames per second at most (default 10). */
  fps?: number;
  /** Called after each frame (tests count frames). */
  onFrame?: () => void;
}

export interface RunningClassroomUi {
  done: Promise<void>;
  destroy(): void;
  text(): string[];
  redraw(): void;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

export function classroomRow(
  roster: Roster,
  row: StudentRow,
  now: number,
  width: number,
  selected: boolean,
): string {
  const cells = roster
    .cells(row)
    .map((c) =>
      c.done === c.total
        ? tag('green-fg', fit(`${c.done}/${c.total}`, 5))
        : c.done > 0
          ? tag('yellow-fg', fit(`${c.done}/${c.total}`, 5))
          : dim(fit(`${c.done}/${c.total}`, 5)),
    )
    .join(' ');
  const seen = row.connected ? ago(now - row.lastSeen) : 'gone';
  const nameW = 16;
  const fixed = nameW + 1 + EXERCISES.length * 6 + 6 + 1;
  const last = row.last ? LAST_WORDS[row.last] : '-';
  const text = `${esc(fit(row.name, nameW))} ${cells} ${fit(seen, 5)} ${esc(fit(last, Math.max(4, width - fixed)))}`;
  return selected ? `{inverse}${text}{/inverse}` : text;
}

export function startClassroomUi(opts: ClassroomUiOptions): RunningClassroomUi {
  const { roster } = opts;
  const screen = openScreen({
    mouse: false,
    ...(opts.stdin ? { input: opts.stdin } : {}),
    ...(opts.stdout ? { output: opts.stdout } : {}),
  });
  let selected = 0;
  let detail = false;
  let join = roster.size === 0;
  let scroll = 0;
  let dirty = true;
  let finished = false;
  let lastVersion = -1;

  function draw(): void {
    const now = Date.now();
    const width = screen.width;
    const students = roster.students();
    selected = Math.max(0, Math.min(selected, students.length - 1));
    const body = Math.max(3, screen.height - HEADER_ROWS - FOOTER_ROWS - TAB_ROWS);
    const listRows = Math.max(3, Math.round(body * 0.55));
    const detailRows = Math.max(1, body - listRows);
    const connected = students.filter((s) => s.connected).length;
    const header = [
      `${bold('mitm-lab classroom')}  ${esc(opts.source)}  ${students.length} student${students.length === 1 ? '' : 's'}, ${connected} connected`,
      esc(fit(`join: ${opts.joinCommand}`, width)),
    ];
    const cols = EXERCISES.map((e) => fit(`Ex ${e.id}`, 5)).join(' ');
    const list = [
      `{underline}${esc(`${fit('student', 16)} ${cols} ${fit('seen', 5)} last outcome`)}{/underline}`,
    ];
    const visible = listRows - 1;
    const top = Math.max(0, Math.min(selected - visible + 1, students.length - visible));
    for (let i = Math.max(0, top); i < Math.min(students.length, Math.max(0, top) + visible); i++)
      list.push(classroomRow(roster, students[i]!, now, width, i === selected));
    if (students.length === 0)
      list.push(dim('No student yet: g shows the join command and its QR code.'));
    while (list.length < listRows) list.push('');
    const totals = roster
      .totals()
      .map((t) => `Ex ${t.id} ${t.complete}/${t.students}`)
      .join('  ');
    let lines: string[];
    const student = students[selected];
    if (join || !student) {
      lines = [
        bold('Join the class'),
        'Each student, in the mitm-lab folder:',
        `  ${opts.joinCommand}`,
        dim('(their own name for NAME; only checkpoint ids and counts of flows by badge are sent)'),
        '',
        ...qrLines(opts.joinUrl),
      ];
    } else if (detail) {
      lines = [
        `${bold(esc(student.name))}  ${dim(student.connected ? `seen ${ago(now - student.lastSeen)} ago` : 'disconnected')}`,
      ];
      lines.push(
        esc(
          `flows: ${student.outcomes.plaintext} plaintext, ${student.outcomes.decrypted} decrypted, ${student.outcomes.refused} refused, ${student.outcomes.tunnelled} tunnelled`,
        ),
      );
      for (const ex of EXERCISES) {
        lines.push('', bold(esc(`Exercise ${ex.id}: ${ex.title}`)));
        let hinted = false;
        for (const c of ex.checkpoints) {
          const done = student.done.has(c.id);
          lines.push(`  ${done ? tag('green-fg', '[x]') : dim('[ ]')} ${esc(c.title)}`);
          if (!done && !hinted) {
            lines.push(`      ${dim(esc(`hint: ${c.hint}`))}`);
            hinted = true;
          }
        }
      }
    } else {
      lines = [
        `${bold(esc(student.name))}  ${dim('Enter: checkpoints and hints')}`,
        esc(student.last ? LAST_WORDS[student.last] : 'no flow yet'),
      ];
    }
    const wrapped = wrapAll(lines, width);
    scroll = Math.max(0, Math.min(scroll, wrapped.length - detailRows));
    screen.draw({
      header,
      list,
      tabs: esc(fit(`complete: ${totals}`, width)),
      detail: wrapped.slice(scroll, scroll + detailRows),
      footer: dim('j/k move  Enter student  g join command  q quit'),
      overlay: null,
    });
    lastVersion = roster.version;
    dirty = false;
    opts.onFrame?.();
  }

  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  // The "seen" column ages: redraw once a second even when nothing arrives.
  let lastSecond = Math.floor(Date.now() / 1000);
  const scheduler = scheduleRedraws({
    fps: opts.fps ?? 10,
    version: () => roster.version,
    dirty: () => {
      const second = Math.floor(Date.now() / 1000);
      if (second !== lastSecond) {
        lastSecond = second;
        dirty = true;
      }
      return dirty || roster.version !== lastVersion;
    },
    draw,
  });
  function finish(): void {
    if (finished) return;
    finished = true;
    scheduler.stop();
    screen.destroy();
    resolveDone();
  }
  screen.onKey((name) => {
    if (finished) return;
    switch (name) {
      case 'q':
      case 'C-c':
        return finish();
      case 'down':
      case 'j':
        if (detail) scroll++;
        else selected++;
        join = false;
        break;
      case 'up':
      case 'k':
        if (detail) scroll = Math.max(0, scroll - 1);
        else selected = Math.max(0, selected - 1);
        break;
      case 'enter':
        detail = !detail;
        join = false;
        scroll = 0;
        break;
      case 'escape':
        detail = false;
        join = false;
        break;
      case 'g':
        join = !join;
        scroll = 0;
        break;
      default:
        return;
    }
    draw();
  });
  screen.onResize(() => {
    if (!finished) draw();
  });
  draw();
  return {
    done,
    destroy: finish,
    text: () => screen.text(),
    redraw: () => {
      if (!finished) draw();
    },
  };
}
