"""What capture + encode cost with nobody listening, and the idle memory.

    .venv/bin/python bench/cpu.py [--seconds 20]

Runs the real broadcaster with no listener, once on the virtual microphone (real PyAudio
through PulseAudio) and once on the built-in tone, for each Opus complexity asked for, and
prints the process's CPU (from /proc: user + system time over wall time) split by thread,
and its RSS. The main thread is the event loop; the others are the capture thread and
whatever PortAudio / the ALSA PulseAudio plugin start.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import no_device_env, start_broadcaster
from tests.procstat import rss_kb, thread_cpu_seconds
from tests.signal_tools import sine_s16le
from tests.vmic import VirtualMic


def measure(label: str, args: list[str], env: dict[str, str], complexity: int,
            seconds: float, mic: VirtualMic | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="cpu-"))
    proc = start_broadcaster(work, *args, env=env, config=f"[audio]\ncomplexity = {complexity}\n")
    pid = proc.process.pid
    try:
        if mic is not None:
            mic.play(sine_s16le(440, seconds + 5, amplitude=0.3))
        time.sleep(2)
        before, started = thread_cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        after, wall = thread_cpu_seconds(pid), time.monotonic() - started
        rss = rss_kb(pid) / 1024
    finally:
        proc.stop()
        if mic is not None:
            mic.clear()
    used = {tid: 100 * (after[tid] - before.get(tid, 0.0)) / wall for tid in after}
    main_thread = used.pop(pid, 0.0)
    others = ", ".join(f"{share:.2f}%" for share in sorted(used.values(), reverse=True)
                       if share >= 0.01) or "-"
    print(f"{label:<22} {complexity:>10} {main_thread + sum(used.values()):>8.2f}% "
          f"{main_thread:>10.2f}% {others:<28} {rss:>7.1f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--complexity", type=int, nargs="*", default=[5, 0])
    args = parser.parse_args()
    print(f"{'source (20 ms frames)':<22} {'complexity':>10} {'process':>9} {'event loop':>11} "
          f"{'other threads':<28} {'RSS':>10}")
    with VirtualMic(Path(tempfile.mkdtemp(prefix="cpu-vmic-"))) as mic:
        for complexity in args.complexity:
            measure("mic (virtual, PyAudio)", ["--source", "mic"], no_device_env() | mic.env,
                    complexity, args.seconds, mic)
            measure("tone", ["--source", "tone"], no_device_env(), complexity, args.seconds,
                    None)


if __name__ == "__main__":
    main()
