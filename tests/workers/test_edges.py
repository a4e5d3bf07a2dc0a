"""Edges fed through the engine (NATS): real nats-server processes, a real capturing
broadcaster (tone), real edges, real SSE clients; ids and packets byte for byte."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Broadcaster, start_broadcaster, wait_until
from tests.support.nats import NatsCluster
from tests.support.sse_client import receive

STATION = "ward"


def capture_config(engine_url: str, extra: str = "") -> str:
    hosts = engine_url.replace("nats://", "")
    return f'[engine]\npublish = "nats://{hosts}/{STATION}"\n{extra}'


def start_edge(tmp: Path, engine_url: str, extra: str = "", wait: bool = True) -> Broadcaster:
    hosts = engine_url.replace("nats://", "")
    return start_broadcaster(tmp, "--source", f"nats://{hosts}/{STATION}", config=extra or None,
                             wait=wait)


def status(proc: Broadcaster) -> dict[str, Any]:
    return dict(httpx.get(proc.url + "/status", timeout=5).json())


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "nats") as cluster:
        yield cluster


@pytest.fixture
def capture(tmp_path: Path, engine: NatsCluster) -> Iterator[Broadcaster]:
    proc = start_broadcaster(tmp_path, "--source", "tone:440",
                             config=capture_config(engine.url))
    yield proc
    proc.stop()


def test_an_edge_serves_the_capture_nodes_frames_byte_for_byte(
        tmp_path: Path, engine: NatsCluster, capture: Broadcaster) -> None:
    edge = start_edge(tmp_path, engine.url)
    try:
        got = receive(edge.url + "/audio/stream", 50)
        assert got.config["source"] == "tone:440" and got.config["state"] == "running"
        first = got.ids[0]
        assert got.ids == list(range(first, first + 50))
        same = receive(capture.url + f"/audio/stream?last_id={first - 1}", 50)
        assert same.frames == got.frames
        assert got.config["epoch"] == same.config["epoch"]
        # An edge that started late has the capture node's recent frames too (backfilled).
        since = max(first - 100, got.config["epoch"])
        late = receive(edge.url + f"/audio/stream?last_id={since}", 100)
        assert late.ids == list(range(since + 1, since + 101)), late.events[:2]
        assert late.frames == receive(capture.url + f"/audio/stream?last_id={since}",
                                      100).frames
        assert "gap" not in [e.event for e in late.events]
        # No capture here, said plainly; the rest answers as on the capture node.
        refused = httpx.post(edge.url + "/audio/stop", timeout=5)
        assert refused.status_code == 503 and "capture node" in refused.json()["error"]
        assert httpx.get(edge.url + "/healthz", timeout=5).json()["ok"] is True
        metrics = httpx.get(edge.url + "/metrics", timeout=5).text
        assert 'broadcaster_state{state="running"} 1' in metrics
        assert status(capture)["engine_dropped"] == 0
    finally:
        edge.stop()


def test_a_listener_whose_edge_dies_resumes_on_another_with_no_gap(
        tmp_path: Path, engine: NatsCluster, capture: Broadcaster) -> None:
    one, two = start_edge(tmp_path, engine.url), start_edge(tmp_path, engine.url)
    try:
        before = receive(one.url + "/audio/stream", 30)
        one.process.kill()
        one.process.wait()
        time.sleep(1.0)  # frames go on while the listener finds the other edge
        after = receive(two.url + "/audio/stream", 80,
                        headers={"Last-Event-ID": str(before.ids[-1])})
        assert after.ids == list(range(before.ids[-1] + 1, before.ids[-1] + 81))
        assert "gap" not in [e.event for e in after.events]
    finally:
        one.stop()
        two.stop()


def test_the_capture_node_restarting_is_a_restart_gap_on_the_edge(
        tmp_path: Path, engine: NatsCluster) -> None:
    first = start_broadcaster(tmp_path, "--source", "tone:440",
                              config=capture_config(engine.url))
    edge = start_edge(tmp_path, engine.url)
    try:
        old = receive(edge.url + "/audio/stream", 5)
        first.stop()
        second = start_broadcaster(tmp_path, "--source", "tone:440",
                                   config=capture_config(engine.url))
        try:
            wait_until(lambda: receive(edge.url + "/audio/stream", 1).config["epoch"]
                       != old.config["epoch"], 10, "the edge to follow the new epoch")
            resumed = receive(edge.url + "/audio/stream", 5, until="gap",
                              headers={"Last-Event-ID": str(old.ids[-1])})
            gaps = resumed.named("gap")
            assert gaps and gaps[0]["reason"] == "restart"
        finally:
            second.stop()
    finally:
        edge.stop()


def test_nodes_started_before_the_engine_wait_for_it_and_never_crash(tmp_path: Path) -> None:
    engine = NatsCluster(tmp_path / "nats")
    capture = start_broadcaster(tmp_path, "--source", "tone:440",
                                config=capture_config(engine.url))
    edge = start_edge(tmp_path, engine.url, wait=False)
    try:
        # The capture node serves its own listeners meanwhile; the edge answers, unhealthy.
        assert len(receive(capture.url + "/audio/stream", 10).ids) == 10
        wait_until(lambda: "trying again" in edge.log(), 10, "the edge to retry")
        health = httpx.get(edge.url + "/healthz", timeout=5)
        assert health.status_code == 503
        assert httpx.get(edge.url + "/audio/stream", timeout=5).status_code == 503
        engine.start()
        wait_until(lambda: httpx.get(edge.url + "/healthz", timeout=5).status_code == 200,
                   15, "the edge to find the engine")
        assert len(receive(edge.url + "/audio/stream", 10).ids) == 10
        assert edge.process.poll() is None and capture.process.poll() is None
    finally:
        edge.stop()
        capture.stop()
        engine.stop()


def test_a_bad_credentials_file_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    edge = start_edge(tmp_path, "nats://127.0.0.1:4222",
                      '[engine]\nuser = "edge"\npassword_file = "/nonexistent/pw"\n',
                      wait=False)
    assert edge.process.wait(20) == 2
    assert "engine.password_file" in edge.log()
