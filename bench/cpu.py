"""What capture + encode cost with nobody listening, and the idle memory.

    .venv/bin/python bench/cpu.py [--seconds 20] [--rounds 1]

Runs the real broadcaster with no listener, once on the virtual microphone (real PyAudio
through PulseAudio) and once on the built-in tone, for each Opus complexity asked for, and
prints the process's CPU (CPU time over wall time) split by thread, and its RSS. The main
thread is the event loop; "capture side" is every other thread: the capture thread
(`python`) and whatever PortAudio / the ALSA PulseAudio plugin start (`threaded-ml`).

CPU time is the scheduler's exact run time per thread (/proc/PID/task/TID/schedstat) where
the kernel keeps it, else the tick-sampled user + system time, which misses much of a
thread that runs for microseconds at a time. With --rounds N every source is measured N
times, interleaved, and the median round is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import no_device_env, start_broadcaster
from tests.procstat import rss_kb, thread_cpu_seconds
from tests.signal_tools import sine_s16le
from tests.vmic import VirtualMic


def thread_run_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """(name, CPU seconds so far) of each thread of `pid`, by thread id."""
    ticks = thread_cpu_seconds(pid)
    out = {}
    for tid, ticked in ticks.items():
        task = Path(f"/proc/{pid}/task/{tid}")
        try:
            name = (task / "comm").read_text().strip()
            seconds = int((task / "schedstat").read_text().split()[0]) / 1e9
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        except (OSError, ValueError, IndexError):
            seconds = ticked  # no schedstat in this kernel
        out[tid] = (name, seconds)
    return out


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement: shares of a core in %, and RSS."""

    event_loop: float
    threads: tuple[tuple[str, float], ...]  # (name, share) of the others, largest first
    rss_mb: float

    @property
    def capture_side(self) -> float:
        """Every thread but the event loop."""
        return sum(share for _, share in self.threads)


def measure(args: list[str], env: dict[str, str], complexity: int, seconds: float,
            mic: VirtualMic | None) -> Sample:
    work = Path(tempfile.mkdtemp(prefix="cpu-"))
    proc = start_broadcaster(work, *args, env=env, config=f"[audio]\ncomplexity = {complexity}\n")
    pid = proc.process.pid
    try:
        if mic is not None:
            mic.play(sine_s16le(440, seconds + 5, amplitude=0.3))
        time.sleep(2)
        before, started = thread_run_seconds(pid), time.monotonic()
        time.sleep(seconds)
        after, wall = thread_run_seconds(pid), time.monotonic() - started
        rss = rss_kb(pid) / 1024
    finally:
        proc.stop()
        if mic is not None:
            mic.clear()
    used = {tid: (name, 100 * (cpu - before.get(tid, (name, 0.0))[1]) / wall)
            for tid, (name, cpu) in after.items()}
    _, event_loop = used.pop(pid, ("", 0.0))
    others = sorted(((name, share) for name, share in used.values() if share >= 0.01),
                    key=lambda item: -item[1])
    return Sample(event_loop, tuple(others), rss)


def show(label: str, complexity: int, sample: Sample) -> None:
    threads = ", ".join(f"{name} {share:.2f}%" for name, share in sample.threads) or "-"
    print(f"{label:<22} {complexity:>10} {sample.event_loop + sample.capture_side:>8.2f}% "
          f"{sample.event_loop:>10.2f}% {sample.capture_side:>12.2f}% {threads:<34} "
          f"{sample.rss_mb:>7.1f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--complexity", type=int, nargs="*", default=[5, 0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"{'source (20 ms frames)':<22} {'complexity':>10} {'process':>9} {'event loop':>11} "
          f"{'capture side':>13} {'capture-side threads':<34} {'RSS':>10}")
    with VirtualMic(Path(tempfile.mkdtemp(prefix="cpu-vmic-"))) as mic:
        for complexity in args.complexity:
            runs: dict[str, list[Sample]] = {"mic": [], "tone": []}
            for _ in range(args.rounds):
                runs["mic"].append(measure(["--source", "mic"], no_device_env() | mic.env,
                                           complexity, args.seconds, mic))
                runs["tone"].append(measure(["--source", "tone"], no_device_env(), complexity,
                                            args.seconds, None))
            for key, label in (("mic", "mic (virtual, PyAudio)"), ("tone", "tone")):
                samples = sorted(runs[key], key=lambda sample: sample.capture_side)
                show(label, complexity, samples[len(samples) // 2])
                if args.rounds > 1:
                    shares = ", ".join(f"{s.capture_side:.2f}%" for s in runs[key])
                    print(f"{'':<22} {'':>10} capture side in each round: {shares} "
                          f"(median {statistics.median(s.capture_side for s in runs[key]):.2f}%)",
                          flush=True)


if __name__ == "__main__":
    main()
