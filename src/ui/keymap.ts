// The keys, as data: this one table drives the bindings, the `?` help overlay, the footer's
// hints and the keys table in docs/ui.md (a test checks the doc against it). Modelled on
// mitmproxy's tools/console/defaultkeys.py.

export type Action =
  | 'up'
  | 'down'
  | 'pageUp'
  | 'pageDown'
  | 'home'
  | 'end'
  | 'open'
  | 'back'
  | 'nextView'
  | 'prevView'
  | 'view1'
  | 'view2'
  | 'view3'
  | 'view4'
  | 'view5'
  | 'filter'
  | 'pause'
  | 'clear'
  | 'mode'
  | 'tlsMax'
  | 'forget'
  | 'reset'
  | 'labOnly'
  | 'redact'
  | 'export'
  | 'tour'
  | 'guide'
  | 'saveGuide'
  | 'lessons'
  | 'leaks'
  | 'help'
  | 'quit';

export interface KeyBinding {
  /** blessed key names that trigger it (`up`, `k`, `S-tab`, `C-c`…). */
  keys: readonly string[];
  /** How the key is written for people (help overlay, docs). */
  label: string;
  action: Action;
  /** What it does, one line. */
  help: string;
  /** Short footer hint, for the keys worth showing at all times. */
  hint?: string;
}

export const KEYMAP: readonly KeyBinding[] = [
  {
    keys: ['up', 'k'],
    label: 'Up / k',
    action: 'up',
    help: 'previous flow (scrolls the view when a flow is open)',
  },
  {
    keys: ['down', 'j'],
    label: 'Down / j',
    action: 'down',
    help: 'next flow (scrolls the view when a flow is open)',
    hint: 'j/k move',
  },
  { keys: ['pageup'], label: 'PgUp', action: 'pageUp', help: 'one page up' },
  { keys: ['pagedown', 'space'], label: 'PgDn / Space', action: 'pageDown', help: 'one page down' },
  { keys: ['home'], label: 'Home', action: 'home', help: 'first flow (top of the view)' },
  {
    keys: ['end'],
    label: 'End',
    action: 'end',
    help: 'last flow, and follow new ones (bottom of the view)',
  },
  {
    keys: ['enter'],
    label: 'Enter',
    action: 'open',
    help: 'open the flow: its view fills the screen (Enter again closes)',
    hint: 'Enter open',
  },
  {
    keys: ['escape', 'backspace'],
    label: 'Esc',
    action: 'back',
    help: 'close the open flow; otherwise clear the filter',
  },
  {
    keys: ['tab'],
    label: 'Tab',
    action: 'nextView',
    help: 'next view: Wire, Decrypted, Certificates, Why, Timeline',
    hint: 'Tab/1-5 view',
  },
  { keys: ['S-tab'], label: 'Shift-Tab', action: 'prevView', help: 'previous view' },
  { keys: ['1'], label: '1', action: 'view1', help: 'Wire: what an eavesdropper on the path sees' },
  { keys: ['2'], label: '2', action: 'view2', help: 'Decrypted: what the man in the middle reads' },
  {
    keys: ['3'],
    label: '3',
    action: 'view3',
    help: 'Certificates: the forged one next to the real one',
  },
  { keys: ['4'], label: '4', action: 'view4', help: 'Why: what happened and what it teaches' },
  {
    keys: ['5'],
    label: '5',
    action: 'view5',
    help: 'Timeline: DNS, TCP, TLS, first byte; round trips',
  },
  {
    keys: ['/'],
    label: '/',
    action: 'filter',
    help: 'filter: host:NAME badge:refused vis:wire outcome:unknown_ca or text',
    hint: '/ filter',
  },
  {
    keys: ['p'],
    label: 'p',
    action: 'pause',
    help: 'pause the list (the proxy keeps running; p again catches up)',
    hint: 'p pause',
  },
  { keys: ['c'], label: 'c', action: 'clear', help: 'clear the flow list' },
  {
    keys: ['m'],
    label: 'm',
    action: 'mode',
    help: 'cycle the proxy mode: auto, intercept, eavesdrop (new connections)',
    hint: 'm mode',
  },
  {
    keys: ['v'],
    label: 'v',
    action: 'tlsMax',
    help: 'TLS version offered to clients: 1.3, or at most 1.2 (the forged certificate then crosses in clear)',
  },
  {
    keys: ['f'],
    label: 'f',
    action: 'forget',
    help: 'forget refused hosts, so auto mode intercepts them again',
  },
  {
    keys: ['S-r'],
    label: 'R',
    action: 'reset',
    help: 'reset the lab: empty the list, forget refused hosts, restart lesson progress',
  },
  {
    keys: ['o'],
    label: 'o',
    action: 'labOnly',
    help: "list only the lab's hosts (.test, .localhost): hide a browser's background traffic",
  },
  {
    keys: ['r'],
    label: 'r',
    action: 'redact',
    help: 'reveal / hide passwords, cookies and tokens (hidden at start)',
    hint: 'r reveal',
  },
  {
    keys: ['e'],
    label: 'e',
    action: 'export',
    help: 'export the flows as HAR (to the --har file, else to a new file in this folder)',
  },
  {
    keys: ['t', 'C-t'],
    label: 't / Ctrl-T',
    action: 'tour',
    help: 'the victim tour (start only), step by step in a panel: Enter runs each step; a normal device, then a compromised one',
    hint: 't tour',
  },
  {
    keys: ['g'],
    label: 'g',
    action: 'guide',
    help: 'the start page: commands to try, the projector URL, the tour narration',
    hint: 'g start page',
  },
  {
    keys: ['y'],
    label: 'y',
    action: 'saveGuide',
    help: "write the start page's commands, unwrapped, to a file to copy them from",
  },
  {
    keys: ['l'],
    label: 'l',
    action: 'lessons',
    help: 'Lessons: every exercise with its ticks, live; Enter shows its steps and the next hint',
    hint: 'l lessons',
  },
  {
    keys: ['w'],
    label: 'w',
    action: 'leaks',
    help: 'what HTTPS does not hide: per host, how it was seen, connections, bytes; secrets in clear',
  },
  { keys: ['?', 'h'], label: '? / h', action: 'help', help: 'this help', hint: '? help' },
  {
    keys: ['q', 'C-c'],
    label: 'q / Ctrl-C',
    action: 'quit',
    help: 'quit and restore the terminal',
    hint: 'q quit',
  },
];

/** key name → action, built once from KEYMAP. A key bound twice is a bug (tested). */
export const BINDINGS: ReadonlyMap<string, Action> = new Map(
  KEYMAP.flatMap((b) => b.keys.map((k) => [k, b.action] as const)),
);

/** The view names, in number-key order. */
export const VIEWS = ['Wire', 'Decrypted', 'Certificates', 'Why', 'Timeline'] as const;
export type ViewName = (typeof VIEWS)[number];
