// The Lessons panel (`l`): every exercise with its checkpoints ticked live, folded from the
// events by src/lessons (the same fold `mitm-lab check` runs on a file); Enter on an exercise
// shows its steps, commands filled in and never wrapped, and the hint for what is missing.
import type { Exercise, ExerciseProgress } from '../../lessons/index.ts';
import { bold, cutLine, dim, esc, tag } from '../text.ts';

export interface LessonsContext {
  width: number;
  /** The exercise under the cursor, and whether its steps are shown. */
  index: number;
  open: boolean;
  /** Values for `{proxy}`, `{ca}`, `{labRoot}` in steps and hints. */
  fill: Readonly<Record<string, string>>;
}

/** `{name}` slots filled; unknown slots stay as they are (the page says what they mean). */
export function fillSlots(text: string, fill: Readonly<Record<string, string>>): string {
  return text.replace(/\{(\w+)\}/g, (all, name: string) => fill[name] ?? all);
}

const tick = (done: boolean): string => (done ? tag('green-fg', '[x]') : dim('[ ]'));

export function lessonsView(
  exercises: readonly Exercise[],
  progress: readonly ExerciseProgress[],
  ctx: LessonsContext,
): string[] {
  const out: string[] = [
    `${bold('Lessons')}  ${dim('Up/Down choose, Enter shows the steps, Esc or l closes')}`,
    dim('Ticks come from the events alone; `npx mitm-lab check N --events FILE` agrees.'),
    '',
  ];
  exercises.forEach((ex, i) => {
    const p = progress.find((x) => x.id === ex.id);
    const done = p?.checkpoints.filter((c) => c.done).length ?? 0;
    const total = ex.checkpoints.length;
    const head = `${i === ctx.index ? '>' : ' '} Exercise ${ex.id}: ${ex.title}  ${done}/${total}${p?.done ? '  done' : ''}`;
    out.push(i === ctx.index ? `{inverse}${esc(head)}{/inverse}` : esc(head));
    for (const c of p?.checkpoints ?? []) out.push(`    ${tick(c.done)} ${esc(c.title)}`);
    if (i !== ctx.index) return;
    const next = p?.checkpoints.find((c) => !c.done);
    if (next) out.push(`    ${tag('yellow-fg', 'next:')} ${esc(fillSlots(next.hint, ctx.fill))}`);
    if (!ctx.open) return;
    out.push('', `    ${bold('Goal')}  ${esc(ex.goal)}`, '', `    ${bold('Steps')}`);
    ex.steps.forEach((step, n) => {
      out.push(`    ${n + 1}.`);
      // A command is never wrapped (copying a wrapped one breaks it): cut, with a marker.
      out.push(esc(cutLine(`       ${fillSlots(step, ctx.fill)}`, ctx.width)));
    });
    out.push('', dim(`    The page: ${ex.page}   y writes every command, unwrapped, to a file`));
  });
  return out;
}
