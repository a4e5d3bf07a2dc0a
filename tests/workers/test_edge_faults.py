"""Edges through faults of the engine: the engine stopped for a while, a node of a
three-node cluster killed, a client with an edge's credentials trying to publish. Real
nats-server processes, a real capturing broadcaster (tone), real edges and SSE clients."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from pathlib import Path

import nats

from tests.conftest import Broadcaster, start_broadcaster, wait_until
from tests.support.nats import NatsCluster, User, self_signed
from tests.support.nats_proxy import SwallowingProxy
from tests.support.sse import id_jumps
from tests.support.sse_client import TolerantListener
from tests.workers.test_edges import STATION, capture_config, start_edge, status

OUTAGE_S = 30.0
FRAME_S = 0.02


def lag_p99_ms(arrivals: list[tuple[float, int]], floor: float) -> float:
    """p99 of how late frames arrived against a steady 20 ms cadence (the tone's clock),
    from `floor`: the earliest any frame of the run came, on that cadence."""
    late = sorted((at - seq * FRAME_S - floor) * 1000 for at, seq in arrivals)
    return late[min(len(late) - 1, int(0.99 * len(late)))]


def test_stopping_the_engine_costs_the_capture_node_nothing_and_edges_come_back(
        tmp_path: Path) -> None:
    with NatsCluster(tmp_path / "nats") as engine:
        capture = start_broadcaster(tmp_path, "--source", "tone:440", config=capture_config(
            engine.url, "buffer_frames = 50\n"))
        # Heartbeats well within the listeners' 10 s read timeout all through the outage.
        edge = start_edge(tmp_path, engine.url, "[server]\nheartbeat_s = 2.0\n")
        here, there = TolerantListener(capture.url + "/audio/stream"), TolerantListener(
            edge.url + "/audio/stream")
        try:
            wait_until(lambda: len(there.ids) > 10, 5, "the edge's listener to hear")
            time.sleep(5)  # the capture node's listener's lag before, to compare
            engine.nodes[0].stop()
            stopped_at = time.monotonic()
            wait_until(lambda: any(json_state(e) == "offline" for e in there.named("state")),
                       6, "the edge to say offline")
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
            engine.nodes[0].restart()
            engine.wait_ready()
            back_at = time.monotonic()
            wait_until(lambda: any(at > back_at for at, _ in there.arrivals()), 2.0,
                       "the edge's frames within 2 s of the engine")
            wait_until(lambda: json_state(there.named("state")[-1]) == "running", 3,
                       "the edge to say running again")
            time.sleep(0.5)
        finally:
            here.stop()
            there.stop()
            edge.stop()
        try:
            # The capture node's own listener: every frame, at its pace, all along.
            outage = [(at, seq) for at, seq in here.arrivals() if at >= stopped_at - 0.5]
            assert id_jumps([seq for _, seq in outage]) == []
            longest = max(b[0] - a[0] for a, b in itertools.pairwise(outage))
            assert longest < 0.5, f"a {longest * 1000:.0f} ms pause at the capture node"
            # Its lag: the same during the outage as before it.
            steady = here.arrivals()[50:]  # past the start's burst
            floor = min(at - seq * FRAME_S for at, seq in steady)
            before = lag_p99_ms([a for a in steady if a[0] < stopped_at], floor)
            during = lag_p99_ms([a for a in steady if stopped_at <= a[0] < back_at], floor)
            print(f"capture node's listener, lag p99: {before:.1f} ms before, "
                  f"{during:.1f} ms during the {OUTAGE_S:.0f} s outage")
            assert during <= before + 25, (before, during)
            assert not here.named("gap")
            figures = status(capture)
            assert figures["engine_dropped"] > 0 and figures["engine_connected"] is True
        finally:
            capture.stop()


def json_state(event: object) -> str:
    return str(json.loads(getattr(event, "data", "{}")).get("state"))


def test_a_dead_node_of_a_three_node_cluster_costs_edges_on_the_others_no_frame(
        tmp_path: Path) -> None:
    """The node the capture node is on dies: edges on the other nodes lose nothing; an
    edge on the dead node moves to another and refills its hole from the stream."""
    with NatsCluster(tmp_path / "nats", size=3) as engine:
        capture = start_broadcaster(tmp_path, "--source", "tone:440", config=capture_config(
            engine.url, "stream_replicas = 3\n"))
        edges: list[Broadcaster] = []
        listeners: list[TolerantListener] = []
        try:
            wait_until(lambda: any("capture node" in n.clients() for n in engine.nodes), 5,
                       "the capture node on a node")
            doomed = next(n for n in engine.nodes if "capture node" in n.clients())
            others = [n for n in engine.nodes if n is not doomed]
            edges = [start_edge(tmp_path, node.url) for node in [*others, doomed]]
            listeners = [TolerantListener(e.url + "/audio/stream") for e in edges]
            wait_until(lambda: all(len(x.ids) > 10 for x in listeners), 5, "edges to serve")
            doomed.stop(kill=True)
            killed_at = time.monotonic()
            wait_until(lambda: all(x.arrivals()[-1][0] > killed_at + 2 for x in listeners),
                       8, "two seconds of frames after the kill")
            for listener in listeners:
                listener.stop()
            for i, listener in enumerate(listeners):
                where = "on the dead node" if i == len(listeners) - 1 else "on another node"
                around = [a for a in listener.arrivals() if abs(a[0] - killed_at) < 0.3]
                assert id_jumps(listener.ids) == [], (
                    f"the edge {where} lost frames: {id_jumps(listener.ids)}, killed at "
                    f"{killed_at:.2f}, arrivals within 0.3 s of it: {around}")
                assert not listener.named("gap")
            moved = status(edges[-1])
            assert moved["engine_holes"] == 0 and moved["engine_connected"] is True
        finally:
            for listener in listeners:
                with contextlib.suppress(AssertionError):
                    listener.stop()
            for edge in edges:
                edge.stop()
            capture.stop()


def test_packets_a_dying_server_read_but_never_passed_on_are_sent_again(
        tmp_path: Path) -> None:
    """The server the capture node publishes to reads packets, answers its pings, and
    dies without passing them on: they were never acknowledged by the stream, so the capture
    node sends them again on reconnecting, and the edge's listener misses none."""
    with NatsCluster(tmp_path / "nats") as engine:
        proxy = SwallowingProxy(engine.nodes[0].port)
        capture = start_broadcaster(tmp_path, "--source", "tone:440", config=capture_config(
            f"nats://127.0.0.1:{proxy.port}"))
        edge = start_edge(tmp_path, engine.url)
        listener = TolerantListener(edge.url + "/audio/stream")
        try:
            wait_until(lambda: len(listener.ids) > 10, 5, "the edge to serve")
            proxy.swallow()
            time.sleep(0.4)  # the publisher's pings answered, its packets lost
            proxy.cut()
            cut_at = time.monotonic()
            wait_until(lambda: listener.arrivals()[-1][0] > cut_at + 1, 5,
                       "frames after the reconnection")
            listener.stop()
            assert proxy.swallowed >= 10
            assert id_jumps(listener.ids) == [] and not listener.named("gap")
        finally:
            with contextlib.suppress(AssertionError):
                listener.stop()
            edge.stop()
            capture.stop()
            proxy.close()


STREAM = f"BROADCASTER_{STATION}"
JS = "$JS.API"
CAPTURE = User("capture", "capture-secret-1",
               publish=(f"broadcaster.{STATION}.>", f"{JS}.STREAM.INFO.{STREAM}",
                        f"{JS}.STREAM.CREATE.{STREAM}"),
               subscribe=("_INBOX.>",))
EDGE = User("edge", "edge-secret-1",
            publish=(f"{JS}.CONSUMER.CREATE.{STREAM}", f"{JS}.CONSUMER.CREATE.{STREAM}.>",
                     f"{JS}.CONSUMER.DELETE.{STREAM}.>", f"{JS}.STREAM.MSG.GET.{STREAM}",
                     f"$JS.FC.{STREAM}.>"),
            subscribe=(f"broadcaster.{STATION}.>", "_INBOX.>"))


def credentials(tmp: Path, user: User) -> str:
    secret = tmp / f"{user.name}.password"
    secret.write_text(user.password + "\n")
    return f'user = "{user.name}"\npassword_file = "{secret}"\n'


async def publish_as(url: str, user: User) -> list[str]:
    errors: list[str] = []

    async def heard(exc: Exception) -> None:
        errors.append(str(exc))

    client = await nats.connect(url, user=user.name, password=user.password, error_cb=heard)
    try:
        await client.publish(f"broadcaster.{STATION}.frames", b"forged",
                             headers={"Bc-Id": "1", "Bc-Epoch": "1", "Bc-Capture-Ms": "0"})
        await client.flush()
        await asyncio.sleep(0.3)
    finally:
        await client.close()
    return errors


def test_edges_may_only_read_and_a_publisher_with_an_edges_credentials_is_refused(
        tmp_path: Path) -> None:
    with NatsCluster(tmp_path / "nats", users=(CAPTURE, EDGE)) as engine:
        capture = start_broadcaster(tmp_path, "--source", "tone:440", config=capture_config(
            engine.url, credentials(tmp_path, CAPTURE)))
        edge = start_edge(tmp_path, engine.url, "[engine]\n" + credentials(tmp_path, EDGE))
        try:
            late = TolerantListener(edge.url + "/audio/stream")
            wait_until(lambda: len(late.ids) > 5, 5, "the edge to serve with its rights")
            late.stop()
            errors = asyncio.run(publish_as(engine.url, EDGE))
            assert any("permissions violation" in e.lower() for e in errors), errors
            # The edge's rights are enough for what it does: the backfill too.
            assert status(edge)["engine_backfilled"] > 0
            assert "failed" not in edge.log() and "cannot" not in capture.log()
            for proc in (capture, edge):
                assert "secret" not in proc.log()
        finally:
            edge.stop()
            capture.stop()


def test_nodes_speak_tls_to_the_engine_and_keep_their_secrets_out_of_the_log(
        tmp_path: Path) -> None:
    tmp_path.joinpath("nats").mkdir()
    cert, key = self_signed(tmp_path / "nats")
    with NatsCluster(tmp_path / "nats", users=(CAPTURE, EDGE), tls=(cert, key)) as engine:
        url = engine.url.replace("nats://", "tls://")
        capture = start_broadcaster(tmp_path, "--source", "tone:440", config=(
            f'[engine]\npublish = "{url}/{STATION}"\ntls_ca_file = "{cert}"\n'
            + credentials(tmp_path, CAPTURE)))
        edge = start_broadcaster(
            tmp_path, "--source", f"{url}/{STATION}",
            config="[engine]\n" + credentials(tmp_path, EDGE) + f'tls_ca_file = "{cert}"\n')
        try:
            listener = TolerantListener(edge.url + "/audio/stream")
            wait_until(lambda: len(listener.ids) > 5, 5, "frames over TLS")
            listener.stop()
            for proc in (capture, edge):
                assert "secret" not in proc.log()
        finally:
            edge.stop()
            capture.stop()
