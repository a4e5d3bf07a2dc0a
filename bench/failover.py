"""Load listeners that resume elsewhere: when a listener's server goes away, it reconnects
to the next one of its list with `Last-Event-ID`, as a page's EventSource does behind a
load balancer. Built on bench/fanout.py's listener (frames, losses by id, delivery lags)."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import cast

from bench.fanout import Listener

RETRY_S = 0.2  # a page waits `retry` (1 s); a quicker client shows the edges' side only


class ResumingListener(Listener):
    """A listener that asks to resume after `last_id` when it has one."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        resume = "" if self.last_id is None else f"Last-Event-ID: {self.last_id}\r\n"
        request = f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{resume}\r\n".encode()
        cast(asyncio.WriteTransport, transport).write(request)


async def listen(ports: list[int], steady_from: float, until: float, lags: list[float],
                 counts: list[int], resumed: list[int]) -> None:
    """Listen until `until`, moving down `ports` whenever the server goes away."""
    loop = asyncio.get_running_loop()
    last_id: int | None = None
    at = 0
    while time.monotonic() < until and at < len(ports):
        done: asyncio.Future[None] = loop.create_future()
        scratch = [0, 0, 0, 0]
        protocol = ResumingListener(lags, scratch, done, steady_from)
        protocol.last_id = last_id

        def made(made: ResumingListener = protocol) -> ResumingListener:
            return made

        try:
            transport, _ = await loop.create_connection(made, "127.0.0.1", ports[at])
        except OSError:
            at += 1
            await asyncio.sleep(RETRY_S)
            continue
        try:
            await asyncio.wait_for(asyncio.shield(done), max(0.0, until - time.monotonic()))
        except (TimeoutError, asyncio.CancelledError):
            pass
        finally:
            protocol.closing = True
            transport.close()
        counts[0] += scratch[0]
        counts[1] += scratch[1]
        last_id = protocol.last_id
        if not done.done():
            return  # the time is up
        resumed[0] += 1  # the server went away (or refused): the next one
        at += 1
        await asyncio.sleep(RETRY_S)


def failover_process(ports: list[int], listeners: int, ramp_s: float, seconds: float,
                     queue: multiprocessing.Queue, tag: int) -> None:  # type: ignore[type-arg]
    """`listeners` listeners on `ports[0]` (then the next ones); puts (lags, [frames,
    lost], resumed, tag) on `queue`."""
    async def main() -> tuple[list[float], list[int], int, int]:
        lags: list[float] = []
        counts, resumed = [0, 0], [0]
        steady_from = time.monotonic() + ramp_s
        until = steady_from + seconds
        tasks = []
        for _ in range(listeners):
            tasks.append(asyncio.create_task(listen(ports, steady_from, until, lags, counts,
                                                    resumed)))
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        return lags, counts, resumed[0], tag

    try:
        import uvloop
    except ImportError:
        queue.put(asyncio.run(main()))
    else:
        queue.put(uvloop.run(main()))
