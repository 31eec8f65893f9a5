// The terminal UI's controller: it owns the screen, turns keys into inputs for the pure reducer
// (state.ts), runs the effects the reducer asks for through `Controls` and the caller's
// actions, and draws a frame from the state, the flow store and the lessons. The redraw timer
// (scheduler.ts) draws only when something changed. It reads the flow store and asks the engine
// for things only through `Controls`, so it runs the same in `start`, `proxy`, `attach` and
// `replay`.
import type { ExplainContext } from '../explain/index.ts';
import type { Controls } from '../events/controls.ts';
import { MODES } from '../events/types.ts';
import type { Exercise, ExerciseProgress, LeakReport } from '../lessons/index.ts';
import { describeFilter, type Flow, type FlowStore } from '../store/index.ts';
import { footerHints, headerLines, helpLines, listHeader, listRow, tabsLine } from './frame.ts';
import { BINDINGS } from './keymap.ts';
import { scheduleRedraws } from './scheduler.ts';
import { FOOTER_ROWS, HEADER_ROWS, TAB_ROWS, openScreen, type TermScreen } from './screen.ts';
import { startPageLines, tourPanelLines } from './start-page.ts';
import {
  initialState,
  MESSAGE_MS,
  reduce,
  say as withMessage,
  settle,
  shownPanel,
  type UiEffect,
  type UiEnv,
  type UiInput,
  type UiState,
} from './state.ts';
import { dim, esc } from './text.ts';
import { certificatesView } from './views/certificates.ts';
import { decryptedView } from './views/decrypted.ts';
import { leaksView } from './views/leaks.ts';
import { lessonsView } from './views/lessons.ts';
import { timelineView } from './views/timeline.ts';
import { whyView } from './views/why.ts';
import { wireView, type ViewContext } from './views/wire.ts';
import { wrapAll } from './wrap.ts';

export interface UiInfo {
  /** The proxy's address as a client should use it, e.g. `127.0.0.1:8080`. */
  listen: string;
  caName: string;
  /** The CA certificate's SHA-256, colon-separated hex. */
  caSha256: string;
}

/**
 * The lessons as the UI shows them: the exercises (data), their progress and the leak report,
 * both folded from the same events as the store by the caller (src/lessons), so `check` and
 * `report` on the events file agree with what the UI shows.
 */
export interface UiLessons {
  exercises: readonly Exercise[];
  progress(): ExerciseProgress[];
  leaks(reveal: boolean): LeakReport;
  /** Changes with every change of progress or report (the UI redraws on it). */
  version(): number;
  /**
   * Subscribe to checkpoints becoming done (the footer announces them) and to a reset; returns
   * the unsubscribe function.
   */
  onProgress(listener: (done: { exercise: Exercise; title: string } | 'reset') => void): () => void;
  /** Values for `{proxy}`, `{ca}`, `{labRoot}` in the exercises' steps. */
  fill: Readonly<Record<string, string>>;
}

export interface UiOptions {
  store: FlowStore;
  /** Absent when attached to a feed or replaying a file: the engine's keys then say so. */
  controls?: Controls;
  /** Why `controls` is absent, for the footer (default "when attached (… on the proxy)"). */
  readOnlyWhy?: string;
  info: UiInfo;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  /** Hide passwords, cookies and tokens until `r` (default true: projector-safe). */
  redact?: boolean;
  /** Redraw rate ceiling, frames per second (default 12: smooth to the eye, cheap for the proxy). */
  fps?: number;
  /** Shown in the header, e.g. `attached to ws://127.0.0.1:41234`. */
  source?: string;
  /** Mouse reporting (default off: it breaks text selection). */
  mouse?: boolean;
  /** What the composition root knows beyond the events (the lab's hosts) for explanations. */
  explain?: ExplainContext;
  /**
   * Keys the caller handles itself, outside KEYMAP, listed in the help overlay after the UI's
   * own so the overlay stays the one place to learn every key. Prefer a KEYMAP entry bound
   * through `actions` (as the tour is).
   */
  extraKeys?: ReadonlyArray<{ label: string; help: string }>;
  /**
   * Actions the caller provides for optional keys (KEYMAP entries such as `t`). A key whose
   * action is absent says it is not available here (e.g. the tour in `proxy` and `attach`).
   */
  actions?: UiActions;
  /**
   * The start page: plain-text lines (commands to copy, the projector command…) shown in the
   * detail pane while no flow is selected, and at any time with `g`. A line that starts with a
   * space is a command: never wrapped (cut with a marker), and `y` writes it whole to a file.
   */
  guide?: readonly string[];
  /** The Lessons panel (`l`) and the leak report (`w`); absent: those keys say so. */
  lessons?: UiLessons;
  /** Called after each frame with the time it took, ms (the UI benchmark uses it). */
  onFrame?: (ms: number) => void;
}

export interface UiActions {
  /**
   * `t`: run the victim tour (start). Its narration comes back through `print`; it awaits
   * `beforeStep` before each step, which the UI resolves when Enter is pressed in the tour panel.
   */
  tour?: (
    print: (line: string) => void,
    beforeStep: (index: number, total: number, title: string) => Promise<void>,
  ) => Promise<void> | void;
  /** `y`: write these lines to a file the user can copy from; resolves to its path. */
  saveText?: (text: string) => Promise<string>;
  /** `e` without a HAR file of the caller's: write the HAR somewhere new; resolves to its path. */
  exportHar?: () => Promise<string>;
}

export interface RunningUi {
  /** Resolves when the user quits (q) or destroy() is called; the terminal is restored. */
  done: Promise<void>;
  destroy(): void;
  /** Draw now (tests; the timer does it otherwise). */
  redraw(): void;
  /** The screen as rendered, one string per row (tests, captures). */
  text(): string[];
  /**
   * Show a message in the footer until the next one (e.g. `attach`: the feed closed), or for
   * `ms` milliseconds when given.
   */
  notify(text: string, ms?: number): void;
  /**
   * A narration line (e.g. each victim step's result): shown in the footer for a while and
   * kept, with the recent ones, on the start page (`g`) and in the tour panel.
   */
  log(line: string): void;
}

/** Narration lines kept for the start page. */
const LOG_LINES = 100;

type ViewFn = (flow: Flow, ctx: ViewContext) => string[];
const VIEW_FNS: readonly ViewFn[] = [
  wireView,
  decryptedView,
  certificatesView,
  whyView,
  timelineView,
];

/** Lab names (RFC 2606 `.test`, `.localhost`) and loopback: what `o` keeps in the list. */
export function isLabHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return (
    h.endsWith('.test') ||
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    /^127\./.test(h) ||
    h === '::1' ||
    h === '[::1]'
  );
}

export function startUi(opts: UiOptions): RunningUi {
  const { store, controls, lessons } = opts;
  const screenOpts: Parameters<typeof openScreen>[0] = { mouse: opts.mouse ?? false };
  if (opts.stdin) screenOpts.input = opts.stdin;
  if (opts.stdout) screenOpts.output = opts.stdout;
  const screen: TermScreen = openScreen(screenOpts);

  let state: UiState = initialState({
    redact: opts.redact ?? true,
    mode: controls ? modeText(controls) : (store.listening?.mode ?? '?'),
  });
  const narration: string[] = [];
  /** The tour's step waiting for Enter, and how to let it run. */
  let tourGate: {
    index: number;
    total: number;
    title: string;
    go: () => void;
  } | null = null;
  let tourRunning = false;
  let guideWasShown = false;
  let dirty = true;
  let finished = false;
  let drawFailures = 0;
  /** Frames skipped because the terminal had not taken the previous one yet. */
  let skippedFrames = 0;
  const readOnlyWhy = opts.readOnlyWhy ?? 'when attached (use the key on the proxy)';

  function say(text: string, ms = MESSAGE_MS): void {
    state = withMessage(state, text, Date.now(), ms);
    dirty = true;
  }

  // ---- derived data, cached per store version + filter ----
  let rowsCache: { version: number; key: string; rows: Flow[] } | null = null;
  function rows(): readonly Flow[] {
    if (state.paused) return state.paused.flows;
    const key = `${describeFilter(state.filter)}|${state.labOnly}`;
    if (!rowsCache || rowsCache.version !== store.version || rowsCache.key !== key) {
      const all = store.query(state.filter);
      rowsCache = {
        version: store.version,
        key,
        rows: state.labOnly ? all.filter((f) => isLabHost(f.host)) : all,
      };
    }
    return rowsCache.rows;
  }

  function panel(): ReturnType<typeof shownPanel> {
    return shownPanel(state, { hasGuide: opts.guide !== undefined, storeSize: store.size });
  }

  function layout(): { listRows: number; detailHeight: number } {
    const body = Math.max(3, screen.height - HEADER_ROWS - FOOTER_ROWS - TAB_ROWS);
    // An empty list needs little room: the start page's commands get the rest.
    const share = panel() === 'guide' && store.size === 0 ? 0 : 0.4;
    const listRows = state.open ? 0 : Math.max(3, Math.min(body - 3, Math.round(body * share)));
    return { listRows, detailHeight: Math.max(1, body - listRows) };
  }

  function env(): UiEnv {
    const { listRows, detailHeight } = layout();
    return {
      now: Date.now(),
      rows: rows(),
      storeSize: store.size,
      listRows,
      detailRows: detailHeight,
      hasGuide: opts.guide !== undefined,
      readOnly: !controls,
      readOnlyWhy,
      canTour: opts.actions?.tour !== undefined,
      tourWaiting: tourGate !== null,
      lessons: lessons?.exercises.length ?? 0,
    };
  }

  function panelLines(width: number): string[] | null {
    switch (panel()) {
      case 'guide':
        return startPageLines({
          empty: store.size === 0,
          guide: opts.guide ?? null,
          listen: opts.info.listen,
          narration,
          width,
        });
      case 'lessons':
        return lessons
          ? lessonsView(lessons.exercises, lessons.progress(), {
              width,
              index: state.lesson.index,
              open: state.lesson.open,
              fill: lessons.fill,
            })
          : null;
      case 'leaks':
        return lessons ? leaksView(lessons.leaks(!state.redact)) : null;
      case 'tour':
        return tourPanelLines({
          narration,
          waiting: tourGate,
          running: tourRunning,
        });
      case 'none':
        return null;
    }
  }

  function frameDetail(
    flow: Flow | undefined,
    width: number,
    height: number,
  ): { lines: string[]; total: number } {
    let lines: string[];
    const fromPanel = panelLines(width);
    const showGuide = fromPanel !== null;
    // From a panel to the first flow (or back): each starts at its top.
    if (showGuide !== guideWasShown) state = { ...state, detailScroll: 0 };
    guideWasShown = showGuide;
    if (fromPanel) {
      lines = fromPanel;
    } else if (!flow) {
      lines = [
        '{bold}No flows yet.{/bold}',
        '',
        `Point a client at the proxy, for example:`,
        `  curl -x http://${esc(opts.info.listen)} http://bank.test/`,
        `  curl -x http://${esc(opts.info.listen)} https://bank.test/`,
        '',
        dim('Each request or TLS connection becomes a row above; ? lists the keys.'),
      ];
      if (state.paused) lines = ['Paused: p resumes the list.'];
      else if (store.size > 0)
        lines = [
          state.labOnly
            ? 'No flow to a lab host matches. o lists every host; Esc clears a filter.'
            : 'No flow matches the filter. Esc clears it, / edits it.',
        ];
    } else {
      try {
        lines = VIEW_FNS[state.view]!(flow, {
          redact: state.redact,
          width,
          ...(opts.explain ? { explain: opts.explain } : {}),
        });
      } catch (err) {
        // A view must never take the proxy down with it (the UI runs in the proxy's process).
        lines = [
          `{red-fg}This view could not be drawn for ${esc(flow.id)}:{/red-fg}`,
          esc(err instanceof Error ? err.message : String(err)),
          dim('The other views and the proxy keep working; please report it.'),
        ];
      }
    }
    const wrapped = wrapAll(lines, width);
    const maxScroll = Math.max(0, wrapped.length - height);
    if (state.detailScroll > maxScroll) state = { ...state, detailScroll: maxScroll };
    const top = state.detailScroll;
    return { lines: wrapped.slice(top, top + height), total: wrapped.length };
  }

  function draw(): void {
    // The terminal is not reading (a stopped emulator, a stalled SSH session): drawing now would
    // only queue more output behind what it has not taken. Skip, and draw once it has.
    if (screen.backlog > 0) {
      skippedFrames++;
      dirty = true;
      return;
    }
    if (skippedFrames > 0) {
      say(`terminal not reading: ${skippedFrames} frame${skippedFrames === 1 ? '' : 's'} skipped`);
      skippedFrames = 0;
    }
    const started = performance.now();
    try {
      drawFrame();
    } catch (err) {
      // Same reason: a drawing bug must not become an uncaught exception in the proxy.
      drawFailures++;
      if (drawFailures <= 3)
        say(`display error: ${err instanceof Error ? err.message : String(err)}`);
      dirty = false;
    }
    opts.onFrame?.(performance.now() - started);
  }

  const available: ReadonlySet<string> = new Set([
    ...(opts.actions?.tour ? ['tour'] : []),
    ...(lessons ? ['lessons'] : []),
  ]);

  function drawFrame(): void {
    const width = screen.width;
    const list = rows();
    const { listRows, detailHeight } = layout();
    state = settle(state, list, Math.max(0, listRows - 1));
    const selected = state.selectedIndex >= 0 ? list[state.selectedIndex] : undefined;

    const listLines: string[] = [];
    if (listRows > 0) {
      const visible = listRows - 1;
      listLines.push(listHeader(width));
      for (let i = state.listTop; i < Math.min(list.length, state.listTop + visible); i++)
        listLines.push(listRow(list[i]!, width, i === state.selectedIndex, state.redact));
      while (listLines.length < listRows) listLines.push('');
    }

    const detail = frameDetail(selected, width, detailHeight);
    const shown = panel();
    const position =
      shown !== 'none'
        ? shown === 'guide' && state.panel === 'none'
          ? '' // the start page by itself, while nothing is listed
          : PANEL_TITLES[shown]
        : selected === undefined
          ? ''
          : `${selected.id}  ${detail.total > detailHeight ? `${state.detailScroll + 1}-${Math.min(detail.total, state.detailScroll + detailHeight)}/${detail.total}` : ''}`;

    if (state.message && state.message.until < Date.now()) state = { ...state, message: null };
    const footer =
      state.editing !== null
        ? `/${esc(state.editing)}_  ${dim('Enter apply, Esc cancel   host:  badge:  vis:  outcome:  text')}`
        : state.message
          ? esc(state.message.text)
          : footerHints(width, available);

    const filterText = [describeFilter(state.filter), state.labOnly ? 'lab hosts only' : '']
      .filter(Boolean)
      .join(', ');
    screen.draw({
      header: headerLines(
        {
          listen: opts.info.listen,
          mode: state.mode,
          caName: opts.info.caName || store.listening?.caName || '',
          caSha256: opts.info.caSha256 || store.listening?.caSha256 || '',
          counts: store.counts(),
          shown: list.length,
          total: store.size,
          maxFlows: store.maxFlows,
          paused: state.paused ? { newSince: Math.max(0, store.size - state.paused.size) } : null,
          redact: state.redact,
          filter: filterText,
          source: opts.source ?? null,
          tamper: store.listening?.tamper ?? [],
        },
        width,
      ),
      list: listLines,
      tabs: tabsLine(state.view, position, width),
      detail: detail.lines,
      footer,
      overlay: state.help ? helpOverlay() : null,
    });
    dirty = false;
  }

  /** The help overlay's lines, cut to the screen with a "more" line when they do not fit. */
  function helpOverlay(): string[] {
    // Wrapped to the overlay's inside (screen minus margin and border), hanging under the help.
    const all = wrapAll(helpLines(!controls, opts.extraKeys ?? []), Math.max(20, screen.width - 4));
    const room = Math.max(3, screen.height - 5); // margin, border, and one line for "more"
    if (all.length <= room + 1) {
      if (state.helpScroll !== 0) state = { ...state, helpScroll: 0 };
      return all;
    }
    const helpScroll = Math.min(state.helpScroll, all.length - room);
    if (helpScroll !== state.helpScroll) state = { ...state, helpScroll };
    const shown = all.slice(helpScroll, helpScroll + room);
    shown.push(
      dim(
        `-- ${helpScroll + 1}-${helpScroll + shown.length}/${all.length}: Down/Up scroll, any other key closes --`,
      ),
    );
    return shown;
  }

  // ---- effects ----
  async function exportHar(): Promise<void> {
    const write = controls?.exportHar?.bind(controls) ?? opts.actions?.exportHar;
    if (!write) {
      say(
        controls
          ? 'HAR export: not available (no HAR recorder in this run)'
          : `HAR export: not available ${readOnlyWhy}`,
      );
      return;
    }
    say('HAR export: writing...');
    try {
      const file = await write();
      say(`HAR written: ${file}`, MESSAGE_MS * 3);
    } catch (err) {
      say(`HAR export failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Every command the UI offers (start page, then each exercise's steps), whole. */
  function commandsText(): string {
    const out: string[] = ['# mitm-lab: the commands of the start page and the lessons', ''];
    for (const line of opts.guide ?? []) out.push(line.trim() === '' ? '' : line);
    for (const ex of lessons?.exercises ?? []) {
      out.push('', `# Exercise ${ex.id}: ${ex.title} (${ex.page})`);
      for (const step of ex.steps)
        out.push(step.replace(/\{(\w+)\}/g, (all, n: string) => lessons?.fill[n] ?? all));
    }
    return `${out.join('\n')}\n`;
  }

  async function saveGuide(): Promise<void> {
    const save = opts.actions?.saveText;
    if (!save) {
      say('save commands: not available here');
      return;
    }
    try {
      say(`commands written, unwrapped: ${await save(commandsText())}`, MESSAGE_MS * 3);
    } catch (err) {
      say(`could not write the commands: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  function startTour(): void {
    const tour = opts.actions?.tour;
    if (!tour) return;
    if (tourRunning) return; // the panel shows the running tour again
    tourRunning = true;
    narration.length = 0;
    const beforeStep = (index: number, total: number, title: string): Promise<void> =>
      new Promise<void>((resolve) => {
        if (finished) return resolve();
        tourGate = {
          index,
          total,
          title,
          go: () => {
            tourGate = null;
            resolve();
          },
        };
        dirty = true;
      });
    void Promise.resolve()
      .then(() => tour((line) => log(line), beforeStep))
      .catch((err: unknown) => log(`victim tour failed: ${String(err)}`))
      .finally(() => {
        tourRunning = false;
        tourGate = null;
        dirty = true;
      });
  }

  function run(effect: UiEffect): void {
    switch (effect.kind) {
      case 'clearStore':
        store.clear();
        rowsCache = null;
        return;
      case 'cycleMode': {
        if (!controls) return;
        const next = MODES[(MODES.indexOf(controls.getMode()) + 1) % MODES.length]!;
        controls.setMode(next);
        state = { ...state, mode: modeText(controls) };
        say(`mode ${controls.getMode()}: applies to new connections`);
        return;
      }
      case 'cycleTlsMax': {
        if (!controls) return;
        const next = controls.getClientTlsMax() === '1.3' ? '1.2' : '1.3';
        controls.setClientTlsMax(next);
        state = { ...state, mode: modeText(controls) };
        say(
          next === '1.2'
            ? 'clients get at most TLS 1.2 (new connections): the forged certificate crosses the wire in clear'
            : 'clients may use TLS 1.3 again (new connections): the certificate is encrypted',
        );
        return;
      }
      case 'forget': {
        const n = controls?.forgetRejected() ?? 0;
        say(`forgot ${n} refused host${n === 1 ? '' : 's'}: auto mode will intercept them again`);
        return;
      }
      case 'reset': {
        const n = controls?.resetLab() ?? 0;
        say(
          `lab reset: list emptied, ${n} refused host${n === 1 ? '' : 's'} forgotten, lessons restarted`,
        );
        return;
      }
      case 'export':
        void exportHar();
        return;
      case 'tour':
        startTour();
        return;
      case 'tourNext':
        tourGate?.go();
        return;
      case 'saveGuide':
        void saveGuide();
        return;
      case 'quit':
        finish();
        return;
      default: {
        const never: never = effect;
        return never;
      }
    }
  }

  function dispatch(input: UiInput): void {
    const step = reduce(state, input, env());
    state = step.state;
    dirty = true;
    for (const effect of step.effects) {
      try {
        run(effect);
      } catch (err) {
        say(`${effect.kind}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  function onKey(name: string, ch: string | undefined): void {
    if (finished) return;
    if (state.editing !== null) {
      if (name === 'C-c') return finish();
      dispatch({ type: 'edit', name, ch });
    } else {
      const action = BINDINGS.get(name);
      if (!action && !state.help) return;
      dispatch(action ? { type: 'action', action } : { type: 'unbound' });
    }
    if (!finished) draw();
  }

  function log(line: string): void {
    if (line.trim() === '') return; // spacing between steps: the page has its own
    narration.push(line);
    if (narration.length > LOG_LINES) narration.splice(0, narration.length - LOG_LINES);
    // In the tour panel the line is on screen already; elsewhere the footer shows it a while.
    if (panel() !== 'tour') say(line, MESSAGE_MS * 2);
    dirty = true;
  }

  // ---- lifecycle ----
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const unsubscribe = store.subscribe(() => {
    dirty = true;
  });
  const offProgress =
    lessons?.onProgress((what) => {
      if (what === 'reset') say('lessons restarted: nothing done yet since the reset');
      else
        say(`done: Exercise ${what.exercise.id}: ${what.title}  (l: the lessons)`, MESSAGE_MS * 2);
    }) ?? (() => undefined);
  let lessonsVersion = lessons?.version() ?? 0;
  const scheduler = scheduleRedraws({
    fps: opts.fps ?? 12,
    version: () => store.version,
    dirty: () => {
      if (controls) {
        const m = modeText(controls);
        if (m !== state.mode) {
          state = { ...state, mode: m };
          dirty = true;
        }
      }
      if (lessons && lessons.version() !== lessonsVersion) {
        lessonsVersion = lessons.version();
        if (panel() === 'lessons' || panel() === 'leaks') dirty = true;
      }
      if (state.message && state.message.until < Date.now()) dirty = true;
      return dirty;
    },
    draw,
  });

  function finish(): void {
    if (finished) return;
    finished = true;
    scheduler.stop();
    unsubscribe();
    offProgress();
    tourGate?.go(); // a tour waiting for Enter goes on (and stops at the proxy's shutdown)
    screen.destroy();
    resolveDone();
  }

  screen.onKey(onKey);
  screen.onResize(() => {
    if (!finished) draw();
  });
  draw();

  return {
    done,
    destroy: finish,
    redraw: () => {
      if (!finished) draw();
    },
    text: () => screen.text(),
    notify: (text, ms) => say(text, ms ?? Number.MAX_SAFE_INTEGER / 2),
    log,
  };
}

/** The header's mode: the CONNECT mode, and the client TLS cap when it is on (`v`). */
function modeText(controls: Controls): string {
  return controls.getClientTlsMax() === '1.2'
    ? `${controls.getMode()}, client TLS<=1.2`
    : controls.getMode();
}

/** What the tab bar's right side says while a panel fills the detail pane. */
const PANEL_TITLES = {
  guide: 'start page: g closes',
  lessons: 'Lessons: l closes',
  leaks: 'What HTTPS does not hide: w closes',
  tour: 'Victim tour: Enter next step',
} as const;
