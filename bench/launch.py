"""Run a command from this small process; report its wall time, CPU time and peak RSS on an fd.

Linux charges a process with the peak RSS of what it was before ``exec``:
started straight from the benchmark (tens of MB by then), every child would
report the benchmark's size. Started from this interpreter (``-I -S``, a few
MB), a child reports its own. Used by bench.cold as
``python -I -S bench/launch.py FD COMMAND...``; stdlib only, imports nothing
of the project.
"""

import os
import sys
import time


def main() -> int:
    report = int(sys.argv[1])
    argv = sys.argv[2:]
    os.set_inheritable(report, False)  # the command must not hold the report pipe open
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    cpu_seconds = usage.ru_utime + usage.ru_stime
    os.write(report, f"{seconds!r} {cpu_seconds!r} {usage.ru_maxrss}".encode())
    os.close(report)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
