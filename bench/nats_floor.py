"""The floor under the engine lag: a bare NATS client publishing a packet-sized message
every frame to one server, and a bare client on another server of the cluster taking it,
in one process that does nothing else (no ring, no listeners, no HTTP). Its transit is what
the engine and two Python clients cost on this machine at this moment; bench.nats runs it
beside the broadcaster's edges, so that both see the same load.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time

SUBJECT = "floor.frames"
PACKET_BYTES = 160  # a 20 ms packet at 64 kbit/s


def floor_process(publish_url: str, read_url: str, frame_ms: float, seconds: float,
                  queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Publish for `seconds` on `publish_url`, read on `read_url`; puts the transits (ms)
    on `queue`."""
    import nats

    async def main() -> list[float]:
        reader = await nats.connect(read_url)
        writer = await nats.connect(publish_url)
        transits: list[float] = []

        async def got(msg: nats.aio.msg.Msg) -> None:
            transits.append((time.monotonic() - float(msg.headers["Sent"])) * 1000)

        await reader.subscribe(SUBJECT, cb=got)
        await reader.flush()
        payload = os.urandom(PACKET_BYTES)
        until = time.monotonic() + seconds
        next_at = time.monotonic()
        while next_at < until:
            next_at += frame_ms / 1000
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await writer.publish(SUBJECT, payload, headers={"Sent": repr(time.monotonic())})
        await asyncio.sleep(0.2)
        await writer.close()
        await reader.close()
        return transits

    queue.put(asyncio.run(main()))
