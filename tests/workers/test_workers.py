"""Worker processes (`[server] workers = N`): real processes, sockets and libopus."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from broadcaster.server import raise_open_files_limit
from tests.conftest import Broadcaster, start_broadcaster, wait_until
from tests.support.signal_tools import decode_packets, dominant_frequency
from tests.support.sse_client import BackgroundListener, TolerantListener, receive

CONFIG = "[server]\nworkers = 2\nmax_listeners = 6\n[ring]\ncapacity_s = 2.0\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Broadcaster]:
    proc = start_broadcaster(tmp_path, "--source", "tone:440", config=CONFIG)
    wait_until(lambda: len(worker_pids(proc)) == 2, 5, "both workers up")
    yield proc
    proc.stop()


def status(proc: Broadcaster) -> dict[str, object]:
    response = httpx.get(proc.url + "/status", timeout=5)
    assert response.status_code == 200
    return dict(response.json())


def worker_pids(proc: Broadcaster) -> list[int]:
    workers = status(proc)["workers"]
    assert isinstance(workers, list)
    return [int(w["pid"]) for w in workers]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_serve_the_tone_gapless(served: Broadcaster) -> None:
    for _ in range(4):  # connections land on either worker
        got = receive(served.url + "/audio/stream", frames=50)
        assert got.ids == list(range(got.ids[0], got.ids[0] + 50))
        assert got.config["epoch"] <= got.ids[0]
        pcm = decode_packets(got.packets)
        assert abs(dominant_frequency(pcm[48000 // 5:]) - 440) < 5


def test_resuming_with_last_event_id_is_gapless_whichever_worker_answers(
        served: Broadcaster) -> None:
    first = receive(served.url + "/audio/stream", frames=10)
    for _ in range(4):
        last = first.ids[-1]
        first = receive(served.url + "/audio/stream", frames=10,
                        headers={"Last-Event-ID": str(last)})
        assert first.ids[0] == last + 1


def test_listeners_are_counted_and_capped_across_workers(served: Broadcaster) -> None:
    listeners = [BackgroundListener(served.url + "/audio/stream") for _ in range(6)]
    try:
        wait_until(lambda: status(served)["listeners"] == 6, 5, "6 listeners counted")
        for _ in range(3):
            response = httpx.get(served.url + "/audio/stream", timeout=5)
            assert response.status_code == 503
            assert "full" in response.json()["error"]
        wait_until(lambda: int(str(status(served)["refused_listeners"])) >= 3, 5,
                   "refusals counted")
    finally:
        for listener in listeners:
            listener.stop()
    wait_until(lambda: status(served)["listeners"] == 0, 5, "listeners released")
    assert receive(served.url + "/audio/stream", frames=5).ids


def test_control_through_a_worker_reaches_every_listener(served: Broadcaster) -> None:
    listeners = [BackgroundListener(served.url + "/audio/stream") for _ in range(4)]
    try:
        wait_until(lambda: status(served)["listeners"] == 4, 5, "4 listeners")
        stopped = httpx.post(served.url + "/audio/stop", timeout=5)
        assert stopped.json() == {"state": "stopped", "source": "tone:440"}
        started = httpx.post(served.url + "/audio/start", timeout=5)
        assert started.json()["state"] == "running"
        for listener in listeners:
            wait_until(lambda lst=listener: [json.loads(e.data)["state"]  # type: ignore[misc]
                                             for e in lst.named("state")][-2:]
                       == ["stopped", "running"], 5, "stopped then running")
        assert httpx.get(served.url + "/healthz", timeout=5).json()["ok"] is True
    finally:
        for listener in listeners:
            listener.stop()


def test_a_killed_worker_is_replaced_and_its_listeners_released(served: Broadcaster) -> None:
    listeners = [TolerantListener(served.url + "/audio/stream") for _ in range(4)]
    try:
        wait_until(lambda: status(served)["listeners"] == 4, 5, "4 listeners")
        victim = worker_pids(served)[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: victim not in worker_pids(served) and len(worker_pids(served)) == 2,
                   10, "the worker replaced")
        assert status(served)["worker_restarts"] == 1
        survivors = sum(listener._thread.is_alive() for listener in listeners)
        wait_until(lambda: status(served)["listeners"] == survivors, 5, "its listeners gone")
        got = receive(served.url + "/audio/stream", frames=20)
        assert got.ids == list(range(got.ids[0], got.ids[0] + 20))
        log = served.log()
        assert re.search(r"worker \d exited \((killed by SIGKILL|exit code \d+)\): starting it "
                         r"again", log), log
    finally:
        for listener in listeners:
            if listener._thread.is_alive():
                listener.stop()


def test_sigterm_ends_every_stream_and_every_process(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone:440", config=CONFIG)
    wait_until(lambda: len(worker_pids(proc)) == 2, 5, "both workers up")
    pids = worker_pids(proc)
    listeners = [BackgroundListener(proc.url + "/audio/stream") for _ in range(4)]
    wait_until(lambda: status(proc)["listeners"] == 4, 5, "4 listeners")
    started = time.monotonic()
    assert proc.stop() == 0, proc.log()
    assert time.monotonic() - started < 4
    for listener in listeners:
        listener._thread.join(5)
        states = [json.loads(e.data)["state"] for e in listener.named("state")]
        assert states[-1:] == ["shutdown"]
    wait_until(lambda: not any(alive(pid) for pid in pids), 3, "workers gone")


def test_workers_exit_when_the_capture_process_is_killed(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone:440", config=CONFIG)
    wait_until(lambda: len(worker_pids(proc)) == 2, 5, "both workers up")
    pids = worker_pids(proc)
    proc.process.kill()
    proc.process.wait()
    wait_until(lambda: not any(alive(pid) for pid in pids), 5, "orphaned workers gone")


def test_the_open_files_limit_is_raised_for_the_listeners() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        assert raise_open_files_limit(300) == 300
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 300
        assert raise_open_files_limit(100) == 300  # never lowered
        if hard != resource.RLIM_INFINITY:
            assert raise_open_files_limit(hard + 1) == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("workers", [0, 2])
def test_listeners_get_heartbeats_while_capture_is_stopped(tmp_path: Path, workers: int) -> None:
    """The heartbeat lives in the fan-out, so worker processes send it too: without it a
    dead client is never found out and keeps its admission."""
    proc = start_broadcaster(tmp_path, "--source", "tone:440", config=(
        f"[server]\nworkers = {workers}\nautostart = false\nheartbeat_s = 1.0\n"))
    try:
        if workers:
            wait_until(lambda: len(worker_pids(proc)) == workers, 5, "the workers up")
        assert status(proc)["state"] == "stopped"
        heartbeats, started = 0, time.monotonic()
        with httpx.stream("GET", proc.url + "/audio/stream", timeout=5) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                heartbeats += line == ": hb"
                if time.monotonic() - started > 3.2:
                    break
        assert heartbeats >= 4  # one every half period (0.5 s) once the stream is quiet
    finally:
        assert proc.stop() == 0, proc.log()
