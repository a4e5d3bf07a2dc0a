"""Fan-out: how many listeners one broadcaster serves, and at what cost.

    .venv/bin/python bench/fanout.py                 # N = 100, 500, 1000, 2000
    .venv/bin/python bench/fanout.py --listeners 300 --seconds 30

For each N: a real broadcaster (tone source, 20 ms frames) and N SSE listeners on raw
asyncio sockets in separate client processes (so the clients' CPU is not the server's).
Prints the server's CPU (from /proc) and RSS, the delivery lag (the server's send stamp in
each `clock` event to its receipt) and the frames the listeners lost. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import start_broadcaster
from tests.procstat import cpu_seconds, rss_kb
from tests.raw_client import open_stream

CLIENT_PROCESSES = 2
SERVER_MS = re.compile(rb'"server_ms":([0-9.]+)[,}]')


async def listen(port: int, until: float, lags: list[float], counts: list[int]) -> None:
    """Count frames (`id:` lines) and take the lag of every clock event; no full parsing."""
    try:
        reader, writer = await open_stream(port)
    except (ConnectionRefusedError, OSError):
        counts[2] += 1
        return
    last_id = None
    tail = b""
    try:
        while time.monotonic() < until:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 2)
            except TimeoutError:
                continue
            if not chunk:
                counts[3] += 1
                return
            data = tail + chunk
            # keep a tail for a stamp split across reads (none counted twice: a tail that
            # holds a stamp is dropped, at the price of rarely missing one)
            tail = chunk[-64:] if b"server_ms" not in chunk[-64:] else b""
            now_ms = time.time() * 1000
            lags.extend(now_ms - float(m.group(1)) for m in SERVER_MS.finditer(data))
            at = chunk.find(b"id: ")
            while at >= 0:
                end = chunk.find(b"\n", at)
                if end < 0:
                    break
                seq = int(chunk[at + 4:end])
                if last_id is not None and seq != last_id + 1:
                    counts[1] += seq - last_id - 1
                last_id = seq
                counts[0] += 1
                at = chunk.find(b"id: ", end)
    finally:
        writer.close()


def client_process(port: int, listeners: int, seconds: float, queue: multiprocessing.Queue
                   ) -> None:  # type: ignore[type-arg]
    async def main() -> tuple[list[float], list[int]]:
        lags: list[float] = []
        counts = [0, 0, 0, 0]  # frames, lost, refused, dropped by the server
        until = time.monotonic() + seconds
        tasks = []
        for _ in range(listeners):
            tasks.append(asyncio.create_task(listen(port, until, lags, counts)))
            await asyncio.sleep(0.002)  # a ramp, not a SYN flood
        await asyncio.gather(*tasks)
        return lags, counts

    queue.put(asyncio.run(main()))


def run_one(n: int, seconds: float) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="fanout-"))
    proc = start_broadcaster(work, "--source", "tone", "--log-level", "warning", config=(
        f"[server]\nmax_listeners = {n + 10}\nmax_listeners_per_ip = {n + 10}\n"))
    port = int(proc.url.rsplit(":", 1)[1])
    pid = proc.process.pid
    try:
        idle_rss = rss_kb(pid) / 1024
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        ramp_s = n * 0.002 / CLIENT_PROCESSES + 2
        clients = [multiprocessing.Process(target=client_process, args=(
            port, n // CLIENT_PROCESSES + (i < n % CLIENT_PROCESSES), seconds + ramp_s, queue))
            for i in range(CLIENT_PROCESSES)]
        for client in clients:
            client.start()
        time.sleep(ramp_s)
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds * 0.8)
        cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - wall0)
        rss = rss_kb(pid) / 1024
        results = [queue.get(timeout=seconds + 60) for _ in clients]
        for client in clients:
            client.join(30)
    finally:
        proc.stop()
    lags = sorted(lag for lags, _ in results for lag in lags)
    counts = [sum(c[i] for _, c in results) for i in range(4)]
    pick = (lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]) if lags else (lambda q: 0.0)
    return {"n": n, "cpu": 100 * cpu, "rss": rss, "per_listener_kb": (rss - idle_rss) * 1024 / n,
            "p50": pick(0.5), "p99": pick(0.99), "max": lags[-1] if lags else 0.0,
            "frames": counts[0], "lost": counts[1], "refused": counts[2], "dropped": counts[3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, nargs="*", default=[100, 500, 1000, 2000])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"{'N':>6} {'server CPU':>11} {'RSS':>8} {'KB/listener':>12} {'lag p50':>8} "
          f"{'p99':>8} {'max':>8} {'frames':>9} {'lost':>6} {'refused':>8} {'dropped':>8}")
    for n in args.listeners:
        r = run_one(n, args.seconds)
        print(f"{r['n']:>6.0f} {r['cpu']:>10.1f}% {r['rss']:>6.1f}MB {r['per_listener_kb']:>12.1f} "
              f"{r['p50']:>6.1f}ms {r['p99']:>6.1f}ms {r['max']:>6.0f}ms {r['frames']:>9.0f} "
              f"{r['lost']:>6.0f} {r['refused']:>8.0f} {r['dropped']:>8.0f}", flush=True)
    print(json.dumps({"machine_cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
