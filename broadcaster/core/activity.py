"""Sound activity: a level per frame, the room's quiet learned from it, and episodes of
sound that stand out from that quiet (pure: the caller passes levels and capture times).

A sound starts an episode when it stays above the threshold for `attack_ms` (a click is
over long before); the episode goes on through pauses shorter than `release_ms` (a cry
comes in breaths) and lasts `hold_ms` at least. The threshold is `above_floor_db` over the
learned floor and never below `min_level_dbfs`. The floor follows the level down within
seconds and up only over `floor_rise_s`, so a fan or a radio's hiss becomes the room's
quiet and never alerts, while a sound of a few seconds barely moves it. An episode that
starts within `cooldown_s` of the end of the last alerted one is kept, but not alerted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

SILENCE_DBFS = -120.0  # the level of digital silence (log of zero)
FULL_SCALE_S16 = 32768.0


def level_dbfs(rms: float, full_scale: float = FULL_SCALE_S16) -> float:
    """An RMS amplitude as dBFS (a full-scale square wave is 0 dBFS), floored at silence."""
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms / full_scale))


@dataclass(frozen=True, slots=True)
class ActivityPolicy:
    """When a sound makes an episode, and when it alerts."""

    above_floor_db: float = 15.0
    min_level_dbfs: float = -55.0
    attack_ms: float = 300.0
    hold_ms: float = 1000.0
    release_ms: float = 1500.0
    cooldown_s: float = 30.0
    floor_rise_s: float = 30.0  # the floor climbs about 10 dB in this time, no faster
    floor_fall_s: float = 1.0  # and falls 10 dB in this time

    def __post_init__(self) -> None:
        checks = (("above_floor_db", 0.0, 60.0), ("min_level_dbfs", -100.0, 0.0),
                  ("attack_ms", 0.0, 10000.0), ("hold_ms", 0.0, 60000.0),
                  ("release_ms", 20.0, 60000.0), ("cooldown_s", 0.0, 86400.0),
                  ("floor_rise_s", 1.0, 3600.0), ("floor_fall_s", 0.1, 600.0))
        for name, low, high in checks:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and low <= value <= high):
                raise ValueError(f"{name} = {value!r} is invalid: expected {low:g} to {high:g}")


@dataclass(frozen=True, slots=True)
class Episode:
    """A sound that stood out: when (capture time, Unix ms), how loud, over what quiet."""

    number: int
    start_ms: float
    end_ms: float
    peak_dbfs: float
    loudness_dbfs: float  # the mean power over the episode, as dBFS
    floor_dbfs: float  # the room's quiet when it began
    alerted: bool
    ongoing: bool = True

    @property
    def duration_ms(self) -> float:
        """How long it lasted (so far, while ongoing)."""
        return self.end_ms - self.start_ms

    def serialize(self) -> dict[str, Any]:
        """As JSON-ready data: times in Unix ms, levels in dBFS rounded to 0.1 dB."""
        return {"episode": self.number, "start_ms": round(self.start_ms, 1),
                "end_ms": round(self.end_ms, 1), "duration_ms": round(self.duration_ms, 1),
                "peak_dbfs": round(self.peak_dbfs, 1),
                "loudness_dbfs": round(self.loudness_dbfs, 1),
                "floor_dbfs": round(self.floor_dbfs, 1), "alerted": self.alerted,
                "ongoing": self.ongoing}

    @classmethod
    def parse(cls, data: object) -> Episode:
        """An episode from its `serialize()`d form (kept on disk); ValueError if it is not
        one."""
        if not isinstance(data, dict):
            raise ValueError(f"an episode is a JSON object, got {type(data).__name__}")
        try:
            number, alerted, ongoing = data["episode"], data["alerted"], data["ongoing"]
            times = [float(data[key]) for key in ("start_ms", "end_ms", "peak_dbfs",
                                                  "loudness_dbfs", "floor_dbfs")]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an episode: {exc}") from None
        if not isinstance(number, int) or number < 1 or not isinstance(alerted, bool) \
                or not isinstance(ongoing, bool) or not all(map(math.isfinite, times)):
            raise ValueError("not an episode: a field of the wrong kind")
        start_ms, end_ms, peak_dbfs, loudness_dbfs, floor_dbfs = times
        return cls(number, start_ms, end_ms, peak_dbfs, loudness_dbfs, floor_dbfs, alerted,
                   ongoing)


@dataclass(frozen=True, slots=True)
class Change:
    """What one frame changed: an episode began (`started`) or ended (not `ongoing`)."""

    episode: Episode
    started: bool


class ActivityDetector:
    """Feed it one level per frame; it returns the episodes that begin and end."""

    def __init__(self, policy: ActivityPolicy, frame_ms: float,
                 first_number: int = 1) -> None:
        if not frame_ms > 0:
            raise ValueError(f"frame_ms = {frame_ms!r} must be above 0")
        self.policy = policy
        self.frame_ms = frame_ms
        self.floor_dbfs: float | None = None
        self._next_number = first_number
        self._loud_ms = 0.0  # loud time lately, leaking away in quiet frames
        self._onset_ms: float | None = None  # when the loud run that may start one began
        self._episode: Episode | None = None
        self._energy = 0.0  # summed power of the open episode's frames
        self._frames = 0
        self._until_loud = (0.0, 0)  # energy and frames up to its latest loud frame
        self._run = (0.0, 0, SILENCE_DBFS)
        self._last_loud_ms = 0.0
        self._last_alert_end_ms = -math.inf

    @property
    def threshold_dbfs(self) -> float:
        """The level a sound must reach now."""
        floor = self.policy.min_level_dbfs if self.floor_dbfs is None else self.floor_dbfs
        return max(self.policy.min_level_dbfs, floor + self.policy.above_floor_db)

    @property
    def episode(self) -> Episode | None:
        """The episode under way, if any."""
        return self._episode

    def number_from(self, number: int) -> None:
        """Number the next episode `number` (on from those an earlier run kept)."""
        self._next_number = max(self._next_number, number)

    def feed(self, level: float, capture_ms: float) -> list[Change]:
        """One frame's level (dBFS) captured at `capture_ms`; what it changed."""
        policy, frame_ms = self.policy, self.frame_ms
        loud = level >= self.threshold_dbfs
        changes: list[Change] = []
        if loud:
            if self._loud_ms <= 0.0:
                self._onset_ms = capture_ms
                self._run = (0.0, 0, level)  # what the attack heard: energy, frames, peak
            self._loud_ms = min(self._loud_ms + frame_ms, max(policy.attack_ms, frame_ms))
            self._last_loud_ms = capture_ms
        else:
            self._loud_ms = max(0.0, self._loud_ms - 2 * frame_ms)
        episode = self._episode
        if episode is None and self._loud_ms >= max(policy.attack_ms, frame_ms):
            onset = capture_ms if self._onset_ms is None else self._onset_ms
            alerted = onset - self._last_alert_end_ms >= policy.cooldown_s * 1000
            self._energy, self._frames, peak = self._run
            episode = Episode(self._next_number, onset, capture_ms + frame_ms,
                              max(peak, level), level, self._floor_or(level), alerted)
            self._next_number += 1
            changes.append(Change(episode, started=True))
        elif episode is None and self._onset_ms is not None:
            energy, frames, peak = self._run
            self._run = (energy + 10 ** (level / 10), frames + 1, max(peak, level))
        if episode is not None:
            self._energy += 10 ** (level / 10)
            self._frames += 1
            episode = replace(episode, end_ms=capture_ms + frame_ms,
                              peak_dbfs=max(episode.peak_dbfs, level),
                              loudness_dbfs=10 * math.log10(self._energy / self._frames))
            if loud:
                self._until_loud = (self._energy, self._frames)
            quiet_ms = capture_ms - self._last_loud_ms
            if quiet_ms >= policy.release_ms and episode.duration_ms >= policy.hold_ms:
                energy, frames = self._until_loud  # the pause after it is not the sound
                episode = replace(episode, end_ms=self._last_loud_ms + frame_ms,
                                  loudness_dbfs=10 * math.log10(energy / frames),
                                  ongoing=False)
                if episode.alerted:
                    self._last_alert_end_ms = episode.end_ms
                changes.append(Change(episode, started=False))
                episode, self._loud_ms, self._onset_ms = None, 0.0, None
            self._episode = episode
        self._learn_floor(level)
        return changes

    def _floor_or(self, level: float) -> float:
        return level if self.floor_dbfs is None else self.floor_dbfs

    def _learn_floor(self, level: float) -> None:
        """Follow the level down fast and up slowly (a sound of a few seconds moves it by a
        dB or two; a fan that stays on becomes the room's quiet)."""
        floor = self.floor_dbfs
        if floor is None:
            self.floor_dbfs = level
        elif level < floor:
            step = self.frame_ms / (self.policy.floor_fall_s * 1000) * 10.0
            self.floor_dbfs = max(level, floor - step)
        else:
            step = self.frame_ms / (self.policy.floor_rise_s * 1000) * 10.0
            self.floor_dbfs = min(level, floor + step)
