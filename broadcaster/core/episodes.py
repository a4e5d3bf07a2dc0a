"""The episodes of sound kept for /status and /activity/episodes: the latest ones, by number,
paged from the newest back (pure bookkeeping)."""

from __future__ import annotations

from collections import OrderedDict

from broadcaster.core.activity import Change, Episode

MAX_PAGE = 200


class EpisodeLog:
    """Keeps the latest `capacity` episodes (the one under way included) and counts all."""

    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity = {capacity!r} must be 1 or more")
        self._capacity = capacity
        self._episodes: OrderedDict[int, Episode] = OrderedDict()
        self.total = 0  # episodes since the start
        self.alerts = 0  # of them, those that alerted

    def record(self, change: Change) -> None:
        """An episode began or ended."""
        episode = change.episode
        if change.started:
            self.total += 1
            self.alerts += episode.alerted
        self._episodes[episode.number] = episode
        while len(self._episodes) > self._capacity:
            self._episodes.popitem(last=False)

    def restore(self, episodes: list[Episode]) -> None:
        """Put back episodes an earlier run kept (oldest first), before this run's."""
        for episode in episodes[-self._capacity:]:
            self._episodes[episode.number] = episode
        self._episodes = OrderedDict(sorted(self._episodes.items()))
        while len(self._episodes) > self._capacity:
            self._episodes.popitem(last=False)

    def page(self, before: int | None, limit: int) -> tuple[list[Episode], int | None]:
        """Up to `limit` episodes numbered below `before` (all when None), newest first, and
        the `before` of the next page (None when there is none)."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit = {limit!r} must be 1 to {MAX_PAGE}")
        chosen: list[Episode] = []
        for number in reversed(self._episodes):
            if before is not None and number >= before:
                continue
            if len(chosen) == limit:
                return chosen, chosen[-1].number
            chosen.append(self._episodes[number])
        return chosen, None
