"""From the capture thread to the event loop: each call at once while someone waits for
every one, every n-th while someone waits for every n-th, the whole queue at the event
loop's next look while nobody does.

Waking the event loop is the dearest part of a frame on a small machine (a write to its
self-pipe, a second thread scheduled, the GIL handed over): it costs as much as encoding
the frame. A broadcaster spends most of its life with nobody listening, and then no frame
is wanted at once: calls queue, in order, until the event loop next looks (its own timer, a
listener arriving, a status request), and it runs them all. While anyone listens frame by
frame, every call wakes it as `loop.call_soon_threadsafe` would; while the only listeners
take their frames in bundles, only the call that completes a bundle does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Call = tuple[Callable[..., None], tuple[Any, ...]]


class Handoff:
    """Calls from any thread, run on the event loop in the order they were made.

    A call wakes the loop when it is `urgent`, or when it makes `wake_at` calls queued (1:
    every call; 0: none, they wait for the loop's next `run_pending()`). Only the loop sets
    `wake_at`: after each `run_pending()`, from `wake_after()` (how many calls from now the
    loop wants the next one: 1, n, or 0 for none), or 1 for a while after `prompt_for()`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 wake_after: Callable[[], int] = lambda: 1) -> None:
        self._loop = loop
        self._wake_after = wake_after
        self._pending: deque[Call] = deque()
        self._prompt_until = 0.0
        self.wake_at = 1  # the queue length at which a call wakes the loop; 0: never

    def prompt_for(self, seconds: float) -> None:
        """Run the pending calls now, then wake the loop for every call for `seconds` at
        least (someone is about to wait for them)."""
        self._prompt_until = time.monotonic() + seconds
        self.run_pending()

    async def keep_up(self, period_s: float) -> None:
        """Every `period_s`: run the pending calls (runs until cancelled)."""
        while True:
            await asyncio.sleep(period_s)
            self.run_pending()

    def put(self, callback: Callable[..., None], *args: object, urgent: bool = False) -> None:
        """Queue `callback(*args)` for the event loop (any thread)."""
        pending = self._pending
        pending.append((callback, args))
        wake_at = self.wake_at
        if urgent or (wake_at and len(pending) >= wake_at):
            # RuntimeError: the loop has closed under a thread that outlived it
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.run_pending)

    def run_pending(self) -> None:
        """Run every queued call, oldest first, then decide which call wakes the loop next
        (the event loop). A call that raises is logged, as the event loop would, and the
        others still run."""
        pending = self._pending
        while pending:
            callback, args = pending.popleft()
            try:
                callback(*args)
            except Exception:
                logger.exception("%s failed", getattr(callback, "__qualname__", callback))
        self.wake_at = 1 if time.monotonic() < self._prompt_until else self._wake_after()

    @property
    def queued(self) -> int:
        """Calls waiting for the event loop."""
        return len(self._pending)
