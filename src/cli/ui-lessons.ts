// The lessons as the terminal UI shows them (the `l` and `w` panels), folded from the same
// events as the UI's flow store: the live bus (start, proxy), a feed (attach) or a file
// (replay). The same folds run `mitm-lab check` and `mitm-lab report` on an events file.
import type { ProxyEvent } from '../events/types.ts';
import { EXERCISES, LeakFold, LessonProgress, type Exercise } from '../lessons/index.ts';
import type { UiLessons } from '../ui/index.ts';

export interface LiveLessons extends UiLessons {
  /** Feed one event (in order, every event the store gets). */
  apply(e: ProxyEvent): void;
  /** Start over from nothing (attach: the feed replays its history after a reconnect). */
  clear(): void;
}

type Listener = (done: { exercise: Exercise; title: string } | 'reset') => void;

export function liveLessons(fill: Readonly<Record<string, string>>): LiveLessons {
  let progress = new LessonProgress();
  let leaks = new LeakFold();
  const listeners = new Set<Listener>();
  let version = 0;
  const listen = (p: LessonProgress): void => {
    p.onDone = (c, exercise) => {
      version++;
      for (const l of listeners) l({ exercise, title: c.title });
    };
    p.onReset = () => {
      version++;
      for (const l of listeners) l('reset');
    };
  };
  listen(progress);
  return {
    exercises: EXERCISES,
    fill,
    apply(e) {
      progress.apply(e);
      leaks.apply(e);
    },
    clear() {
      progress = new LessonProgress();
      listen(progress);
      leaks = new LeakFold();
      version++;
    },
    progress: () => progress.exercises(),
    leaks: (reveal) => leaks.report(reveal),
    version: () => version + leaks.version,
    onProgress(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
