#!/usr/bin/env python3
"""A terminal whose reader can be frozen: runs a command on a new pty of a fixed size and
copies everything it prints to a log file. SIGSTOP this process and nothing drains the pty any
more, exactly as when a terminal emulator (or an SSH session) stops reading: the program's
writes fill the pty buffer and then block. SIGCONT and it reads on.

usage: pty-reader.py LOG PIDFILE COLS ROWS -- COMMAND [ARGS...]
Writes the command's PID to PIDFILE; exits with the command's exit code when the pty closes.
"""
import fcntl
import os
import pty
import struct
import sys
import termios


def main() -> int:
    log_path, pid_path, cols, rows = sys.argv[1:5]
    if sys.argv[5] != '--':
        raise SystemExit('usage: pty-reader.py LOG PIDFILE COLS ROWS -- COMMAND [ARGS...]')
    command = sys.argv[6:]
    pid, master = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', int(rows), int(cols), 0, 0))
        os.execvp(command[0], command)
    with open(pid_path, 'w') as f:
        f.write(str(pid))
    with open(log_path, 'ab', buffering=0) as log:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child side closed
                break
            if not data:
                break
            log.write(data)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == '__main__':
    sys.exit(main())
