// The one file that imports blessed (test/architecture.test.ts). It owns the terminal: a fixed
// set of boxes (header, flow list, view tabs, detail, footer, help overlay) that the app fills
// with already-cut, already-wrapped lines each frame. Everything else in ui/ is plain
// functions from flows to text, testable without a terminal.
//
// Measured limits (../shared/ENGINE-NOTES.md): blessed's list is slow for thousands of items
// and measures emoji as width 1, so the app hands it only the visible rows, and no view uses
// emoji. @types/blessed swaps the input/output stream types and lacks `screen.lines`: the
// casts below are about that, nothing else.
import type { Readable, Writable } from 'node:stream';
import blessed from 'blessed';

/** One frame: what every box shows. Lines are blessed-tagged text, already fitted. */
export interface Frame {
  header: string[];
  /** Visible rows of the flow list, including its column header; empty hides the list. */
  list: string[];
  tabs: string;
  /** Visible rows of the detail pane (already wrapped and scrolled). */
  detail: string[];
  footer: string;
  /** The help overlay's lines, or null when it is closed. */
  overlay: string[] | null;
}

export interface TermScreen {
  readonly width: number;
  readonly height: number;
  /** Put a frame on screen (only the changed cells reach the terminal). */
  draw(frame: Frame): void;
  /** Key presses by blessed name (`up`, `S-tab`, `C-c`, `q`, `/`…) and the character typed. */
  onKey(fn: (name: string, ch: string | undefined) => void): void;
  onResize(fn: () => void): void;
  /**
   * Bytes handed to the terminal and not written yet: above 0, the terminal is not reading (a
   * stopped emulator, a stalled SSH session) and the next frame should be skipped.
   */
  readonly backlog: number;
  /** The rendered screen as plain text, one string per row (for tests and captures). */
  text(): string[];
  /** Leave the alternate screen, show the cursor, give the terminal back. Idempotent. */
  destroy(): void;
}

export interface ScreenOptions {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Mouse reporting breaks text selection on a projector laptop: off unless asked. */
  mouse?: boolean;
  title?: string;
}

/** Header rows, footer rows: fixed so the app can compute the rest. */
export const HEADER_ROWS = 2;
export const FOOTER_ROWS = 1;
export const TAB_ROWS = 1;

type BlessedScreen = blessed.Widgets.Screen & { lines?: Array<Array<[number, string]>> };

/**
 * Make writes to a terminal asynchronous. Node writes to a TTY synchronously on Linux and macOS
 * (its tty.WriteStream sets its libuv handle blocking): when the terminal stops reading, the
 * pty buffer (~64 KiB) fills and the next write blocks the whole event loop — the proxy with it
 * (issue 13, item 11: a SIGSTOPped terminal made every request time out). Non-blocking, a write
 * that does not fit waits in the stream (`writableLength`), and the app skips frames until the
 * terminal has taken it. `setBlocking` is the handle's own method (libuv
 * uv_stream_set_blocking); streams without one (tests' fake TTYs, pipes) are left as they are.
 */
function neverBlock(output: NodeJS.WritableStream): void {
  const handle = (output as { _handle?: { setBlocking?: (blocking: boolean) => unknown } })._handle;
  if ((output as { isTTY?: boolean }).isTTY && typeof handle?.setBlocking === 'function')
    handle.setBlocking(false);
}

export function openScreen(opts: ScreenOptions = {}): TermScreen {
  const output = opts.output ?? process.stdout;
  neverBlock(output);
  const screen = blessed.screen({
    // @types/blessed has these two swapped (see the header comment).
    input: (opts.input ?? process.stdin) as unknown as Writable,
    output: output as unknown as Readable,
    smartCSR: true,
    fullUnicode: false,
    warnings: false,
    autoPadding: false,
    title: opts.title ?? 'mitm-lab',
    terminal:
      process.env['TERM'] && process.env['TERM'] !== 'dumb'
        ? process.env['TERM']
        : 'xterm-256color',
    sendFocus: false,
    useBCE: false,
  }) as BlessedScreen;
  if (opts.mouse) screen.enableMouse();

  const common = { parent: screen, tags: true, wrap: false, left: 0, width: '100%' } as const;
  const header = blessed.box({
    ...common,
    top: 0,
    height: HEADER_ROWS,
    style: { fg: 'white', bg: 'blue' },
  });
  const list = blessed.box({ ...common, top: HEADER_ROWS, height: 1 });
  const tabs = blessed.box({
    ...common,
    top: HEADER_ROWS + 1,
    height: TAB_ROWS,
    style: { fg: 'white', bg: 'black' },
  });
  const detail = blessed.box({ ...common, top: HEADER_ROWS + 2, height: 1 });
  const footer = blessed.box({
    ...common,
    bottom: 0,
    height: FOOTER_ROWS,
    style: { fg: 'black', bg: 'white' },
  });
  const overlay = blessed.box({
    parent: screen,
    tags: true,
    wrap: false,
    top: 'center',
    left: 'center',
    width: 60,
    height: 10,
    border: { type: 'line' },
    style: { fg: 'white', bg: 'black', border: { fg: 'yellow' } },
    hidden: true,
  });
  let destroyed = false;
  // What each box shows now: setting the same text again would still make blessed clear and
  // re-parse the box, and under load the tabs, footer and often the detail do not change.
  const shown = new Map<blessed.Widgets.BoxElement, string>();
  const setText = (box: blessed.Widgets.BoxElement, text: string): void => {
    if (shown.get(box) === text) return;
    shown.set(box, text);
    box.setContent(text);
  };

  const api: TermScreen = {
    get width() {
      return screen.width as number;
    },
    get height() {
      return screen.height as number;
    },
    get backlog() {
      return (output as { writableLength?: number }).writableLength ?? 0;
    },
    draw(frame) {
      if (destroyed) return;
      const h = api.height;
      setText(header, frame.header.join('\n'));
      const listRows = frame.list.length;
      if (listRows === 0) list.hide();
      else {
        list.show();
        list.top = HEADER_ROWS;
        list.height = listRows;
        setText(list, frame.list.join('\n'));
      }
      tabs.top = HEADER_ROWS + listRows;
      setText(tabs, frame.tabs);
      detail.top = HEADER_ROWS + listRows + TAB_ROWS;
      detail.height = Math.max(1, h - HEADER_ROWS - listRows - TAB_ROWS - FOOTER_ROWS);
      setText(detail, frame.detail.join('\n'));
      setText(footer, frame.footer);
      if (frame.overlay) {
        const w = Math.min(
          api.width - 2,
          Math.max(40, ...frame.overlay.map((l) => visibleLength(l) + 4)),
        );
        overlay.width = w;
        overlay.height = Math.min(h - 2, frame.overlay.length + 2);
        setText(overlay, frame.overlay.join('\n'));
        overlay.show();
        overlay.setFront();
      } else overlay.hide();
      screen.render();
    },
    onKey(fn) {
      screen.on(
        'keypress',
        (ch: string | undefined, key: { full?: string; name?: string } | undefined) => {
          const name = key?.full ?? key?.name ?? ch;
          if (name) fn(name, ch);
        },
      );
    },
    onResize(fn) {
      screen.on('resize', fn);
    },
    text() {
      const lines = screen.lines ?? [];
      return lines.map((row) => row.map((cell) => cell[1]).join(''));
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      screen.destroy();
    },
  };
  return api;
}

function visibleLength(s: string): number {
  return s.replace(/\{(open|close)\}/g, 'x').replace(/\{\/?[a-z0-9-]*\}/gi, '').length;
}
