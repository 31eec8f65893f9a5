// The lessons layer: the lab exercises as data (exercises.ts) and progress as a pure fold of
// events (progress.ts). Below cli/ and beside explain/: it reads events only.
export * from './exercises.ts';
export * from './progress.ts';
export * from './leak-report.ts';
export * from './chromium.ts';
