// A headless terminal for in-process UI tests: fake TTY streams (input we write key bytes to,
// output that records what blessed drew), a real blessed screen on them, and helpers to press
// keys and read the rendered screen as text (from the screen buffer, i.e. what a person sees).
import { PassThrough, Writable } from 'node:stream';
import type { Controls } from '../../src/events/controls.ts';
import type { FlowStore } from '../../src/store/index.ts';
import { startUi, type RunningUi, type UiActions } from '../../src/ui/index.ts';

/** Byte sequences a terminal sends for named keys. */
export const KEY_BYTES: Record<string, string> = {
  up: '\x1b[A',
  down: '\x1b[B',
  pageup: '\x1b[5~',
  pagedown: '\x1b[6~',
  home: '\x1b[H',
  end: '\x1b[F',
  enter: '\r',
  escape: '\x1b',
  tab: '\t',
  'S-tab': '\x1b[Z',
  backspace: '\x7f',
  space: ' ',
  'C-c': '\x03',
  'C-t': '\x14',
};

export interface Harness {
  ui: RunningUi;
  output: () => string;
  /** Press keys by name (`down`, `tab`) or type characters (`q`, `/host:bank`). */
  press(...keys: string[]): Promise<void>;
  /** The rendered screen as one string. */
  screen(): string;
  resize(cols: number, rows: number): Promise<void>;
  close(): void;
}

export function headless(
  store: FlowStore,
  opts: {
    cols?: number;
    rows?: number;
    controls?: Controls;
    redact?: boolean;
    extraKeys?: Array<{ label: string; help: string }>;
    actions?: UiActions;
    guide?: string[];
    mouse?: boolean;
  } = {},
): Harness {
  const input = new PassThrough() as PassThrough & {
    isTTY: boolean;
    setRawMode: (b: boolean) => unknown;
  };
  input.isTTY = true;
  input.setRawMode = () => input;
  let out = '';
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  }) as Writable & { isTTY: boolean; columns: number; rows: number };
  output.isTTY = true;
  output.columns = opts.cols ?? 100;
  output.rows = opts.rows ?? 30;
  const uiOpts: Parameters<typeof startUi>[0] = {
    store,
    info: {
      listen: '127.0.0.1:8080',
      caName: 'mitm-lab throwaway CA test',
      caSha256: 'AB:CD:EF:01:23:45:67:89',
    },
    stdin: input,
    stdout: output,
  };
  if (opts.controls) uiOpts.controls = opts.controls;
  if (opts.redact !== undefined) uiOpts.redact = opts.redact;
  if (opts.extraKeys) uiOpts.extraKeys = opts.extraKeys;
  if (opts.actions) uiOpts.actions = opts.actions;
  if (opts.guide) uiOpts.guide = opts.guide;
  if (opts.mouse !== undefined) uiOpts.mouse = opts.mouse;
  const ui = startUi(uiOpts);
  const tick = () => new Promise((r) => setTimeout(r, 15));
  return {
    ui,
    output: () => out,
    async press(...keys) {
      for (const k of keys) {
        input.write(KEY_BYTES[k] ?? k);
        await tick();
      }
    },
    screen() {
      ui.redraw();
      return ui.text().join('\n');
    },
    async resize(cols, rows) {
      output.columns = cols;
      output.rows = rows;
      output.emit('resize');
      await tick();
    },
    close() {
      ui.destroy();
    },
  };
}
