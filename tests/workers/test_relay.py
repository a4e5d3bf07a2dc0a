"""The relay behind every 'frames from elsewhere' upstream, fed by an in-memory upstream:
frames in order once, a hole told as a gap, a new epoch ending the old stream."""

from __future__ import annotations

import asyncio
from typing import Any

from broadcaster.config import Config
from broadcaster.core.state import BroadcastState
from broadcaster.core.wire import audio_event
from broadcaster.workers.relay import Relay
from tests.support.sse import SSEDecoder


class Upstream:
    """Feeds nothing by itself: the test calls the relay's begin/frame/announce."""

    async def run(self, relay: Relay) -> None:
        await asyncio.Event().wait()

    async def control(self, op: str) -> dict[str, Any]:
        return {"state": {"state": "running", "source": "x"}}

    async def admit(self, address: str) -> str | None:
        return None

    def release(self, address: str) -> None:
        pass

    def counters(self) -> dict[str, Any]:
        return {}

    async def status(self) -> dict[str, Any]:
        return {}

    async def episodes(self, before: int | None, limit: int) -> dict[str, Any]:
        return {}


async def events_of(relay: Relay, last_id: int | None, reads: int) -> list[tuple[str, str]]:
    stream = relay.listen(last_id)
    decoder, got = SSEDecoder(), []
    try:
        async for chunk in stream:
            got += [(e.event, (e.id or "") if e.event == "message" else e.data)
                    for e in decoder.feed(chunk)]
            reads -= 1
            if reads <= 0:
                break
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return got


def test_frames_come_once_in_order_and_a_hole_is_a_gap_with_its_count() -> None:
    async def main() -> list[tuple[str, str]]:
        relay = Relay(Config(), Upstream())
        relay.begin(1000, 1000, BroadcastState("running", "x"))
        for seq in (1000, 1001, 1001, 1000, 1004):
            relay.frame(seq, audio_event(seq, b"p"))
        assert relay.holes == 2
        return await events_of(relay, 999, 2)

    got = asyncio.run(main())
    messages = [ident for event, ident in got if event == "message"]
    assert messages == ["1000", "1001", "1004"]
    gap = next(data for event, data in got if event == "gap")
    assert '"lost":2' in gap and '"next_id":1004' in gap


def test_a_new_epoch_ends_the_old_streams_and_a_resume_from_it_is_a_restart() -> None:
    async def main() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        relay = Relay(Config(), Upstream())
        relay.begin(1000, 1000, BroadcastState("running", "x"))
        relay.frame(1000, audio_event(1000, b"p"))
        old = asyncio.create_task(events_of(relay, None, 10))
        await asyncio.sleep(0.01)
        relay.begin(5000, 5000, BroadcastState("running", "x"))
        relay.frame(5000, audio_event(5000, b"q"))
        return await old, await events_of(relay, 1000, 1)

    old, resumed = asyncio.run(main())
    assert ("state", '{"state":"shutdown","source":"x"}') in old
    assert any(event == "gap" and '"reason":"restart"' in data for event, data in resumed)
