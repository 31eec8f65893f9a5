// The terminal UI's public face. `start`, `proxy` and `attach` call startUi with a flow store
// (fed from the engine's bus, or from a feed) and, when the engine is local, its Controls.
export { startUi, type RunningUi, type UiActions, type UiInfo, type UiOptions } from './app.ts';
export { KEYMAP, VIEWS, type Action, type KeyBinding, type ViewName } from './keymap.ts';
