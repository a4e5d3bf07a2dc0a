"""Side by side with Icecast2 + DarkIce (and Snapcast): click latency and fan-out CPU.

    .venv/bin/python -m bench.peers                  # 100 clicks, 100 listeners each
    .venv/bin/python -m bench.peers --clicks 200 --listeners 300 --seconds 30
    .venv/bin/python -m bench.peers --no-snapcast    # Icecast2 + DarkIce only
    .venv/bin/python -m bench.peers --bundle-ms 500  # and listeners asking for bundles
    .venv/bin/python -m bench.peers --rounds 3       # CPU taken 3 times, interleaved
    .venv/bin/python -m bench.peers --bundle-ms 500 --floor  # and a bare Python writer

Needs the Debian packages icecast2 and darkice, and snapserver for the Snapcast column
(`./scripts/setup.sh --dev --bench` installs them). One virtual microphone (a private
PulseAudio pipe source) feeds every system at once: the real broadcaster reads it through
PyAudio; DarkIce reads the same PulseAudio source and sends Ogg/Opus to a private Icecast2;
snapserver reads it through ALSA. Each is set up for the lowest latency it allows (the notes
printed at the end say how), at the same Opus bitrate.

1. Click latency: 2 ms bursts go into the microphone every 0.2531 s. One client per system
   decodes its stream with libopus (the broadcaster's SSE events; Icecast's Ogg pages,
   parsed here; Snapcast's binary protocol) and notes when the packet holding each click
   arrived. A click's delay is that arrival minus when its first sample entered the mic.
2. Fan-out: N clients in separate processes read one system's stream while its server
   CPU is taken from /proc (the broadcaster's one process; icecast2 + darkice; snapserver),
   then the next system's. All keep capturing meanwhile.

With --rounds K, the CPU figures (idle and fan-out, every system in turn) are taken K times
and each shown as its median: on a shared machine, load from elsewhere then lands on every
system alike instead of on whichever was measured at the time.

With --bundle-ms N, the fan-out phase runs once more against the same broadcaster, its
listeners asking for `?bundle_ms=N` (Icecast's granularity is about two writes a second:
500). Its column has no click figures: its latency is the per-frame stream's plus N.

With --floor as well, a bare asyncio server (floor.py) sends the same number of bytes at
the same moments to as many listeners: the least a write costs this interpreter, the floor
under the bundled column.

With --schedstat, a process's CPU is the scheduler's own count of its live threads' runtime
(/proc/PID/task/*/schedstat, in nanoseconds) instead of utime + stime in clock ticks.

Prints one table, each peer's figures beside the broadcaster's with the ratio
peer / broadcaster. Loopback only. This module runs the phases and reports; the clients are
in clients.py, the peers' servers in servers.py, the Ogg and Snapcast parsing in wire.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from bench.latency import CLICK_EVERY_S, RATE, click_pcm
from bench.peers.clients import READERS, Listening, click_delays_ms, listener_process
from bench.peers.servers import (
    BROADCASTER_BYTES_PER_S,
    PULSE_LATENCY_MS,
    SNAPCAST_BUFFER_MS,
    SNAPCAST_CHUNK_MS,
    Target,
    icecast_darkice,
    python_floor,
    snapcast,
    tool_version,
)
from tests.support.procstat import cpu_seconds, runtime_seconds
from tests.support.server import no_device_env, start_broadcaster
from tests.support.vmic import VirtualMic

CLIENT_PROCESSES = 2
SETUP_HINT = "run ./scripts/setup.sh --dev --bench to install it"


# ------------------------------------------------------------------ click latency


def pick(values: list[float], q: float) -> float:
    """The q-quantile of sorted `values` (nearest rank); NaN for none."""
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def track_entries(mic: VirtualMic, positions: list[int], entered: list[float | None],
                        until: float) -> None:
    """Fill in when each queued click entered the mic (the mic keeps only ~20 s of that)."""
    while time.monotonic() < until and None in entered:
        for i, position in enumerate(positions):
            if entered[i] is None:
                entered[i] = mic.entered_at(position)
                if entered[i] is None:
                    break
        await asyncio.sleep(0.05)


async def click_run(mic: VirtualMic, clicks: int, frame_samples: int, targets: list[Target]
                    ) -> list[list[float]]:
    """Play `clicks` clicks once every client decodes live audio; each target's delays."""
    states = [Listening(frame_samples) for _ in targets]
    until = time.monotonic() + 20 + clicks * CLICK_EVERY_S + 5
    tasks = [asyncio.create_task(READERS[target.kind](target.port, state, until))
             for target, state in zip(targets, states, strict=True)]
    live = asyncio.gather(*(state.live.wait() for state in states))
    try:
        # until every client decodes live audio, or one of them fails
        waiting: list[asyncio.Future[Any]] = [*tasks, live]
        await asyncio.wait(waiting, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if not live.done():
            names = [t.name for t, s in zip(targets, states, strict=True) if not s.live.is_set()]
            raise RuntimeError(f"no live audio from {', '.join(names)} within 20 s")
        await asyncio.sleep(1)
        block = click_pcm()
        positions = [mic.play(block) for _ in range(clicks)]
        entered: list[float | None] = [None] * clicks
        finish = time.monotonic() + clicks * CLICK_EVERY_S + 4  # the last Ogg page included
        await track_entries(mic, positions, entered, finish)
        await asyncio.sleep(max(0.0, finish - time.monotonic()))
    finally:
        mic.clear()
        live.cancel()
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                raise result
    return [click_delays_ms(state.finder.found, entered) for state in states]


# ------------------------------------------------------------------ fan-out


def cpu_clock(args: argparse.Namespace) -> Callable[[int], float]:
    """How a process's CPU seconds are read: utime + stime (clock ticks), or with
    --schedstat the scheduler's own count of every live thread's runtime."""
    return runtime_seconds if args.schedstat else cpu_seconds


def server_cpu(pids: list[int], seconds: float,
               clock: Callable[[int], float] = cpu_seconds) -> float:
    """Percent of one core the processes used over the next `seconds`, by `clock` (a
    process's CPU seconds so far)."""
    before, started = sum(clock(pid) for pid in pids), time.monotonic()
    time.sleep(seconds)
    return 100 * (sum(clock(pid) for pid in pids) - before) / (time.monotonic() - started)


def fanout_cpu(target: Target, listeners: int, seconds: float,
               clock: Callable[[int], float] = cpu_seconds) -> tuple[float, int]:
    """Server CPU (%) with `listeners` clients reading; and how many of them were fed."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    ramp_s = listeners * 0.002 / CLIENT_PROCESSES + 3
    shares = [listeners // CLIENT_PROCESSES + (i < listeners % CLIENT_PROCESSES)
              for i in range(CLIENT_PROCESSES)]
    clients = [context.Process(target=listener_process, daemon=True, args=(
        target.kind, target.port, share, ramp_s, ramp_s + seconds + 2, queue))
        for share in shares]
    for client in clients:
        client.start()
    try:
        time.sleep(ramp_s)
        cpu = server_cpu(target.pids, seconds, clock)
        results = [queue.get(timeout=seconds + 60) for _ in clients]
    except BaseException:
        for client in clients:
            client.kill()
        raise
    finally:
        for client in clients:
            client.join(10)
            if client.is_alive():
                client.kill()
    return cpu, sum(r[2] for r in results)


# ------------------------------------------------------------------ run and report


@dataclass
class Figures:
    """What one system measured (CPU once per round)."""

    delays_ms: list[float]
    idle_cpus: list[float] = field(default_factory=list)
    fanout_cpus: list[float] = field(default_factory=list)
    fed: int = 0

    @property
    def idle_cpu(self) -> float:
        """Median CPU (%) with no listener."""
        return statistics.median(self.idle_cpus)

    @property
    def fanout_cpu(self) -> float:
        """Median CPU (%) with the listeners."""
        return statistics.median(self.fanout_cpus)


def measure(args: argparse.Namespace, mic: VirtualMic, frame_samples: int,
            targets: list[Target]) -> list[Figures]:
    """Both phases against every target."""
    names = ", ".join(target.name for target in targets)
    print(f"{args.clicks} clicks into the mic ({args.clicks * CLICK_EVERY_S:.0f} s), "
          f"found in {names} ...", flush=True)
    clicked = [target for target in targets if target.kind in READERS]
    delays = iter(asyncio.run(click_run(mic, args.clicks, frame_samples, clicked)))
    figures = [Figures(next(delays) if target.kind in READERS else [])
               for target in targets]
    idle_s = min(args.seconds, 10.0)
    clock = cpu_clock(args)
    for round_no in range(1, args.rounds + 1):
        of = f" (round {round_no} of {args.rounds})" if args.rounds > 1 else ""
        print(f"server CPU with no listener, {idle_s:.0f} s each{of} ...", flush=True)
        idle: dict[tuple[int, ...], float] = {}
        for target, figure in zip(targets, figures, strict=True):
            key = tuple(target.pids)  # a column on the same server shares its idle figure
            if key not in idle:
                idle[key] = server_cpu(target.pids, idle_s, clock)
            figure.idle_cpus.append(idle[key])
        print(f"server CPU with {args.listeners} listeners, {args.seconds:.0f} s each{of} ...",
              flush=True)
        for target, figure in zip(targets, figures, strict=True):
            cpu, fed = fanout_cpu(target, args.listeners, args.seconds, clock)
            figure.fanout_cpus.append(cpu)
            figure.fed = fed if round_no == 1 else min(figure.fed, fed)
            target.check_alive()
    return figures


def table(args: argparse.Namespace, targets: list[Target], figures: list[Figures]) -> str:
    """The results, one column per system and, after each peer's, its ratio to ours."""
    def ratio(ours: float, theirs: float) -> str:
        return f"{theirs / ours:.2f}x" if ours > 0 and theirs == theirs else "-"

    rows: list[tuple[str, list[float], str]] = [
        (f"click delay {name} (ms)", [pick(f.delays_ms, q) for f in figures], ".1f")
        for name, q in (("min", 0.0), ("p50", 0.5), ("p99", 0.99), ("max", 1.0))]
    rows += [("server CPU, no listener (%)", [f.idle_cpu for f in figures], ".1f"),
             (f"server CPU, {args.listeners} listeners (%)", [f.fanout_cpu for f in figures],
              ".1f"),
             ("per listener beyond idle (%)",
              [(f.fanout_cpu - f.idle_cpu) / args.listeners for f in figures], ".4f")]
    header = f"{'':<30}{targets[0].name:>13}"
    for target in targets[1:]:
        header += f"{target.name:>17}{'ratio':>8}"
    lines = [header]
    for label, values, spec in rows:
        line = f"{label:<30}{values[0]:>13{spec}}"
        for value in values[1:]:
            line += f"{value:>17{spec}}{ratio(values[0], value):>8}"
        lines.append(line)
    for label, counts, total in (("clicks found", [len(f.delays_ms) for f in figures],
                                  args.clicks),
                                 ("listeners fed", [f.fed for f in figures], args.listeners)):
        line = f"{label:<30}{f'{counts[0]}/{total}':>13}"
        for count in counts[1:]:
            line += f"{f'{count}/{total}':>17}{'':>8}"
        lines.append(line)
    return "\n".join(lines)


def notes(args: argparse.Namespace, targets: list[Target]) -> str:
    """How each system was set up, and what the figures mean."""
    icecast = tool_version(["icecast2", "-v"], "Icecast")
    darkice = tool_version(["darkice", "-h"], "DarkIce")
    page_s = 4096 * 8 / (args.bitrate_kbps * 1000)
    text = f"""
Ratios are peer / broadcaster. Opus {args.bitrate_kbps} kb/s, 48 kHz, from one PulseAudio source.
- broadcaster: {args.frame_ms:g} ms frames, application "restricted_lowdelay" (the default),
  mono; PyAudio on ALSA `default` (the pulse plugin); one SSE event per packet.
- {icecast}: burst-on-connect 0 and burst-size 0 (server and mount), so a listener starts
  at the next page and gets each page as it arrives; queue-size 512 KiB.
- {darkice}: reads the PulseAudio source directly, asking for {PULSE_LATENCY_MS} ms fragments
  (PULSE_LATENCY_MSEC; it made little difference here); bufferSecs 1, the least it takes
  (it holds audio back only when what follows is slow); opus, cbr, mono. It encodes 10 ms
  frames and lets libogg close a page at ~4 KB: every ~{page_s:.1f} s at this bitrate,
  whatever the settings, and a click waits up to that long for its page."""
    if any(target.kind == "snapcast" for target in targets):
        snapserver = tool_version(["snapserver", "--version"], "snapserver")
        text += f"""
- {snapserver}: ALSA `default` (the pulse plugin), chunk_ms {SNAPCAST_CHUNK_MS}, opus stereo (its
  Opus encoder takes nothing else). It reads ALSA on its own timer and sends a silent chunk
  when the input is late; what follows stays that much later, so its delay climbs by a chunk
  at each hiccup (more on a busy machine). Its clients play each chunk `buffer`
  ({SNAPCAST_BUFFER_MS} ms here, the default) after its capture time, however early it arrives."""
    if any(target.kind == "sse?floor" for target in targets):
        text += f"""
- Python floor: bench/peers/floor.py, a bare asyncio server writing the same bytes a bundle
  of the broadcaster's holds ({BROADCASTER_BYTES_PER_S * args.bundle_ms // 1000} bytes) to
  every listener every {args.bundle_ms} ms, with the broadcaster's socket options."""
    return text + f"""
Delays are to a packet's arrival at a client on 127.0.0.1, before any playout buffer (a
browser's <audio> element buffers an Ogg stream much further). CPU is {
    "the scheduler's runtime of every live thread" if args.schedstat
    else "user + system time"} from /proc over wall time (100 % = one core) of the server
side: the broadcaster's process;
icecast2 + darkice; snapserver. Listeners are raw clients in {CLIENT_PROCESSES} other processes."""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=100)
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="how long each server's CPU is measured under fan-out")
    parser.add_argument("--frame-ms", type=float, default=20.0, help="the broadcaster's")
    parser.add_argument("--bitrate-kbps", type=int, default=64, help="Opus bitrate, for all")
    parser.add_argument("--no-snapcast", action="store_true", help="leave Snapcast out")
    parser.add_argument("--rounds", type=int, default=1,
                        help="take the CPU figures this many times, interleaved (medians)")
    parser.add_argument("--bundle-ms", type=int, default=0,
                        help="also fan out to listeners asking for ?bundle_ms= this")
    parser.add_argument("--floor", action="store_true",
                        help="with --bundle-ms: also a bare Python server writing as much")
    parser.add_argument("--schedstat", action="store_true",
                        help="CPU as the scheduler counts it (ns), not in clock ticks")
    args = parser.parse_args()
    for tool in ("icecast2", "darkice"):
        if shutil.which(tool) is None:
            sys.exit(f"bench.peers needs {tool}: {SETUP_HINT}")
    with_snapcast = not args.no_snapcast and shutil.which("snapserver") is not None
    if not args.no_snapcast and not with_snapcast:
        print(f"snapserver not found, Snapcast left out ({SETUP_HINT})", flush=True)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"stopped by signal {signum}")  # unwinds through the cleanups

    signal.signal(signal.SIGTERM, on_sigterm)
    work = Path(tempfile.mkdtemp(prefix="peers-"))
    try:
        with contextlib.ExitStack() as stack:
            mic = stack.enter_context(VirtualMic(work / "vmic", chunk_ms=10))
            ours = start_broadcaster(
                work, "--source", "mic", "--log-level", "warning",
                env=no_device_env() | mic.env,
                config=(f"[audio]\nframe_ms = {args.frame_ms}\n"
                        f"bitrate_bps = {args.bitrate_kbps * 1000}\n"
                        f"[server]\nmax_listeners = {args.listeners + 20}\n"
                        f"max_listeners_per_ip = {args.listeners + 20}\n"))
            stack.callback(ours.stop)
            targets = [Target("broadcaster", "sse", int(ours.url.rsplit(":", 1)[1]),
                              [ours.process], ours.log),
                       stack.enter_context(icecast_darkice(mic, args.bitrate_kbps,
                                                           args.listeners))]
            if args.bundle_ms:
                targets.insert(1, Target(f"bundles {args.bundle_ms}", f"sse?bundle_ms="
                                         f"{args.bundle_ms}", targets[0].port,
                                         targets[0].processes, ours.log))
            if args.floor and args.bundle_ms:
                targets.insert(2, stack.enter_context(python_floor(args.bundle_ms)))
            if with_snapcast:
                targets.append(stack.enter_context(snapcast(mic, args.bitrate_kbps)))
            figures = measure(args, mic, int(RATE * args.frame_ms / 1000), targets)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(args, targets, figures))
    if args.rounds > 1:
        for target, figure in zip(targets, figures, strict=True):
            print(f"{target.name}: per listener beyond idle in each round (%): " + ", ".join(
                f"{(busy - idle) / args.listeners:.4f}"
                for idle, busy in zip(figure.idle_cpus, figure.fanout_cpus, strict=True)))
    print(notes(args, targets))


if __name__ == "__main__":
    main()
