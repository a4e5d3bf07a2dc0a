"""The engine harness itself: real nats-server processes start, cluster and stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats

from tests.support.nats import NatsCluster


async def _replicated_round_trip(urls: list[str]) -> int:
    client = await nats.connect(servers=urls)
    try:
        js = client.jetstream()
        await js.add_stream(name="T", subjects=["t.>"], storage="memory", num_replicas=3)
        await client.publish("t.a", b"x")
        await client.flush()
        for _ in range(50):
            if (await js.stream_info("T")).state.messages:
                break
            await asyncio.sleep(0.02)
        return (await js.stream_info("T")).state.messages
    finally:
        await client.close()


def test_a_three_node_cluster_keeps_a_replicated_stream(tmp_path: Path) -> None:
    with NatsCluster(tmp_path, 3) as cluster:
        assert asyncio.run(_replicated_round_trip(cluster.urls)) == 1
        processes = [node.process for node in cluster.nodes]
    assert all(p is not None and p.poll() is not None for p in processes)
