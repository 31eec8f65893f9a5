// `mitm-lab ca init | info | export | remove`: the throwaway CA from the command line. The
// CA itself lives in src/ca/; this file turns it into sentences a workshop participant can
// act on — above all, the exact command to trust it in each client, and to undo that.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CA_DAYS_DEFAULT,
  CA_DAYS_MAX,
  DEFAULT_LEAF_KEY,
  DEFAULT_PERMITTED_DNS,
  DEFAULT_PERMITTED_IPS,
  LEAF_KEY_NAMES,
  caExists,
  caModes,
  caPaths,
  describeCertificate,
  leafKeys,
  openCa,
  pemToDer,
  removeCa,
  type Ca,
} from '../../ca/index.ts';
import { LabError } from '../../util/lab-error.ts';
import { PROJECT_DIR, defaultCaDir, parseCommandArgs, parsePositiveInt } from '../args.ts';
import type { Command, CommandIO } from '../command.ts';

const SUBCOMMANDS = ['init', 'info', 'export', 'remove'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

const CA_DIR_HELP = `  --ca-dir DIR      the CA folder (default: $MITM_LAB_CA_DIR, else <project>/certs)`;

const HELP = `mitm-lab ca — the throwaway certificate authority that forges the lab's certificates

Usage:
  mitm-lab ca init   [--ca-dir DIR] [--days N] [--permit NAME]... [--unconstrained] [--force]
  mitm-lab ca info   [--ca-dir DIR]
  mitm-lab ca export [--ca-dir DIR] [--der] [--out FILE]
  mitm-lab ca remove [--ca-dir DIR]

  init     create the CA (the proxy also creates one on first start)
  info     name, fingerprints, validity, name constraints, and how to trust it in each client
  export   the CA certificate as PEM (or DER with --der, for Android and Windows)
  remove   delete the CA and its keys, and say how to remove any trust you installed

The CA is a throwaway: a unique dated name, ${CA_DAYS_DEFAULT} days by default, its key readable only by you,
and name-constrained to lab names (${[...DEFAULT_PERMITTED_DNS, ...DEFAULT_PERMITTED_IPS].join(', ')}) so that a
forgotten installation cannot be used against real sites.

Run \`mitm-lab ca <subcommand> --help\` for each one's options.
`;

const SUB_HELP: Record<Sub, string> = {
  init: `mitm-lab ca init — create the throwaway CA

Usage: mitm-lab ca init [--ca-dir DIR] [--days N] [--permit NAME]... [--unconstrained] [--force]

Options:
${CA_DIR_HELP}
  --days N          lifetime in days, 1 to ${CA_DAYS_MAX} (default ${CA_DAYS_DEFAULT}); notBefore is backdated a day
  --permit NAME     also permit NAME and every name under it (repeatable); NAME may be a DNS
                    name (example.com, *.example.com), an IP address or a range (10.0.0.0/8)
  --unconstrained   no name constraints: the CA can then impersonate ANY site (a warning is
                    printed); only for demonstrations on real sites, on a lab machine
  --force           replace an existing CA (clients that trusted the old one must trust the new one)

By default the CA may only sign ${DEFAULT_PERMITTED_DNS.map((d) => `${d} and *.${d}`).join(', ')},
and the loopback addresses ${DEFAULT_PERMITTED_IPS.join(' and ')}. Clients enforce this
(curl, Python, Node, Chromium, Firefox), so the CA is useless against real sites even if trusted.

Files: DIR/certs/ca.pem, DIR/keys/ca.private.key (0600), DIR/keys/ca.public.key, and the
key all forged leaves share (0600): DIR/keys/leaf-ecdsa.private.key (ECDSA P-256, the
default) and DIR/keys/leaf.private.key (RSA-2048, for proxy/start --leaf-key rsa);
DIR is made 0700.

Example: mitm-lab ca init --force --permit example.com
Next: mitm-lab ca info (shows how to trust it)
`,
  info: `mitm-lab ca info — what the CA is and how to trust it

Usage: mitm-lab ca info [--ca-dir DIR]

Prints the subject, SHA-256 fingerprint, SPKI SHA-256, the shared leaf keys (ECDSA P-256 by
default, RSA-2048 with proxy/start --leaf-key rsa) and their SPKI SHA-256 (base64, for
Chromium's --ignore-certificate-errors-spki-list), validity, name constraints,
the file paths, and the exact command to trust the CA in curl, Node.js, Python,
Chromium/Firefox (NSS) and the Debian system store. Exit 1 when there is no CA (create one with \`mitm-lab ca init\`).

Options:
${CA_DIR_HELP}
`,
  export: `mitm-lab ca export — write the CA certificate (never the key)

Usage: mitm-lab ca export [--ca-dir DIR] [--der] [--out FILE]

Options:
${CA_DIR_HELP}
  --der             DER instead of PEM: the .crt form Android and Windows import
  --out FILE        write to FILE instead of standard output (DER is binary: it is not
                    written to a terminal; use --out or a pipe)

Examples:
  mitm-lab ca export > mitm-lab-ca.pem
  mitm-lab ca export --der --out mitm-lab-ca.crt
`,
  remove: `mitm-lab ca remove — delete the CA and its keys

Usage: mitm-lab ca remove [--ca-dir DIR]

Deletes DIR/certs/ca.pem, DIR/keys/ca.private.key, DIR/keys/ca.public.key and the
leaf keys DIR/keys/leaf-ecdsa.private.key and DIR/keys/leaf.private.key, then prints how to remove trust you installed (the certificate
copies in NSS databases and the system store are not in DIR): scripts/untrust-ca.sh.
The next \`mitm-lab start\` creates a new CA.

Options:
${CA_DIR_HELP}
`,
};

const dirOption = { 'ca-dir': { type: 'string' } } as const;

export const command: Command = {
  name: 'ca',
  help: HELP,
  async run(argv: string[], io: CommandIO): Promise<number> {
    const [sub, ...rest] = argv;
    if (sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout.write(HELP);
      return 0;
    }
    if (sub === undefined)
      throw new LabError(
        'usage',
        'ca wants a subcommand: init, info, export or remove',
        'see `mitm-lab ca --help`',
      );
    if (!(SUBCOMMANDS as readonly string[]).includes(sub))
      throw new LabError(
        'usage',
        `unknown ca subcommand "${sub}" (init, info, export or remove)`,
        'see `mitm-lab ca --help`',
      );
    switch (sub as Sub) {
      case 'init':
        return init(rest, io);
      case 'info':
        return info(rest, io);
      case 'export':
        return exportCa(rest, io);
      case 'remove':
        return remove(rest, io);
    }
  },
};

function caDir(value: string | undefined, io: CommandIO): string {
  return value === undefined ? defaultCaDir(io.env) : path.resolve(value);
}

async function init(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(
    'ca init',
    argv,
    {
      ...dirOption,
      days: { type: 'string' },
      permit: { type: 'string', multiple: true },
      unconstrained: { type: 'boolean' },
      force: { type: 'boolean' },
    },
    SUB_HELP.init,
    io,
  );
  if (!parsed) return 0;
  const v = parsed.values;
  const dir = caDir(v['ca-dir'], io);
  const days = v.days === undefined ? undefined : parsePositiveInt(v.days, '--days', CA_DAYS_MAX);
  const permit = v.permit ?? [];
  if (v.unconstrained && permit.length > 0)
    throw new LabError(
      'usage',
      '--permit and --unconstrained contradict each other',
      'an unconstrained CA already signs every name; give one of them',
    );
  const customised = days !== undefined || permit.length > 0 || v.unconstrained === true;

  let replaced: string | null = null;
  if (caExists(dir)) {
    if (!v.force) {
      if (customised)
        throw new LabError(
          'config',
          `a CA already exists in ${dir}; --days, --permit and --unconstrained apply only to a new CA`,
          'add --force to replace it (clients that trusted the old one must then trust the new one)',
        );
      const ca = await openCa({ dir, create: false });
      io.stdout.write(
        `A CA already exists in ${dir}: ${ca.name} (left unchanged; --force replaces it).\n` +
          `Next: mitm-lab ca info${dirArg(dir, io)}\n`,
      );
      return 0;
    }
    replaced = oldName(dir);
    removeCa(dir);
  }
  const ca = await openCa({
    dir,
    ...(days !== undefined ? { days } : {}),
    permit,
    ...(v.unconstrained ? { unconstrained: true } : {}),
  });
  if (!ca.created) {
    // Another mitm-lab process created it between our check and our attempt: use theirs.
    io.stdout.write(
      `A CA already exists in ${dir}: ${ca.name} (made by another mitm-lab just now).\n`,
    );
    return customised ? 1 : 0;
  }
  const lines = [
    replaced ? `Replaced the CA "${replaced}" with a new one:` : 'Created a new throwaway CA:',
    `  name          ${ca.name}`,
    `  SHA-256       ${ca.summary.sha256}`,
    `  valid until   ${ca.summary.notAfter.slice(0, 10)} (${daysLeft(ca)} days)`,
    `  may sign      ${ca.constraints ? ca.constraints.join(', ') : 'ANY name (unconstrained)'}`,
    `  certificate   ${ca.certPath}`,
    `  private key   ${ca.keyPath} (mode 0600)`,
    '',
  ];
  if (replaced)
    lines.push(
      'Clients that trusted the old CA no longer trust this one: remove the old trust with',
      `scripts/untrust-ca.sh (dry run; --yes to do it), then trust the new CA.`,
      '',
    );
  lines.push(`Next: mitm-lab ca info${dirArg(dir, io)}   (how to trust it in each client)`, '');
  io.stdout.write(lines.join('\n'));
  if (!ca.constraints) io.stderr.write(unconstrainedWarning(ca));
  return 0;
}

async function info(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs('ca info', argv, dirOption, SUB_HELP.info, io);
  if (!parsed) return 0;
  const dir = caDir(parsed.values['ca-dir'], io);
  const ca = await openCa({ dir, create: false, allowExpired: true });
  const s = ca.summary;
  const left = daysLeft(ca);
  const modes = caModes(dir);
  const mode = (file: string) => (modes[file] ? ` (mode 0${modes[file]})` : '');
  const cert = shellQuote(ca.certPath);
  const nick = shellQuote(ca.name);
  const debFile = debianFileName(ca.name);
  const scripts = path.relative(process.cwd(), path.join(PROJECT_DIR, 'scripts')) || 'scripts';
  const caArg = ` --ca ${cert}`;
  const leaves = leafKeys(dir);
  const use = (type: string) =>
    type === DEFAULT_LEAF_KEY ? 'the default' : `with proxy/start --leaf-key ${type}`;
  const leafHashes = leaves
    .map(
      (k, i) =>
        `${i ? '                    ' : ''}${k.spkiSha256}  (${LEAF_KEY_NAMES[k.type]}, ${use(k.type)})`,
    )
    .join('\n');
  const leafFiles = leaves
    .map(
      (k, i) =>
        `${i ? '                    ' : ''}${k.path}${mode(k.path)} (${LEAF_KEY_NAMES[k.type]})`,
    )
    .join('\n');
  const spkiList = leaves.map((k) => k.spkiSha256).join(',');
  io.stdout.write(`mitm-lab CA: ${ca.name}

  subject           ${s.subject}
  SHA-256           ${s.sha256}
  SPKI SHA-256      ${s.spkiSha256}
  leaf SPKI SHA-256 ${leafHashes}
                    (the key every forged certificate shares: what Chromium's
                    --ignore-certificate-errors-spki-list must name)
  key               ${s.key}
  valid             ${s.notBefore} → ${s.notAfter} (${left > 0 ? `${left} days left` : 'EXPIRED'})
  name constraints  ${
    ca.constraints
      ? `${ca.constraints.join(', ')}\n                    (it can sign only these names and the names under them)`
      : 'NONE: this CA can impersonate ANY site'
  }
  certificate       ${ca.certPath}${mode(ca.certPath)}
  CA key            ${ca.keyPath}${mode(ca.keyPath)}
  leaf keys         ${leafFiles}

Trust it (only where you do the lab; every client that trusts it lets mitm-lab read its HTTPS):
  curl        curl --cacert ${cert} --proxy http://127.0.0.1:8080 https://shop.test/
  Node.js     NODE_EXTRA_CA_CERTS=${cert} node app.js
  Python      SSL_CERT_FILE=${cert} python3 app.py
              REQUESTS_CA_BUNDLE=${cert} python3 app.py   (requests)
              (both replace the default roots for that process: real sites then fail)
  Chromium    certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n ${nick} -i ${cert}
              (Linux; certutil is in libnss3-tools; restart Chromium)
              one session, no install: chromium --proxy-server=127.0.0.1:8080 \\
                --user-data-dir=$(mktemp -d) \\
                --ignore-certificate-errors-spki-list=${spkiList}
              (the leaf keys' hashes: Chromium matches the certificates it is sent,
              and the proxy sends only the forged leaf, never the CA)
  Firefox     certutil -d sql:<profile folder> -A -t C,, -n ${nick} -i ${cert}
              (or Settings → Privacy & Security → Certificates → View Certificates → Import)
  Debian      sudo cp ${cert} /usr/local/share/ca-certificates/${debFile}
              sudo update-ca-certificates
  Android, Windows: mitm-lab ca export --der --out mitm-lab-ca.crt, then import that file
  Scripted:   ${scripts}/trust-ca.sh${caArg}   (prints the commands; --yes runs them)

Undo: ${scripts}/untrust-ca.sh (--yes to run), then mitm-lab ca remove
`);
  if (!ca.constraints) io.stderr.write(unconstrainedWarning(ca));
  if (left <= 0) {
    io.stderr.write(
      `mitm-lab: this CA has expired; \`mitm-lab ca init --force${dirArg(dir, io)}\` makes a new one\n`,
    );
    return 1;
  }
  return 0;
}

async function exportCa(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(
    'ca export',
    argv,
    { ...dirOption, der: { type: 'boolean' }, out: { type: 'string' } },
    SUB_HELP.export,
    io,
  );
  if (!parsed) return 0;
  const v = parsed.values;
  const dir = caDir(v['ca-dir'], io);
  if (v.der && v.out === undefined && io.stdout.isTTY)
    throw new LabError(
      'usage',
      'DER is binary: not writing it to the terminal',
      'use --out FILE (e.g. --out mitm-lab-ca.crt) or a pipe',
    );
  const ca = await openCa({ dir, create: false });
  const data: string | Buffer = v.der ? pemToDer(ca.certPem) : ca.certPem;
  if (v.out === undefined) {
    io.stdout.write(data);
    return 0;
  }
  const out = path.resolve(v.out);
  try {
    writeFileSync(out, data, { mode: 0o644 });
  } catch (err) {
    throw new LabError('runtime', `cannot write ${out}: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }
  io.stdout.write(
    `Wrote the CA certificate "${ca.name}" (${v.der ? 'DER' : 'PEM'}) to ${out}\n` +
      `SHA-256 ${ca.summary.sha256}\n`,
  );
  return 0;
}

async function remove(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs('ca remove', argv, dirOption, SUB_HELP.remove, io);
  if (!parsed) return 0;
  const dir = caDir(parsed.values['ca-dir'], io);
  if (!caExists(dir) && !removeCandidates(dir)) {
    io.stdout.write(`No CA in ${dir}: nothing to remove.\n`);
    return 0;
  }
  const name = oldName(dir);
  const removed = removeCa(dir);
  const nick = name ? shellQuote(name) : "'<the CA name>'";
  io.stdout.write(
    [
      `Removed the CA${name ? ` "${name}"` : ''}:`,
      ...removed.map((f) => `  ${f}`),
      '',
      'If you installed trust in it, remove that too (the copies are outside this folder):',
      '  scripts/untrust-ca.sh            finds every mitm-lab CA in ~/.pki/nssdb and the',
      '                                   Debian store; prints the commands, --yes runs them',
      `  NSS (Chromium, Firefox): certutil -d sql:$HOME/.pki/nssdb -D -n ${nick}`,
      `  Debian: sudo rm /usr/local/share/ca-certificates/${name ? debianFileName(name) : 'mitm-lab-*.crt'}`,
      '          sudo update-ca-certificates --fresh',
      '  Firefox profiles: Settings → Certificates → View Certificates → Authorities → Delete',
      '  NODE_EXTRA_CA_CERTS / SSL_CERT_FILE / REQUESTS_CA_BUNDLE: unset them',
      '',
    ].join('\n'),
  );
  return 0;
}

/** Files `ca remove` would delete besides the two caExists looks at (a half-written CA). */
function removeCandidates(dir: string): boolean {
  const p = caPaths(dir);
  return Object.keys(caModes(dir)).some((f) => f === p.leafKeyPath || f === p.leafEcdsaKeyPath);
}

/** The name of the CA in `dir`, read without validating it (it may be broken: we replace it). */
function oldName(dir: string): string | null {
  try {
    return describeCertificate(readFileSync(caPaths(dir).certPath)).subjectCN;
  } catch {
    return null; // unreadable or missing certificate: there is no name to show
  }
}

function daysLeft(ca: Ca): number {
  return Math.ceil((Date.parse(ca.summary.notAfter) - Date.now()) / 86_400_000);
}

/** The Debian store wants `*.crt` names; derive a stable one from the CA name. */
export function debianFileName(caName: string): string {
  return `${caName.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.crt`;
}

function dirArg(dir: string, io: CommandIO): string {
  return dir === defaultCaDir(io.env) ? '' : ` --ca-dir ${shellQuote(dir)}`;
}

function shellQuote(s: string): string {
  return /^[\w./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function unconstrainedWarning(ca: Ca): string {
  return `
WARNING: the CA "${ca.name}" has NO name constraints.
  Anyone holding its key (${ca.keyPath}) can impersonate ANY web site — your bank,
  your mail — to every client that trusts this CA. Trust it only on a lab machine, and
  when you are done: scripts/untrust-ca.sh --yes, then mitm-lab ca remove.

`;
}
