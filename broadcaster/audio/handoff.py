"""From the capture thread to the event loop: each call at once while someone waits for it,
the whole queue at the event loop's next look while nobody does.

Waking the event loop is the dearest part of a frame on a small machine (a write to its
self-pipe, a second thread scheduled, the GIL handed over): it costs as much as encoding
the frame. A broadcaster spends most of its life with nobody listening, and then no frame
is wanted at once: calls queue, in order, until the event loop next looks (its own timer, a
listener arriving, a status request), and it runs them all. While anyone listens (or
`prompt` is otherwise set), every call wakes it as `loop.call_soon_threadsafe` would.
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

    `put(..., urgent=True)` (or any put while `prompt` is true) wakes the loop; other calls
    wait for the loop's next `run_pending()`. Only the loop sets `prompt`: `keep_up()` sets
    it from `wanted()` (someone waits for every call), `prompt_for()` for a while.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 wanted: Callable[[], bool] = lambda: True) -> None:
        self._loop = loop
        self._wanted = wanted
        self._pending: deque[Call] = deque()
        self._prompt_until = 0.0
        self.prompt = True  # wake the loop for every call

    def prompt_for(self, seconds: float) -> None:
        """Run the pending calls now, then wake the loop for every call for `seconds` at
        least (someone is about to wait for them)."""
        self.run_pending()
        self.prompt = True
        self._prompt_until = time.monotonic() + seconds

    async def keep_up(self, period_s: float) -> None:
        """Every `period_s`: run the pending calls, and decide whether each call should
        wake the loop (runs until cancelled)."""
        while True:
            await asyncio.sleep(period_s)
            self.run_pending()
            self.prompt = self._wanted() or time.monotonic() < self._prompt_until

    def put(self, callback: Callable[..., None], *args: object, urgent: bool = False) -> None:
        """Queue `callback(*args)` for the event loop (any thread)."""
        self._pending.append((callback, args))
        if urgent or self.prompt:
            # RuntimeError: the loop has closed under a thread that outlived it
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.run_pending)

    def run_pending(self) -> None:
        """Run every queued call, oldest first (the event loop). A call that raises is
        logged, as the event loop would, and the others still run."""
        pending = self._pending
        while pending:
            callback, args = pending.popleft()
            try:
                callback(*args)
            except Exception:
                logger.exception("%s failed", getattr(callback, "__qualname__", callback))

    @property
    def queued(self) -> int:
        """Calls waiting for the event loop."""
        return len(self._pending)
