// The program: run the command line and exit with its code. bin/mitm-lab.js runs the compiled
// copy (dist/cli/bin.js); tests run this file through tsx (test/support/cli.ts).
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
