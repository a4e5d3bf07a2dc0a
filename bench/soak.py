"""Soak test: many listeners connecting, reading, stalling and leaving, for a long time.

    .venv/bin/python -m bench.soak --listeners 200 --minutes 30

Runs the real broadcaster on the virtual microphone (a private PulseAudio, fed a tone) and
N clients on raw asyncio sockets from this process: a quarter read steadily for the whole
run (the healthy ones), a quarter reconnect every few seconds with Last-Event-ID, a quarter
stop reading for a while now and then, a quarter connect, read briefly and go. Prints what
the healthy listeners lost (must be 0), their delivery lag (server send stamp to receipt),
how the server ended the connections it ended (a stalled client is dropped: reset, end of
stream, ...), and the server's memory and file descriptors over time. Sends traffic to
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import random
import statistics
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.procstat import open_fds, rss_kb
from tests.support.raw_client import dechunk, open_stream
from tests.support.server import Broadcaster, no_device_env, start_broadcaster
from tests.support.signal_tools import sine_s16le
from tests.support.sse import SSEDecoder
from tests.support.vmic import VirtualMic


@dataclass
class Tally:
    """What the clients saw."""

    healthy_frames: int = 0
    healthy_lost: int = 0
    healthy_gap_events: int = 0
    healthy_disconnects: int = 0
    resumes: int = 0
    resume_gaps: int = 0
    stalls: int = 0
    stall_gaps: int = 0
    short_visits: int = 0
    refused: int = 0
    lags_ms: list[float] = field(default_factory=list)
    # (kind, how) of every connection that ended: "left" when the client chose to, else
    # how the server (or the network) ended it
    ends: Counter[tuple[str, str]] = field(default_factory=Counter)


LEFT = "left"  # the client ended the connection itself, as planned
CONNECT_TIMEOUT_S = 10.0
# Every way the server may legitimately end a client's connection, as the client sees it.
ENDINGS = (ConnectionError, asyncio.IncompleteReadError, TimeoutError, OSError)


def how_it_ended(exc: BaseException) -> str:
    """A short name for the way a connection ended."""
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, BrokenPipeError):
        return "broken pipe"
    if isinstance(exc, ConnectionAbortedError):
        return "aborted"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "closed before the headers"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno, f"errno {exc.errno}")
    return type(exc).__name__


async def session(port: int, tally: Tally, until: float, kind: str, last_id: int | None,
                  read_s: float) -> int | None:
    """One connection; returns the last audio id it received."""
    try:
        reader, writer = await asyncio.wait_for(
            open_stream(port, last_id, rcvbuf=4096 if kind == "staller" else None),
            CONNECT_TIMEOUT_S)
    except ConnectionRefusedError:  # or answered with something other than 200
        tally.refused += 1
        await asyncio.sleep(1)
        return last_id
    except ENDINGS as exc:
        tally.ends[kind, f"{how_it_ended(exc)} while connecting"] += 1
        await asyncio.sleep(1)
        return last_id
    decoder, raw = SSEDecoder(), bytearray()
    expected = None if last_id is None else last_id + 1
    stall_at = time.monotonic() + random.uniform(2, 8) if kind == "staller" else None
    end = min(until, time.monotonic() + read_s)
    how = LEFT
    try:
        while time.monotonic() < end:
            if stall_at is not None and time.monotonic() >= stall_at:
                tally.stalls += 1
                # the socket stays open, unread (never past the end of the run)
                stall_s = random.uniform(10, 40)
                await asyncio.sleep(max(0.0, min(stall_s, until - time.monotonic())))
                stall_at = time.monotonic() + random.uniform(5, 15)
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 2)
            except TimeoutError:
                continue
            if not chunk:
                how = "end of stream"
                break
            raw += chunk
            for event in decoder.feed(dechunk(raw)):
                if event.event == "message":
                    seq = int(event.id or -1)
                    if expected is not None and seq != expected:
                        if kind == "healthy":
                            tally.healthy_lost += seq - expected
                        elif kind == "churner" and last_id is not None:
                            tally.resume_gaps += 1
                    expected = seq + 1
                    last_id = seq
                    if kind == "healthy":
                        tally.healthy_frames += 1
                elif event.event == "gap":
                    if kind == "healthy":
                        tally.healthy_gap_events += 1
                    elif kind == "staller":
                        tally.stall_gaps += 1
                    expected = json.loads(event.data)["next_id"]
                elif event.event == "clock" and kind == "healthy":
                    tally.lags_ms.append(time.time() * 1000 - json.loads(event.data)["server_ms"])
    except ENDINGS as exc:  # a stalled client dropped by the server sees a reset, say
        how = how_it_ended(exc)
    finally:
        writer.close()
    tally.ends[kind, how] += 1
    if kind == "healthy" and how != LEFT:
        tally.healthy_disconnects += 1
    return last_id


async def client(port: int, kind: str, tally: Tally, until: float) -> None:
    """One listener of `kind`, connecting again and again until the end of the run."""
    await asyncio.sleep(random.uniform(0, 3))
    last_id: int | None = None
    while time.monotonic() < until:
        if kind == "healthy":
            await session(port, tally, until, kind, None, until)
            return
        if kind == "churner":
            if last_id is not None:
                tally.resumes += 1
            last_id = await session(port, tally, until, kind, last_id, random.uniform(2, 10))
            await asyncio.sleep(random.uniform(0.1, 0.5))  # well within the ring
        elif kind == "staller":
            await session(port, tally, until, kind, None, random.uniform(20, 60))
        else:
            tally.short_visits += 1
            await session(port, tally, until, kind, None, random.uniform(0.2, 2))
            await asyncio.sleep(random.uniform(0.5, 3))


def server_usage(pid: int) -> tuple[int, int]:
    """(RSS in kB, open file descriptors) of the server process."""
    return rss_kb(pid), open_fds(pid)


async def feed_tone(mic: VirtualMic, until: float) -> None:
    """Keep about a second of tone queued in the virtual microphone."""
    block = sine_s16le(440, 1.0, amplitude=0.3)
    while time.monotonic() < until:
        if mic.queued_frames < 24000:
            mic.play(block)
        await asyncio.sleep(0.25)


async def soak(proc: Broadcaster, mic: VirtualMic, listeners: int, seconds: float) -> None:
    """Run the clients for `seconds`, printing the server's usage every 10 s; then report."""
    port = int(proc.url.rsplit(":", 1)[1])
    tally = Tally()
    until = time.monotonic() + seconds
    kinds = ["healthy", "churner", "staller", "visitor"]
    usage = [(0.0, *server_usage(proc.process.pid))]
    started = time.monotonic()
    tasks = [asyncio.create_task(client(port, kinds[i % 4], tally, until))
             for i in range(listeners)]
    tasks.append(asyncio.create_task(feed_tone(mic, until)))
    while time.monotonic() < until:
        await asyncio.sleep(min(10, max(0.1, until - time.monotonic())))
        usage.append((time.monotonic() - started, *server_usage(proc.process.pid)))
        print(f"  {usage[-1][0]:7.0f} s  rss {usage[-1][1] / 1024:6.1f} MB  "
              f"fds {usage[-1][2]:4d}  healthy frames {tally.healthy_frames}", flush=True)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    report(tally, usage, listeners, seconds)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:  # a fault of this benchmark's, not a connection ending: after the report
        print(f"\n{len(errors)} clients failed; the first:", flush=True)
        traceback.print_exception(errors[0])
        raise SystemExit(1)


def endings(tally: Tally, kind: str) -> str:
    """How many connections of `kind` the server ended, of how many, and how."""
    counts = sorted(((n, how) for (k, how), n in tally.ends.items() if k == kind and how != LEFT),
                    reverse=True)
    total = sum(n for (k, _), n in tally.ends.items() if k == kind)
    how = f" ({', '.join(f'{how} {n}' for n, how in counts)})" if counts else ""
    return f"{kind} {sum(n for n, _ in counts)}/{total}{how}"


def report(tally: Tally, usage: list[tuple[float, int, int]], listeners: int,
           seconds: float) -> None:
    """The results, one row per figure."""
    lags = sorted(tally.lags_ms)

    def p(q: float) -> float:  # nearest-rank quantile
        return lags[min(len(lags) - 1, int(q * len(lags)))] if lags else 0.0

    settled = [u for u in usage if u[0] >= 60] or usage
    rows = [
        ("duration", f"{seconds / 60:.1f} min"),
        ("listeners", f"{listeners} (a quarter each: healthy, churning, stalling, visiting)"),
        ("frames lost by healthy listeners", f"{tally.healthy_lost} "
         f"(of {tally.healthy_frames}; gap events {tally.healthy_gap_events}, "
         f"disconnects {tally.healthy_disconnects})"),
        ("delivery lag to healthy listeners", f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, "
         f"max {lags[-1] if lags else 0:.1f} ms ({len(lags)} samples)"),
        ("resumes with Last-Event-ID", f"{tally.resumes}, with a gap: {tally.resume_gaps}"),
        ("stalls", f"{tally.stalls} (skipped to live: {tally.stall_gaps})"),
        ("short visits / refused", f"{tally.short_visits} / {tally.refused}"),
        ("connections the server ended", ", ".join(
            endings(tally, kind) for kind in ("healthy", "churner", "staller", "visitor"))),
        ("server RSS", f"start {usage[0][1] / 1024:.1f} MB, after 1 min "
         f"{settled[0][1] / 1024:.1f} MB, end {usage[-1][1] / 1024:.1f} MB, "
         f"max {max(u[1] for u in usage) / 1024:.1f} MB"),
        ("server fds", f"start {usage[0][2]}, end {usage[-1][2]}, "
         f"max {max(u[2] for u in usage)}"),
        ("RSS growth after the first minute", f"{(usage[-1][1] - settled[0][1]) / 1024:+.1f} MB"),
    ]
    if len(lags) > 1:
        rows.append(("lag stdev", f"{statistics.stdev(lags):.1f} ms"))
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    config = (f"[server]\nmax_listeners = {args.listeners * 2}\n"
              f"max_listeners_per_ip = {args.listeners * 2}\n")
    with VirtualMic(work / "vmic") as mic:
        proc = start_broadcaster(work, "--source", "mic", env=no_device_env() | mic.env,
                                 config=config)
        try:
            asyncio.run(soak(proc, mic, args.listeners, args.minutes * 60))
        finally:
            code = proc.stop()
            print(f"server exit code {code}; log: {proc.log_path}")


if __name__ == "__main__":
    main()
