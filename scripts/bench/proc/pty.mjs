// A command in a 120x40 pseudo-terminal, its output read and thrown away: how the benches run
// `mitm-lab attach` as a viewer (python3's pty module; Node has no pty of its own).

/** The python3 program: fork COMMAND... on a pty of 40 rows, 120 columns; drain its output. */
const PTY_PROGRAM = [
  'import fcntl, os, pty, struct, sys, termios',
  'pid, fd = pty.fork()',
  'if pid == 0:',
  "    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 120, 0, 0))",
  '    os.execvp(sys.argv[1], sys.argv[1:])',
  'while True:',
  '    try:',
  '        if not os.read(fd, 65536): break',
  '    except OSError: break',
  'os.waitpid(pid, 0)',
].join('\n');

/** Arguments for `python3` that run `command` (program and its arguments) on the pty. */
export function ptyArgs(command) {
  return ['-c', PTY_PROGRAM, ...command];
}
