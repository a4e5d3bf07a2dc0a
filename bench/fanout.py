"""Fan-out: how many listeners one broadcaster serves, and at what cost.

    .venv/bin/python -m bench.fanout                 # N = 100, 500, 1000, 2000
    .venv/bin/python -m bench.fanout --listeners 300 --seconds 30

For each N: a real broadcaster (tone source, 20 ms frames, `--workers` worker processes)
and N SSE listeners on raw asyncio sockets in separate client processes (so the clients'
CPU is not the server's). Prints the server's CPU (from /proc, the capturing process and
its workers together; µs/event divides it by the frames the listeners should get) and
RSS, the delivery lag (the server's send stamp in
each `clock` event to its receipt) and the frames the listeners lost. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import cast

from tests.support.procstat import cpu_seconds, rss_kb
from tests.support.server import start_broadcaster

CLIENT_PROCESSES = 2
FRAME_MS = 20.0  # the default config's
SERVER_MS = re.compile(rb'"server_ms":([0-9.]+)[,}]')


class Listener(asyncio.Protocol):
    """One listener: counts frames (`id:` lines) and takes the lag of every clock event.

    A bare Protocol, so that the clients cost as little CPU as they can: they share the
    machine with the server.
    """

    def __init__(self, lags: list[float], counts: list[int], done: asyncio.Future[None],
                 steady_from: float, path: str = "/audio/stream") -> None:
        self.lags, self.counts, self.done = lags, counts, done
        self.path = path
        self.steady_from = steady_from  # lags count once every listener has connected
        self.last_id: int | None = None
        self.head = b""
        self.tail = b""
        self.streaming = False
        self.closing = False  # we hang up: not a drop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        request = f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        cast(asyncio.WriteTransport, transport).write(request)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if not self.streaming:
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            if not self.head.startswith(b"HTTP/1.1 200"):
                self.counts[2] += 1
                self.done.cancel()
                return
            self.streaming = True
            data = self.head
        now_ms = time.time() * 1000
        if (b"server_ms" in data or self.tail) and time.monotonic() >= self.steady_from:
            joined = self.tail + data  # a stamp split across reads
            self.lags.extend(now_ms - float(m.group(1)) for m in SERVER_MS.finditer(joined))
            self.tail = data[-64:] if b"server_ms" not in data[-64:] else b""
        counts = self.counts
        at = data.find(b"id: ")
        while at >= 0:
            end = data.find(b"\n", at)
            if end < 0:
                break
            seq = int(data[at + 4:end])
            if self.last_id is not None and seq != self.last_id + 1:
                counts[1] += seq - self.last_id - 1
            self.last_id = seq
            counts[0] += 1
            at = data.find(b"id: ", end)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing and not self.done.done():
            self.counts[3] += 1
            self.done.set_result(None)


async def listen(port: int, steady_from: float, until: float, lags: list[float],
                 counts: list[int], path: str) -> None:
    """Listen until `until` (monotonic)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    try:
        transport, protocol = await loop.create_connection(
            lambda: Listener(lags, counts, done, steady_from, path), "127.0.0.1", port)
    except OSError:
        counts[2] += 1
        return
    try:
        await asyncio.wait_for(asyncio.shield(done), max(0.0, until - time.monotonic()))
    except (TimeoutError, asyncio.CancelledError):
        pass
    finally:
        protocol.closing = True
        transport.close()


def client_process(port: int, listeners: int, ramp_s: float, seconds: float,
                   queue: multiprocessing.Queue, path: str) -> None:  # type: ignore[type-arg]
    async def main() -> tuple[list[float], list[int], float]:
        lags: list[float] = []
        counts = [0, 0, 0, 0]  # frames, lost, refused, dropped by the server
        steady_from = time.monotonic() + ramp_s
        until = steady_from + seconds
        tasks = []
        for _ in range(listeners):
            tasks.append(asyncio.create_task(listen(port, steady_from, until, lags, counts,
                                                    path)))
            await asyncio.sleep(0.002)  # a ramp, not a SYN flood
        await asyncio.sleep(steady_from - time.monotonic())
        cpu0 = time.process_time()
        await asyncio.gather(*tasks)
        return lags, counts, (time.process_time() - cpu0) / seconds

    try:
        import uvloop  # the clients only: they share the machine with the server
    except ImportError:
        queue.put(asyncio.run(main()))
    else:
        queue.put(uvloop.run(main()))


def family_cpu_seconds(pids: list[int]) -> float:
    """CPU time of the server and its worker processes."""
    return sum(cpu_seconds(pid) for pid in pids)


def run_one(n: int, seconds: float, workers: int, max_bundle_ms: float | None = None,
            listener_bundle_ms: int = 0, archive: bool = True) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="fanout-"))
    proc = start_broadcaster(work, "--source", "tone", "--log-level", "warning", config=(
        f"[server]\nmax_listeners = {n + 10}\nmax_listeners_per_ip = {n + 10}\n"
        f"workers = {workers}\n"
        + (f"max_bundle_ms = {max_bundle_ms}\n" if max_bundle_ms is not None else "")
        + f"[archive]\nenabled = {str(archive).lower()}\nmin_free_mb = 0\n"))
    port = int(proc.url.rsplit(":", 1)[1])
    time.sleep(1.5)  # the workers report in
    pids = [proc.process.pid] + [int(w["pid"]) for w in json.loads(
        urllib.request.urlopen(proc.url + "/status", timeout=5).read()).get("workers", [])]
    try:
        idle_rss = sum(rss_kb(pid) for pid in pids) / 1024
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        ramp_s = n * 0.002 / CLIENT_PROCESSES + 2
        clients = [multiprocessing.Process(target=client_process, args=(
            port, n // CLIENT_PROCESSES + (i < n % CLIENT_PROCESSES), ramp_s, seconds, queue,
            f"/audio/stream?bundle_ms={listener_bundle_ms}" if listener_bundle_ms
            else "/audio/stream"))
            for i in range(CLIENT_PROCESSES)]
        for client in clients:
            client.start()
        time.sleep(ramp_s + 0.5)
        cpu0, wall0 = family_cpu_seconds(pids), time.monotonic()
        time.sleep(seconds * 0.8)
        cpu = (family_cpu_seconds(pids) - cpu0) / (time.monotonic() - wall0)
        rss = sum(rss_kb(pid) for pid in pids) / 1024
        results = [queue.get(timeout=seconds + 60) for _ in clients]
        for client in clients:
            client.join(30)
    finally:
        proc.stop()
    lags = sorted(lag for lags, _, _ in results for lag in lags)
    counts = [sum(c[i] for _, c, _ in results) for i in range(4)]
    client_cpu = sum(cpu for _, _, cpu in results)
    pick = (lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]) if lags else (lambda q: 0.0)
    return {"n": n, "cpu": 100 * cpu, "client_cpu": 100 * client_cpu,
            "us_per_event": cpu * 1e6 / (n * 1000 / FRAME_MS),
            "rss": rss, "per_listener_kb": (rss - idle_rss) * 1024 / n,
            "p50": pick(0.5), "p99": pick(0.99), "max": lags[-1] if lags else 0.0,
            "frames": counts[0], "lost": counts[1], "refused": counts[2], "dropped": counts[3]}


COLUMNS = (  # heading, key, format
    ("N", "n", "{:>6.0f}"), ("server CPU", "cpu", "{:>10.1f}%"),
    ("clients", "client_cpu", "{:>7.1f}%"), ("µs/event", "us_per_event", "{:>9.1f}"),
    ("RSS", "rss", "{:>6.1f}MB"), ("KB/listener", "per_listener_kb", "{:>12.1f}"),
    ("lag p50", "p50", "{:>6.1f}ms"), ("p99", "p99", "{:>6.1f}ms"), ("max", "max", "{:>6.0f}ms"),
    ("frames", "frames", "{:>9.0f}"), ("lost", "lost", "{:>6.0f}"),
    ("refused", "refused", "{:>8.0f}"), ("dropped", "dropped", "{:>8.0f}"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, nargs="*", default=[100, 500, 1000, 2000])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2,
                        help="[server] workers (0: one process captures and serves)")
    parser.add_argument("--max-bundle-ms", type=float,
                        help="[server] max_bundle_ms (default: the config's default)")
    parser.add_argument("--listener-bundle-ms", type=int, default=0,
                        help="each listener asks for ?bundle_ms= this (0: frame by frame)")
    parser.add_argument("--archive", choices=("on", "off", "both"), default="on",
                        help="[archive] enabled; both: each N with it off, then on")
    args = parser.parse_args()
    bundle = "" if args.max_bundle_ms is None else f", max_bundle_ms = {args.max_bundle_ms:g}"
    if args.listener_bundle_ms:
        bundle += f", listeners ask for bundle_ms = {args.listener_bundle_ms}"
    print(f"workers = {args.workers}{bundle}; lag and CPU over {args.seconds:g} s once all listen")
    print("archive " + " ".join(f"{heading:>{len(fmt.format(0))}}"
                                for heading, _, fmt in COLUMNS))
    archives = {"on": [True], "off": [False], "both": [False, True]}[args.archive]
    for n in args.listeners:
        for archive in archives:
            r = run_one(n, args.seconds, args.workers, args.max_bundle_ms,
                        args.listener_bundle_ms, archive)
            print(f"{'on' if archive else 'off':>7} "
                  + " ".join(fmt.format(r[key]) for _, key, fmt in COLUMNS), flush=True)
    print(json.dumps({"machine_cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
