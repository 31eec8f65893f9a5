// docs/cli.md is built from the commands' own --help texts, so the two cannot drift apart:
// `npm run docs:cli` rewrites it, and test/cli/help-doc.test.ts fails when it is stale.
import { PassThrough } from 'node:stream';
import type { CommandIO } from './command.ts';
import { COMMANDS, main } from './main.ts';

/** Every help page worth documenting: the top level, each command, each `ca` subcommand. */
export const HELP_PAGES: readonly string[][] = [
  [],
  ...Object.keys(COMMANDS).map((name) => [name]),
  ...['init', 'info', 'export', 'remove'].map((sub) => ['ca', sub]),
];

/** Run `mitm-lab <words> --help` in-process and return what it printed. */
export async function helpText(words: readonly string[]): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const io = {
    stdout: out as unknown as NodeJS.WriteStream,
    stderr: out as unknown as NodeJS.WriteStream,
    stdin: process.stdin,
    env: {},
  } satisfies CommandIO;
  const code = await main([...words, '--help'], io);
  if (code !== 0) throw new Error(`mitm-lab ${words.join(' ')} --help exited ${code}`);
  return Buffer.concat(chunks).toString('utf8');
}

export async function renderCliDoc(): Promise<string> {
  const sections: string[] = [];
  for (const words of HELP_PAGES) {
    const title = ['mitm-lab', ...words].join(' ');
    sections.push(`## \`${title}\`\n\n\`\`\`text\n${(await helpText(words)).trimEnd()}\n\`\`\`\n`);
  }
  return `# Command-line reference

Generated from the commands' own \`--help\` output by \`npm run docs:cli\`; a test fails
when this file and the help texts disagree. Run any command with \`--help\` for the same text.
Outside \`npm start\`, run the commands as \`npx mitm-lab …\` or \`node bin/mitm-lab.js …\`.

Exit codes, for every command: 0 ok, 1 runtime failure, 2 usage error.

${sections.join('\n')}`;
}
