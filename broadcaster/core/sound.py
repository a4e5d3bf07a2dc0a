"""Sound activity as the broadcast carries it: each frame's level through the detector, the
episodes kept, told to whoever listens for them (hooks), and framed as `activity` events
(pure: levels and capture times in, event bytes out)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broadcaster.core.activity import SILENCE_DBFS, ActivityDetector, ActivityPolicy, Episode
from broadcaster.core.episodes import EpisodeLog
from broadcaster.core.wire import activity_event

LATEST_EPISODES = 5  # how many /status lists (all of them: /activity/episodes)

ChangeTap = Callable[[dict[str, Any]], None]  # gets each `change_payload`: never waits


def change_payload(episode: Episode, started: bool) -> dict[str, Any]:
    """An episode's start or end as listeners and hooks are told it (docs/protocol.md)."""
    return {"change": "start" if started else "end", **episode.serialize()}


class SoundWatch:
    """Watches the levels of the frames for episodes (None policy: watches nothing)."""

    def __init__(self, policy: ActivityPolicy | None, frame_ms: float) -> None:
        self.detector = None if policy is None else ActivityDetector(policy, frame_ms)
        self.log = EpisodeLog()
        self.taps: list[ChangeTap] = []  # told every episode's start and end
        self.level_dbfs = SILENCE_DBFS

    def feed(self, level_dbfs: float, capture_ms: float) -> bytes:
        """One frame's level; the `activity` events it caused (often none)."""
        self.level_dbfs = level_dbfs
        if self.detector is None:
            return b""
        events = b""
        for change in self.detector.feed(level_dbfs, capture_ms):
            self.log.record(change)
            payload = change_payload(change.episode, change.started)
            for tap in self.taps:
                tap(payload)
            events += activity_event(payload)
        return events

    def restore(self, episodes: list[Episode]) -> None:
        """Episodes an earlier run kept (the archive's): listed again, and numbered on from."""
        self.log.restore(episodes)
        if self.detector is not None and episodes:
            self.detector.number_from(max(episode.number for episode in episodes) + 1)

    def page(self, before: int | None, limit: int) -> dict[str, Any]:
        """A page of episodes for /activity/episodes, newest first."""
        episodes, next_before = self.log.page(before, limit)
        return {"alerts_enabled": self.detector is not None,
                "episodes": [episode.serialize() for episode in episodes],
                "next_before": next_before}

    def counters(self) -> dict[str, Any]:
        """For /status and /metrics: the level now, the room's quiet, the episodes."""
        detector, log = self.detector, self.log
        if detector is None:
            return {"alerts_enabled": False}
        ongoing = detector.episode  # as it is now, not as it began
        latest, _ = log.page(None, LATEST_EPISODES)
        floor = detector.floor_dbfs
        return {"alerts_enabled": True, "level_dbfs": round(self.level_dbfs, 1),
                "noise_floor_dbfs": None if floor is None else round(floor, 1),
                "threshold_dbfs": round(detector.threshold_dbfs, 1),
                "episodes": log.total, "alerts": log.alerts,
                "episode": None if ongoing is None else ongoing.serialize(),
                "latest_episodes": [episode.serialize() for episode in latest]}
