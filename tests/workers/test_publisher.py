"""The capture node's engine publisher on its own thread, with no engine to reach: frames
are handed over without waiting, the bounded buffer drops and counts, and stopping ends its
thread. (The engine itself is in test_edges.py and test_edge_faults.py.)"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from broadcaster.config_file import config_from_dict
from broadcaster.core.state import BroadcastState
from broadcaster.stream.fanout import Fanout
from broadcaster.workers.publisher import EnginePublisher


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def publisher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "engine publisher"]


def test_with_the_engine_away_frames_are_handed_over_dropped_and_counted_then_it_stops(
) -> None:
    config = config_from_dict({"engine": {
        "publish": f"nats://127.0.0.1:{closed_port()}/ward", "buffer_frames": 10}})

    async def scenario() -> tuple[dict[str, object], float]:
        fanout = Fanout(50, first_seq=0, heartbeat_s=10.0)
        fanout.set_state(BroadcastState("running", "tone:440"))
        publisher = EnginePublisher(config, fanout, lambda: (True, "ok"))
        task = asyncio.create_task(publisher.run())
        await asyncio.sleep(0)  # run() starts its thread and taps the fan-out at once
        assert publisher_threads() and fanout.frame_taps
        for seq in range(25):
            fanout.publish(seq, b"id: %d\ndata: x\n\n" % seq)
        for _ in range(100):  # the engine's loop takes them
            counters = publisher.counters()
            if counters["engine_waiting"] == 10:
                break
            await asyncio.sleep(0.05)
        began = time.monotonic()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return counters, time.monotonic() - began

    counters, stop_s = asyncio.run(scenario())
    assert counters["engine_connected"] is False and counters["engine_published"] == 0
    assert counters["engine_waiting"] == 10 and counters["engine_dropped"] == 15
    assert stop_s < 5.0 and not publisher_threads()  # it stops, its thread ends
