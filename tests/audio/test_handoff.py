"""The hand-off from the capture thread to the event loop, with a real thread and loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from broadcaster.audio.handoff import Handoff

SETTLE_S = 0.05  # time for the loop to run what a wake-up asked for


async def hand_over(handoff: Handoff, got: list[object], *calls: tuple[object, bool]) -> None:
    """Make `calls` (an argument for `got.append`, urgent or not) from another thread, in
    order, then give the loop time to run whatever woke it."""

    def run() -> None:
        for argument, urgent in calls:
            handoff.put(got.append, argument, urgent=urgent)

    thread = threading.Thread(target=run)
    thread.start()
    await asyncio.to_thread(thread.join)
    await asyncio.sleep(SETTLE_S)


def idle_handoff() -> Handoff:
    """A hand-off on the running loop that nobody waits on (calls do not wake the loop)."""
    return Handoff(asyncio.get_running_loop(), wake_after=lambda: 0)


def test_while_prompt_every_call_runs_on_the_loop_at_once() -> None:
    async def main() -> None:
        got: list[object] = []
        ran_on: list[int] = []
        handoff = Handoff(asyncio.get_running_loop())
        handoff.put(lambda: ran_on.append(threading.get_ident()))
        await hand_over(handoff, got, (1, False), (2, False))
        assert got == [1, 2] and ran_on == [threading.get_ident()]
        assert handoff.queued == 0

    asyncio.run(main())


def test_while_not_prompt_calls_wait_for_the_loop_to_look_and_keep_their_order() -> None:
    async def main() -> None:
        got: list[object] = []
        handoff = idle_handoff()
        handoff.run_pending()
        await hand_over(handoff, got, (1, False), (2, False))
        assert got == [] and handoff.queued == 2  # nothing woke the loop
        handoff.run_pending()
        assert got == [1, 2] and handoff.queued == 0

    asyncio.run(main())


def test_an_urgent_call_wakes_the_loop_for_everything_queued_before_it() -> None:
    async def main() -> None:
        got: list[object] = []
        handoff = idle_handoff()
        handoff.run_pending()
        await hand_over(handoff, got, (1, False), ("offline", True))
        assert got == [1, "offline"]
        await hand_over(handoff, got, (3, False))
        assert got == [1, "offline"] and handoff.queued == 1
        handoff.prompt_for(1.0)  # someone is about to listen: runs 3, then every call wakes
        await hand_over(handoff, got, (4, False))
        assert got == [1, "offline", 3, 4]

    asyncio.run(main())


def test_a_call_after_the_loop_closed_stays_queued_and_raises_nothing() -> None:
    loop = asyncio.new_event_loop()
    handoff = Handoff(loop)
    loop.close()
    handoff.put(print, 1)  # no RuntimeError from the closed loop
    assert handoff.queued == 1


def test_a_call_that_raises_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got: list[object] = []

    def fails() -> None:
        raise ValueError("broken frame")

    loop = asyncio.new_event_loop()
    handoff = Handoff(loop)
    handoff.wake_at = 0
    handoff.put(got.append, 1)
    handoff.put(fails)
    handoff.put(got.append, 3)
    handoff.run_pending()
    loop.close()
    assert got == [1, 3] and handoff.queued == 0
    assert "broken frame" in caplog.text


def test_while_bundles_are_wanted_only_the_call_that_completes_one_wakes_the_loop() -> None:
    async def main() -> None:
        got: list[object] = []
        handoff = Handoff(asyncio.get_running_loop(), wake_after=lambda: 3)
        handoff.run_pending()
        assert handoff.wake_at == 3
        await hand_over(handoff, got, (1, False), (2, False))
        assert got == [] and handoff.queued == 2
        await hand_over(handoff, got, (3, False))  # the third completes it
        assert got == [1, 2, 3] and handoff.queued == 0
        await hand_over(handoff, got, (4, False), (5, False), (6, False), (7, False))
        assert got == [1, 2, 3, 4, 5, 6] and handoff.queued == 1  # counted afresh

    asyncio.run(main())
