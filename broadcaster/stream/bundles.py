"""Listeners who chose to get their frames in bundles (`?bundle_ms=`): fewer, bigger writes,
so fewer radio wake-ups on a phone and less work for the server, at the cost of latency.

A listener bundled every `period` frames gets one write in `period` frames, at one of two
moments:
- staggered, while others listen frame by frame: listeners of one period are spread over
  its `period` phases by joining order, so each frame wakes about 1/period of them and a
  burst of bundles never holds up the per-frame listeners' frames;
- aligned, while every listener takes bundles: all of one period are served on the frame
  that ends it (seq % period == period - 1), so the event loop need be woken for one frame
  in `period` only (`frames_until_due`, audio/handoff.py), not for every frame.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

L = TypeVar("L", bound=Hashable)


class Bundles(Generic[L]):
    """The bundled listeners, by period (in frames, 2 or more) and phase."""

    def __init__(self) -> None:
        self._direct: dict[int, list[dict[L, None]]] = {}  # written to from publish
        self._events: dict[int, list[asyncio.Event]] = {}  # the others wait on these
        self._periods: Counter[int] = Counter()  # listeners of each period, of both kinds

    def join(self, period: int) -> None:
        """A bundled listener of `period` has come (served directly or not)."""
        self._periods[period] += 1

    def leave(self, period: int) -> None:
        """A bundled listener of `period` has gone."""
        self._periods[period] -= 1
        if self._periods[period] <= 0:
            del self._periods[period]

    @property
    def listeners(self) -> int:
        """Bundled listeners, of both kinds."""
        return self._periods.total()

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

    def due(self, seq: int, aligned: bool) -> Iterator[L]:
        """Wake the coroutines frame `seq` is due for; the direct listeners it is for."""
        for period, events in self._events.items():
            if not aligned:
                _wake(events[seq % period])
            elif seq % period == period - 1:
                for news in events:
                    _wake(news)
        for period, groups in self._direct.items():
            if not aligned:
                yield from groups[seq % period]
            elif seq % period == period - 1:
                for group in groups:
                    yield from group

    def frames_until_due(self, next_seq: int) -> int:
        """How many frames from `next_seq` on make up the first aligned bundle due (1: frame
        `next_seq` ends one); 0 with no bundled listener."""
        return min(((period - 1 - next_seq) % period + 1 for period in self._periods),
                   default=0)

    def wake_all(self) -> Iterator[L]:
        """Wake every coroutine (a state change, a heartbeat, shutdown); every direct one."""
        for events in self._events.values():
            for news in events:
                _wake(news)
        for groups in self._direct.values():
            for group in groups:
                yield from group

    def __len__(self) -> int:
        return sum(len(group) for groups in self._direct.values() for group in groups)


def _wake(news: asyncio.Event) -> None:
    news.set()
    news.clear()
