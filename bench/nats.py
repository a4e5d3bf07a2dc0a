"""Edges fed through NATS: the engine's lag, and an edge's listeners' lag against the
capture node's.

    .venv/bin/python -m bench.nats                        # 3 NATS nodes, 2 edges, 200 each
    .venv/bin/python -m bench.nats --nodes 1 --edges 1 --listeners 50 --seconds 20
    .venv/bin/python -m bench.nats --edges 5 --listeners 200 --kill-edge   # one dies mid-run
    .venv/bin/python -m bench.nats --edges 5 --listeners 200 --most 100    # the longest run

A real NATS cluster on 127.0.0.1 (replicated stream when 3 nodes), a capturing broadcaster
(tone, 20 ms frames) publishing to it, edges each on another NATS node, and `--listeners`
SSE listeners on the capture node and on every edge (bench/fanout.py's clients, in their
own processes). Prints:

- engine lag: from the capture node's ring to an edge's ring, per frame that carries a
  `clock` event (once a second): the edge's `server_ms` minus the capture node's, for the
  same id (one machine, one clock);
- arrival delay: per frame, when a probe listener on an edge got it minus when the probe
  on the capture node got it (engine lag plus the difference of the two deliveries);
- delivery lag of each node's listeners (receipt minus their node's `server_ms` stamp),
  p50 and p99, frames lost, and each process's CPU;
- the engine lag over all edges' clock frames together (a p99 over one edge's 20 frames
  would be its largest), and beside it the floor: the transit of a bare NATS client pair
  (bench/nats_floor.py) from the capture node's server to the first edge's, every frame,
  in the same run.

With `--kill-edge`, the first edge is killed halfway: its listeners resume on the next
edge with `Last-Event-ID` (bench/failover.py); what they lost is counted.

With `--most STEP`, the run is repeated on the same cluster and nodes with STEP more
listeners on every node each time, until a node's listeners' lag p99 passes 50 ms or a
frame is lost; it prints the most that held. The listeners' clients run on the same
machine, so that figure is for the machine serving and listening at once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from bench.failover import failover_process
from bench.nats_floor import floor_process
from tests.support.nats import NatsCluster
from tests.support.procstat import cpu_seconds
from tests.support.server import Broadcaster, start_broadcaster
from tests.support.sse_client import BackgroundListener, TolerantListener

STATION = "bench"
FRAME_MS = 20.0  # the broadcaster's default, which these runs use


def pick(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def clocks(probe: BackgroundListener) -> dict[int, float]:
    """id → server_ms of the clock events a probe got."""
    return {int(d["id"]): float(d["server_ms"]) for d in
            (json.loads(e.data) for e in probe.named("clock"))}


def arrivals(probe: TolerantListener) -> dict[int, float]:
    """id → when (monotonic s) a probe got the frame."""
    return {seq: at for at, seq in probe.arrivals()}


MOST_P99_MS = 50.0  # --most: the lag a run may reach and still count


def run(nodes: int, edges: int, listeners: int, seconds: float, kill_edge: bool,
        step: int = 0) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-nats-"))
    most = 100_000 if step else listeners * (edges + 1) + 20  # a dead edge's listeners too
    limits = f"[server]\nmax_listeners = {most}\nmax_listeners_per_ip = {most}\n"
    with NatsCluster(work / "nats", size=nodes) as cluster:
        urls = [u.replace("nats://", "") for u in cluster.urls]
        capture = start_broadcaster(
            work, "--source", "tone", "--log-level", "warning", config=limits
            + f'[engine]\npublish = "nats://{urls[0]}/{STATION}"\n'
            + f"stream_replicas = {3 if nodes >= 3 else 1}\n")
        procs: list[Broadcaster] = [capture]
        try:
            for i in range(edges):
                procs.append(start_broadcaster(
                    work, "--source", f"nats://{urls[(i + 1) % nodes]}/{STATION}",
                    "--log-level", "warning", config=limits))
            held = 0
            while True:
                rows = measure(procs, cluster.urls, listeners, seconds, kill_edge)
                worst = max(p99 for _, p99, _ in rows)
                if not step or worst > MOST_P99_MS or any(lost for _, _, lost in rows):
                    break
                held = listeners
                listeners += step
            if step:
                print(f"the most that held (listeners' lag p99 <= {MOST_P99_MS:g} ms on every "
                      f"node, no frame lost): {held} listeners on each of {len(procs)} "
                      f"nodes, {held * len(procs)} in all")
        finally:
            for proc in procs:
                proc.stop()


def measure(procs: list[Broadcaster], nats_urls: list[str], listeners: int, seconds: float,
            kill_edge: bool) -> list[tuple[str, float, int]]:
    """Print one run's figures; each node's (name, listeners' lag p99 ms, frames lost)."""
    # The killed edge's probe loses its connection: tolerated.
    probes = [TolerantListener(p.url + "/audio/stream") for p in procs]
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    ramp_s = listeners * 0.002 + 2
    ports = [int(p.url.rsplit(":", 1)[1]) for p in procs]
    # A listener whose edge dies goes on at the next edge (never the capture node).
    clients = [multiprocessing.Process(target=failover_process, args=(
        [port, *(ports[1:][i % (len(ports) - 1):] + ports[1:][:i % (len(ports) - 1)])]
        if i else [port], listeners, ramp_s, seconds, queue, i))
        for i, port in enumerate(ports) if listeners]
    for client in clients:
        client.start()
    floor_at = [nats_urls[0], nats_urls[1 % len(nats_urls)]]
    floor = multiprocessing.Process(target=floor_process, args=(
        *floor_at, FRAME_MS, seconds * 0.8 + 0.5, queue))
    time.sleep(ramp_s)
    floor.start()
    time.sleep(0.5)
    pids = [p.process.pid for p in procs]
    cpu0, wall0 = [cpu_seconds(pid) for pid in pids], time.monotonic()
    if kill_edge and len(procs) > 2:
        time.sleep(seconds * 0.4)
        procs[1].process.kill()
        time.sleep(seconds * 0.4)
    else:
        time.sleep(seconds * 0.8)
    wall = time.monotonic() - wall0
    cpu = [(cpu_seconds(pid) - c0) / wall * 100 for pid, c0 in zip(pids, cpu0, strict=True)]
    got = [queue.get(timeout=seconds + 60) for _ in range(len(clients) + 1)]
    transits = next(r for r in got if not isinstance(r, tuple))
    results = sorted((r for r in got if isinstance(r, tuple)), key=lambda r: r[3])
    for client in [*clients, floor]:
        client.join(30)
    for probe in probes:
        probe.stop()
    here_clock, here_at = clocks(probes[0]), arrivals(probes[0])
    print(f"{len(procs) - 1} edge(s), {listeners} listeners on each node, "
          f"{seconds:g} s once all listen")
    print(f"{'node':>8} {'CPU':>7} {'engine lag p50':>15} {'p99':>7} {'max':>7} "
          f"{'arrival +p50':>13} {'p99':>7} {'listeners lag p50':>18} {'p99':>7} "
          f"{'frames':>8} {'lost':>6} {'resumed':>8}")
    rows = []
    engines: list[float] = []
    for i, probe in enumerate(probes):
        engine = [ms - here_clock[seq] for seq, ms in clocks(probe).items()
                  if seq in here_clock] if i else []
        engines += engine
        extra = [(at - here_at[seq]) * 1000 for seq, at in arrivals(probe).items()
                 if seq in here_at] if i else []
        lags, counts, resumed, _ = results[i] if i < len(results) else ([], [0, 0], 0, i)
        name = "capture" if i == 0 else f"edge {i}"
        print(f"{name:>8} {cpu[i]:>6.1f}% {pick(engine, 0.5):>13.2f}ms "
              f"{pick(engine, 0.99):>5.2f}ms {max(engine, default=float('nan')):>5.2f}ms "
              f"{pick(extra, 0.5):>11.2f}ms {pick(extra, 0.99):>5.2f}ms "
              f"{pick(lags, 0.5):>16.2f}ms {pick(lags, 0.99):>5.2f}ms "
              f"{counts[0]:>8} {counts[1]:>6} {resumed:>8}", flush=True)
        rows.append((name, pick(lags, 0.99), counts[1]))
    print(f"engine lag, all edges: {len(engines)} frames, p50 {pick(engines, 0.5):.2f} ms, "
          f"p99 {pick(engines, 0.99):.2f} ms, max {max(engines, default=float('nan')):.2f} ms"
          f"; floor (a bare NATS client pair, {' to '.join(floor_at)}): "
          f"{len(transits)} frames, p50 {pick(transits, 0.5):.2f} ms, "
          f"p99 {pick(transits, 0.99):.2f} ms, max {max(transits, default=float('nan')):.2f} ms",
          flush=True)
    print(json.dumps({"machine_cores": os.cpu_count()}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3, choices=[1, 3])
    parser.add_argument("--edges", type=int, default=2)
    parser.add_argument("--listeners", type=int, default=200,
                        help="SSE listeners on the capture node and on each edge")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--kill-edge", action="store_true",
                        help="kill the first edge halfway (needs 2 edges or more)")
    parser.add_argument("--most", type=int, default=0, metavar="STEP",
                        help="repeat with STEP more listeners per node until one fails")
    args = parser.parse_args()
    run(args.nodes, args.edges, args.listeners, args.seconds, args.kill_edge, args.most)


if __name__ == "__main__":
    main()
