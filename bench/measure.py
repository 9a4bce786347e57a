#!/usr/bin/env python3
"""Run one command and measure it as a whole process: wall time, peak RSS, and the
kernel's I/O counters from /proc/PID/io, read while the process is a zombie (exited,
not yet reaped: waitid with WNOWAIT), so nothing it did is missed. Node's child_process
reaps at once and cannot do this.

    measure.py OUT.json UID GID command [args...]

UID/GID -1: run as ourselves. The command's stdout/stderr are ours; OUT.json gets
{"exit", "wallSeconds", "maxRssKb", "userSeconds", "sysSeconds", "io": {rchar, wchar,
syscr, syscw, read_bytes, write_bytes, cancelled_write_bytes}}. read_bytes are bytes
read from storage (not from the page cache), write_bytes bytes the process dirtied in
the page cache (sent to storage sooner or later).
"""
import json
import os
import sys
import time


def main() -> int:
    out, uid, gid, argv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            if uid >= 0:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            os.execvp(argv[0], argv)
        except BaseException as e:  # noqa: BLE001 - report any failure to exec
            os.write(2, f'measure.py: {argv[0]}: {e}\n'.encode())
        os._exit(127)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    wall = time.monotonic() - t0
    io = {}
    try:
        with open(f'/proc/{pid}/io') as f:
            for line in f:
                k, v = line.split(':')
                io[k.strip()] = int(v)
    except OSError as e:
        io['error'] = str(e)
    _, status, ru = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(out, 'w') as f:
        json.dump({'exit': code, 'wallSeconds': wall, 'maxRssKb': ru.ru_maxrss, 'userSeconds': ru.ru_utime,
                   'sysSeconds': ru.ru_stime, 'io': io}, f)
    return 0


if __name__ == '__main__':
    sys.exit(main())
