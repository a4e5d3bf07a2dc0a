"""What a process uses, read from /proc (Linux): for tests and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

TICK_HZ = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat_path: Path) -> float:
    fields = stat_path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK_HZ  # utime + stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by the whole process."""
    return _cpu_seconds(Path(f"/proc/{pid}/stat"))


def runtime_seconds(pid: int) -> float:
    """CPU seconds the scheduler counted, in nanoseconds, for the process's threads alive
    now (`/proc/PID/task/*/schedstat`); not sampled at clock ticks as utime and stime are.
    Threads that have ended are not in it."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
    return total / 1e9


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds used so far by each thread, by thread id."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = _cpu_seconds(task / "stat")
        except FileNotFoundError:
            continue  # the thread ended meanwhile
    return out


def rss_kb(pid: int) -> int:
    """Resident memory in kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmRSS"))


def open_fds(pid: int) -> int:
    """Open file descriptors."""
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))
