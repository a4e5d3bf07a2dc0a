"""The hand-off from the capture thread to the event loop, with a real thread and loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from broadcaster.handoff import Handoff


async def put_from_thread(handoff: Handoff, *calls: tuple[object, bool]) -> None:
    """Make `calls` (argument, urgent) from another thread, in order."""

    def run() -> None:
        for argument, urgent in calls:
            handoff.put(got.append, argument, urgent=urgent)

    thread = threading.Thread(target=run)
    thread.start()
    await asyncio.to_thread(thread.join)


got: list[object] = []


def test_while_prompt_every_call_runs_on_the_loop_at_once() -> None:
    async def main() -> None:
        got.clear()
        loop_thread = threading.get_ident()
        ran_on: list[int] = []
        handoff = Handoff(asyncio.get_running_loop())
        handoff.put(lambda: ran_on.append(threading.get_ident()))
        await put_from_thread(handoff, (1, False), (2, False))
        await asyncio.sleep(0.05)
        assert got == [1, 2] and ran_on == [loop_thread]
        assert handoff.queued == 0

    asyncio.run(main())


def test_while_not_prompt_calls_wait_for_the_loop_to_look_and_keep_their_order() -> None:
    async def main() -> None:
        got.clear()
        handoff = Handoff(asyncio.get_running_loop())
        handoff.prompt = False
        await put_from_thread(handoff, (1, False), (2, False))
        await asyncio.sleep(0.05)
        assert got == [] and handoff.queued == 2  # nothing woke the loop
        handoff.run_pending()
        assert got == [1, 2] and handoff.queued == 0

    asyncio.run(main())


def test_an_urgent_call_wakes_the_loop_for_everything_queued_before_it() -> None:
    async def main() -> None:
        got.clear()
        handoff = Handoff(asyncio.get_running_loop())
        handoff.prompt = False
        await put_from_thread(handoff, (1, False), ("offline", True))
        await asyncio.sleep(0.05)
        assert got == [1, "offline"]
        await put_from_thread(handoff, (3, False))
        await asyncio.sleep(0.05)
        assert got == [1, "offline"] and handoff.queued == 1
        handoff.prompt = True
        await put_from_thread(handoff, (4, False))
        await asyncio.sleep(0.05)
        assert got == [1, "offline", 3, 4]

    asyncio.run(main())


def test_a_call_after_the_loop_closed_is_dropped_quietly() -> None:
    loop = asyncio.new_event_loop()
    handoff = Handoff(loop)
    loop.close()
    handoff.put(got.append, 1)  # no RuntimeError from the closed loop
    assert handoff.queued == 1


def test_a_call_that_raises_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got.clear()

    def fails() -> None:
        raise ValueError("broken frame")

    loop = asyncio.new_event_loop()
    handoff = Handoff(loop)
    handoff.prompt = False
    handoff.put(got.append, 1)
    handoff.put(fails)
    handoff.put(got.append, 3)
    handoff.run_pending()
    loop.close()
    assert got == [1, 3] and handoff.queued == 0
    assert "broken frame" in caplog.text
