// The terminal UI's controller: UI state (selection, view, filter, pause, redaction, help),
// key handling driven by KEYMAP, and a redraw timer that draws only when something changed.
// It reads the flow store and asks the engine for things only through `Controls`, so it runs
// the same in `start`, `proxy` and `attach`.
import type { ExplainContext } from '../explain/index.ts';
import type { Controls } from '../events/controls.ts';
import { MODES } from '../events/types.ts';
import {
  describeFilter,
  parseFilter,
  type Flow,
  type FlowFilter,
  type FlowStore,
} from '../store/index.ts';
import { footerHints, headerLines, helpLines, listHeader, listRow, tabsLine } from './frame.ts';
import { BINDINGS, VIEWS, type Action } from './keymap.ts';
import { FOOTER_ROWS, HEADER_ROWS, TAB_ROWS, openScreen, type TermScreen } from './screen.ts';
import { dim, esc } from './text.ts';
import { certificatesView } from './views/certificates.ts';
import { decryptedView } from './views/decrypted.ts';
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

export interface UiOptions {
  store: FlowStore;
  /** Absent when attached to a feed: the mode, forget and export keys then say so. */
  controls?: Controls;
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
   * The start page: plain-text lines (commands to copy, the projector URL…) shown in the detail
   * pane while no flow is selected, and at any time with `g`.
   */
  guide?: readonly string[];
  /** Called after each frame with the time it took, ms (the UI benchmark uses it). */
  onFrame?: (ms: number) => void;
}

export interface UiActions {
  /** `t`: run the victim tour (start). Its narration comes back through RunningUi.log. */
  tour?: () => void;
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
   * kept, with the recent ones, on the start page (`g`).
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

/** The frame-rate ceiling while the store changes fast (the issue allows 10-20 fps). */
const BUSY_FPS = 10;
/** Store changes between two frames above which the list counts as changing fast. */
const BUSY_CHANGES = 50;

/** How long a footer message stays, ms. */
const MESSAGE_MS = 4000;

export function startUi(opts: UiOptions): RunningUi {
  const { store, controls } = opts;
  const screenOpts: Parameters<typeof openScreen>[0] = { mouse: opts.mouse ?? false };
  if (opts.stdin) screenOpts.input = opts.stdin;
  if (opts.stdout) screenOpts.output = opts.stdout;
  const screen: TermScreen = openScreen(screenOpts);

  // ---- UI state ----
  let view = 0;
  let selectedId: string | null = null;
  let selectedIndex = 0;
  let follow = true;
  let listTop = 0;
  let open = false;
  let detailScroll = 0;
  let detailRows = 0;
  let filter: FlowFilter = {};
  let editing: string | null = null;
  let paused: { flows: Flow[]; version: number; size: number } | null = null;
  let redact = opts.redact ?? true;
  let help = false;
  let helpScroll = 0;
  let message: { text: string; until: number } | null = null;
  let guideOpen = false;
  let guideWasShown = false;
  const narration: string[] = [];
  let mode: string = controls?.getMode() ?? store.listening?.mode ?? '?';

  // ---- derived data, cached per store version + filter ----
  let rowsCache: { version: number; filterKey: string; rows: Flow[] } | null = null;
  function rows(): Flow[] {
    if (paused) return paused.flows;
    const filterKey = describeFilter(filter);
    if (!rowsCache || rowsCache.version !== store.version || rowsCache.filterKey !== filterKey)
      rowsCache = { version: store.version, filterKey, rows: store.query(filter) };
    return rowsCache.rows;
  }

  function say(text: string, ms = MESSAGE_MS): void {
    message = { text, until: Date.now() + ms };
  }

  /** The start page fills the detail pane: asked for with g, or nothing to list yet. */
  function guideShown(): boolean {
    return guideOpen || (opts.guide !== undefined && !paused && store.size === 0);
  }

  function layout(): { listRows: number; detailHeight: number } {
    const body = Math.max(3, screen.height - HEADER_ROWS - FOOTER_ROWS - TAB_ROWS);
    // An empty list needs little room: the start page's commands get the rest.
    const share = guideShown() && store.size === 0 ? 0 : 0.4;
    const listRows = open ? 0 : Math.max(3, Math.min(body - 3, Math.round(body * share)));
    return { listRows, detailHeight: Math.max(1, body - listRows) };
  }

  function selectIndex(list: Flow[]): number {
    if (list.length === 0) return -1;
    if (follow) return list.length - 1;
    if (selectedId !== null) {
      const i = list.findIndex((f) => f.id === selectedId);
      if (i >= 0) return i;
    }
    return Math.min(Math.max(0, selectedIndex), list.length - 1);
  }

  function frameDetail(
    flow: Flow | undefined,
    width: number,
    height: number,
  ): { lines: string[]; total: number } {
    let lines: string[];
    const showGuide = guideShown();
    // From the start page to the first flow (or back): each starts at its top.
    if (showGuide !== guideWasShown) detailScroll = 0;
    guideWasShown = showGuide;
    if (showGuide) {
      lines = guideLines(store.size === 0);
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
      if (paused) lines = ['Paused: p resumes the list.'];
      else if (store.size > 0) lines = ['No flow matches the filter. Esc clears it, / edits it.'];
    } else {
      try {
        lines = VIEW_FNS[view]!(flow, {
          redact,
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
    if (detailScroll > maxScroll) detailScroll = maxScroll;
    return { lines: wrapped.slice(detailScroll, detailScroll + height), total: wrapped.length };
  }

  /** The start page: the caller's guide (or a default), then the narration so far. */
  function guideLines(empty: boolean): string[] {
    const title = empty
      ? '{bold}No flows yet.{/bold} Try these, from another terminal:'
      : '{bold}Start page{/bold}  (g goes back to the flow)';
    const body = opts.guide
      ? opts.guide.map(esc)
      : [
          'Point a client at the proxy, for example:',
          `  curl -x http://${esc(opts.info.listen)} http://bank.test/`,
          `  curl -x http://${esc(opts.info.listen)} https://bank.test/`,
        ];
    // The narration first: after a tour it is what the audience asks about; the commands follow.
    const lines = [title, ''];
    if (narration.length) lines.push('{bold}Victim tour{/bold}', ...narration.map(esc), '');
    lines.push(...body);
    lines.push('', dim('Each request or TLS connection becomes a row above; ? lists the keys.'));
    return lines;
  }

  /** Frames skipped because the terminal had not taken the previous one yet. */
  let skippedFrames = 0;

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
      lastVersion = store.version;
    }
    opts.onFrame?.(performance.now() - started);
  }
  let drawFailures = 0;
  const available: ReadonlySet<string> = new Set(opts.actions?.tour ? ['tour'] : []);

  function drawFrame(): void {
    const width = screen.width;
    const list = rows();
    selectedIndex = selectIndex(list);
    const selected = selectedIndex >= 0 ? list[selectedIndex] : undefined;
    selectedId = selected?.id ?? null;
    const { listRows, detailHeight } = layout();
    detailRows = detailHeight;

    const listLines: string[] = [];
    if (listRows > 0) {
      const visible = listRows - 1;
      if (selectedIndex < listTop) listTop = selectedIndex;
      if (selectedIndex >= listTop + visible) listTop = selectedIndex - visible + 1;
      listTop = Math.max(0, Math.min(listTop, Math.max(0, list.length - visible)));
      listLines.push(listHeader(width));
      for (let i = listTop; i < Math.min(list.length, listTop + visible); i++)
        listLines.push(listRow(list[i]!, width, i === selectedIndex, redact));
      while (listLines.length < listRows) listLines.push('');
    }

    const detail = frameDetail(selected, width, detailHeight);
    const position =
      selected === undefined || guideOpen
        ? guideOpen
          ? 'start page: g closes'
          : ''
        : `${selected.id}  ${detail.total > detailHeight ? `${detailScroll + 1}-${Math.min(detail.total, detailScroll + detailHeight)}/${detail.total}` : ''}`;

    if (message && message.until < Date.now()) message = null;
    const footer =
      editing !== null
        ? `/${esc(editing)}_  ${dim('Enter apply, Esc cancel   host:  badge:  vis:  outcome:  text')}`
        : message
          ? esc(message.text)
          : footerHints(width, available);

    screen.draw({
      header: headerLines(
        {
          listen: opts.info.listen,
          mode,
          caName: opts.info.caName || store.listening?.caName || '',
          caSha256: opts.info.caSha256 || store.listening?.caSha256 || '',
          counts: store.counts(),
          shown: list.length,
          total: store.size,
          maxFlows: store.maxFlows,
          paused: paused ? { newSince: Math.max(0, store.size - paused.size) } : null,
          redact,
          filter: describeFilter(filter),
          source: opts.source ?? null,
        },
        width,
      ),
      list: listLines,
      tabs: tabsLine(view, position, width),
      detail: detail.lines,
      footer,
      overlay: help ? helpOverlay() : null,
    });
    lastVersion = store.version;
    dirty = false;
  }

  /** The help overlay's lines, cut to the screen with a "more" line when they do not fit. */
  function helpOverlay(): string[] {
    // Wrapped to the overlay's inside (screen minus margin and border), hanging under the help.
    const all = wrapAll(helpLines(!controls, opts.extraKeys ?? []), Math.max(20, screen.width - 4));
    const room = Math.max(3, screen.height - 5); // margin, border, and one line for "more"
    if (all.length <= room + 1) {
      helpScroll = 0;
      return all;
    }
    helpScroll = Math.min(helpScroll, all.length - room);
    const shown = all.slice(helpScroll, helpScroll + room);
    shown.push(
      dim(
        `-- ${helpScroll + 1}-${helpScroll + shown.length}/${all.length}: Down/Up scroll, any other key closes --`,
      ),
    );
    return shown;
  }

  // ---- actions ----
  function move(delta: number): void {
    const list = rows();
    if (list.length === 0) return;
    const i = Math.max(0, Math.min(list.length - 1, selectIndex(list) + delta));
    selectedIndex = i;
    selectedId = list[i]!.id;
    follow = i === list.length - 1 && delta > 0;
    detailScroll = 0;
  }

  function scroll(delta: number): void {
    detailScroll = Math.max(0, detailScroll + delta);
  }

  async function exportHar(): Promise<void> {
    if (!controls?.exportHar) {
      say(
        controls
          ? 'HAR export: not available (no HAR recorder in this run)'
          : 'HAR export: not available when attached (export on the proxy)',
      );
      return;
    }
    say('HAR export: writing...');
    try {
      const file = await controls.exportHar();
      say(`HAR written: ${file}`);
    } catch (err) {
      say(`HAR export failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    dirty = true;
  }

  function act(action: Action): void {
    const page = Math.max(1, (open ? detailRows : layout().listRows - 1) - 1);
    // The start page scrolls like an open flow (it may be longer than the pane).
    if (guideShown() && !open) {
      const step = { up: -1, down: 1, pageUp: -detailRows + 1, pageDown: detailRows - 1 } as const;
      if (action === 'up' || action === 'down' || action === 'pageUp' || action === 'pageDown')
        return scroll(step[action]);
    }
    switch (action) {
      case 'up':
        return open ? scroll(-1) : move(-1);
      case 'down':
        return open ? scroll(1) : move(1);
      case 'pageUp':
        return open ? scroll(-page) : move(-page);
      case 'pageDown':
        return open ? scroll(page) : move(page);
      case 'home':
        if (open) detailScroll = 0;
        else move(-Number.MAX_SAFE_INTEGER);
        return;
      case 'end':
        if (open) detailScroll = Number.MAX_SAFE_INTEGER;
        else {
          follow = true;
          detailScroll = 0;
        }
        return;
      case 'open':
        open = !open;
        detailScroll = 0;
        return;
      case 'back':
        if (open) open = false;
        else if (describeFilter(filter)) {
          filter = {};
          say('filter cleared');
        }
        return;
      case 'nextView':
      case 'prevView':
        view = (view + (action === 'nextView' ? 1 : VIEWS.length - 1)) % VIEWS.length;
        detailScroll = 0;
        return;
      case 'view1':
      case 'view2':
      case 'view3':
      case 'view4':
      case 'view5':
        view = Number(action.slice(4)) - 1;
        detailScroll = 0;
        return;
      case 'filter':
        editing = describeFilter(filter);
        return;
      case 'pause':
        if (paused) {
          paused = null;
          say('resumed');
        } else {
          paused = { flows: rows().slice(), version: store.version, size: store.size };
          say('paused: the proxy keeps running; p resumes the list');
        }
        return;
      case 'clear':
        store.clear();
        if (paused) paused = { flows: [], version: store.version, size: 0 };
        follow = true;
        selectedId = null;
        detailScroll = 0;
        say('cleared');
        return;
      case 'mode': {
        if (!controls) {
          say('mode: not available when attached (change it on the proxy)');
          return;
        }
        const current = controls.getMode();
        const next = MODES[(MODES.indexOf(current) + 1) % MODES.length]!;
        controls.setMode(next);
        mode = controls.getMode();
        say(`mode ${mode}: applies to new connections`);
        return;
      }
      case 'forget': {
        if (!controls) {
          say('forget: not available when attached (use f on the proxy)');
          return;
        }
        const n = controls.forgetRejected();
        say(`forgot ${n} refused host${n === 1 ? '' : 's'}: auto mode will intercept them again`);
        return;
      }
      case 'redact':
        redact = !redact;
        say(redact ? 'secrets hidden' : 'secrets shown: r hides them again');
        return;
      case 'export':
        void exportHar();
        return;
      case 'tour':
        if (!opts.actions?.tour) {
          say('tour: not available here (the victim tour runs in mitm-lab start)');
          return;
        }
        opts.actions.tour();
        return;
      case 'guide':
        guideOpen = !guideOpen;
        detailScroll = 0;
        return;
      case 'help':
        help = !help;
        helpScroll = 0;
        return;
      case 'quit':
        finish();
        return;
      default: {
        const never: never = action;
        return never;
      }
    }
  }

  function onKey(name: string, ch: string | undefined): void {
    if (finished) return;
    if (editing !== null) {
      if (name === 'enter') {
        filter = parseFilter(editing);
        editing = null;
        follow = true;
        detailScroll = 0;
      } else if (name === 'escape') editing = null;
      else if (name === 'backspace') editing = editing.slice(0, -1);
      else if (name === 'C-c') finish();
      else if (name === 'C-u') editing = '';
      else if (ch && ch.length === 1 && ch >= ' ' && ch !== '\x7f') editing += ch;
      draw();
      return;
    }
    const action = BINDINGS.get(name);
    if (
      help &&
      (action === 'up' || action === 'down' || action === 'pageUp' || action === 'pageDown')
    ) {
      // A small terminal (a projector at 80x24) cannot show every key at once: scroll.
      const step = action === 'up' ? -1 : action === 'down' ? 1 : action === 'pageUp' ? -10 : 10;
      helpScroll = Math.max(0, helpScroll + step);
      draw();
      return;
    }
    if (help && action !== 'quit') {
      help = false;
      draw();
      return;
    }
    if (!action) return;
    try {
      act(action);
    } catch (err) {
      say(`${action}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!finished) draw();
  }

  // ---- lifecycle ----
  let finished = false;
  let dirty = true;
  let lastVersion = -1;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const unsubscribe = store.subscribe(() => {
    dirty = true;
  });
  const fps = Math.max(1, Math.min(30, opts.fps ?? 12));
  // While the list changes fast (a load test, a browser opening a page), a frame is stale by
  // the next one anyway: the next frame then waits the BUSY_FPS interval instead, so the proxy
  // keeps the CPU. Fast = more than BUSY_CHANGES store changes since the previous frame.
  const tickMs = Math.round(1000 / fps);
  const busyMs = Math.max(tickMs, Math.round(1000 / BUSY_FPS));
  let lastFrameVersion = store.version;
  let timer: ReturnType<typeof setTimeout> | null = null;
  function tick(): void {
    timer = null;
    if (finished) return;
    if (controls) {
      const m = controls.getMode();
      if (m !== mode) {
        mode = m;
        dirty = true;
      }
    }
    if (message && message.until < Date.now()) dirty = true;
    let next = tickMs;
    if (dirty || store.version !== lastVersion) {
      if (store.version - lastFrameVersion > BUSY_CHANGES) next = busyMs;
      lastFrameVersion = store.version;
      draw();
    }
    timer = setTimeout(tick, next);
    timer.unref?.();
  }
  timer = setTimeout(tick, tickMs);
  timer.unref?.();

  function finish(): void {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    unsubscribe();
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
    notify: (text, ms) => {
      say(text, ms ?? Number.MAX_SAFE_INTEGER / 2);
      dirty = true;
    },
    log: (line) => {
      if (line.trim() === '') return; // spacing between steps: the page has its own
      narration.push(line);
      if (narration.length > LOG_LINES) narration.splice(0, narration.length - LOG_LINES);
      say(line, MESSAGE_MS * 2);
      dirty = true;
    },
  };
}
