#!/usr/bin/env node
// Entry point: plain Node runs the TypeScript sources through tsx's loader, so
// `npm start`, `npx mitm-lab` and `node bin/mitm-lab.js` all need no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
