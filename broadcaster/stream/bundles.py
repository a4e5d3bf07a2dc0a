"""Listeners who chose to get their frames in bundles (`?bundle_ms=`): fewer, bigger writes,
so fewer radio wake-ups on a phone and less work for the server, at the cost of latency.

A listener bundled every `period` frames is woken on one frame in `period`, and listeners of
one period are spread over the `period` phases by joining order, so that each frame wakes
about 1/period of them and the work stays even.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

L = TypeVar("L", bound=Hashable)


class Bundles(Generic[L]):
    """The bundled listeners, by period (in frames, 2 or more) and phase."""

    def __init__(self) -> None:
        self._direct: dict[int, list[dict[L, None]]] = {}  # written to from publish
        self._events: dict[int, list[asyncio.Event]] = {}  # the others wait on these

    def add(self, listener: L, period: int, slot: int) -> None:
        """Serve a direct listener (a sink) on the frames of its phase."""
        groups = self._direct.setdefault(period, [{} for _ in range(period)])
        groups[slot % period][listener] = None

    def remove(self, listener: L) -> None:
        """Stop serving a direct listener (idempotent)."""
        for groups in self._direct.values():
            for group in groups:
                group.pop(listener, None)

    def event(self, period: int, slot: int) -> asyncio.Event:
        """What a listener served through its coroutine waits on."""
        events = self._events.setdefault(period, [asyncio.Event() for _ in range(period)])
        return events[slot % period]

    def due(self, seq: int) -> Iterator[L]:
        """Wake the coroutines whose phase frame `seq` is; the direct listeners it is for."""
        for period, events in self._events.items():
            news = events[seq % period]
            news.set()
            news.clear()
        for period, groups in self._direct.items():
            yield from groups[seq % period]

    def wake_all(self) -> Iterator[L]:
        """Wake every coroutine (a state change, a heartbeat, shutdown); every direct one."""
        for events in self._events.values():
            for news in events:
                news.set()
                news.clear()
        for groups in self._direct.values():
            for group in groups:
                yield from group

    def __len__(self) -> int:
        return sum(len(group) for groups in self._direct.values() for group in groups)
