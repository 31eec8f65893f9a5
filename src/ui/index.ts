// The terminal UI's public face. `start`, `proxy`, `attach` and `replay` call startUi with a
// flow store (fed from the engine's bus, a feed or a file) and, when the engine is local, its
// Controls.
export {
  isLabHost,
  startUi,
  type RunningUi,
  type UiActions,
  type UiInfo,
  type UiLessons,
  type UiOptions,
} from './app.ts';
export { KEYMAP, VIEWS, type Action, type KeyBinding, type ViewName } from './keymap.ts';
