"""Sound activity: levels, the learned floor, and episodes (pure: made-up level traces)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.activity import (
    SILENCE_DBFS,
    ActivityDetector,
    ActivityPolicy,
    Change,
    level_dbfs,
)

FRAME_MS = 20.0


def run(detector: ActivityDetector, levels: list[float],
        start_ms: float = 0.0) -> list[Change]:
    changes: list[Change] = []
    for n, level in enumerate(levels):
        changes += detector.feed(level, start_ms + n * FRAME_MS)
    return changes


def seconds(level: float, s: float) -> list[float]:
    return [level] * round(s * 1000 / FRAME_MS)


def detector(**policy: float) -> ActivityDetector:
    return ActivityDetector(ActivityPolicy(**policy), FRAME_MS)


def test_levels_are_dbfs() -> None:
    assert level_dbfs(32768.0) == pytest.approx(0.0)
    assert level_dbfs(32768.0 / math.sqrt(2) / 10) == pytest.approx(-23.01, abs=0.01)
    assert level_dbfs(0.0) == SILENCE_DBFS


def test_a_quiet_room_then_steady_noise_then_a_click_then_a_cry() -> None:
    """The issue's scene: only the cry makes an episode, with its start and peak."""
    d = detector()
    quiet, fan = seconds(-80.0, 5), seconds(-62.0, 60)
    click = [-10.0, *seconds(-62.0, 5)]
    cry = [-25.0 + 6 * math.sin(n / 3) for n in range(100)]  # 2 s, breathing
    changes = run(d, quiet + fan + click + cry + seconds(-62.0, 4))
    assert [c.started for c in changes] == [True, False]
    start, end = changes[0].episode, changes[1].episode
    cry_at_ms = len(quiet + fan + click) * FRAME_MS
    assert start.start_ms == cry_at_ms  # the onset, not the moment it was recognised
    assert start.alerted and start.ongoing and not end.ongoing
    assert end.peak_dbfs == pytest.approx(-19.0, abs=0.1)
    assert 1900 <= end.duration_ms <= 2100
    assert -62.0 <= end.floor_dbfs <= -60.0  # the fan had become the room's quiet


def test_an_episode_is_recognised_after_its_attack_time() -> None:
    d = detector(attack_ms=300.0)
    changes = run(d, seconds(-70.0, 2) + seconds(-20.0, 1))
    started = [c for c in changes if c.started]
    assert len(started) == 1
    recognised_at_ms = 2000 + 300 - FRAME_MS  # the frame that completes the attack
    assert started[0].episode.end_ms == recognised_at_ms + FRAME_MS


def test_a_cry_with_pauses_shorter_than_the_release_is_one_episode() -> None:
    d = detector(release_ms=1500.0)
    burst, pause = seconds(-20.0, 1), seconds(-70.0, 1)
    changes = run(d, seconds(-70.0, 2) + burst + pause + burst + pause + burst
                  + seconds(-70.0, 3))
    assert [c.started for c in changes] == [True, False]
    assert changes[1].episode.duration_ms == pytest.approx(5000, abs=FRAME_MS)


def test_an_episode_stays_open_its_hold_time_at_least() -> None:
    """A short sound keeps its episode open (the page's banner up) for `hold_ms`, but the
    episode reports when the sound really ended."""
    d = detector(attack_ms=100.0, release_ms=200.0, hold_ms=3000.0)
    levels = seconds(-70.0, 2) + seconds(-20.0, 0.2) + seconds(-70.0, 5)
    ended_at_ms = None
    for n, level in enumerate(levels):
        for change in d.feed(level, n * FRAME_MS):
            if not change.started:
                ended_at_ms, episode = (n + 1) * FRAME_MS, change.episode
    assert ended_at_ms is not None
    assert ended_at_ms >= episode.start_ms + 3000
    assert episode.end_ms == pytest.approx(2200)
    assert episode.loudness_dbfs == pytest.approx(-20.0)  # the sound's, not the pause's


def test_an_episode_soon_after_an_alerted_one_is_kept_but_not_alerted() -> None:
    d = detector(cooldown_s=30.0)
    sound, quiet = seconds(-20.0, 1), seconds(-70.0, 5)
    changes = run(d, seconds(-70.0, 2) + sound + quiet + sound + quiet + seconds(-70.0, 30)
                  + sound + quiet)
    starts = [c.episode for c in changes if c.started]
    assert [e.alerted for e in starts] == [True, False, True]
    assert [e.number for e in starts] == [1, 2, 3]


def test_the_threshold_never_falls_below_the_absolute_minimum() -> None:
    d = detector(min_level_dbfs=-50.0, above_floor_db=10.0)
    assert run(d, seconds(SILENCE_DBFS, 3) + seconds(-55.0, 3)) == []
    assert d.threshold_dbfs == -50.0


def test_a_fan_that_comes_on_loud_alerts_once_then_becomes_the_quiet() -> None:
    d = detector()
    changes = run(d, seconds(-80.0, 3) + seconds(-35.0, 180))
    assert [c.started for c in changes] == [True, False]
    assert d.floor_dbfs == pytest.approx(-35.0, abs=1.0)


@pytest.mark.parametrize(("name", "value"), [("attack_ms", -1.0), ("release_ms", 0.0),
                                             ("min_level_dbfs", 3.0), ("cooldown_s", math.nan)])
def test_a_bad_policy_is_refused_by_name(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        ActivityPolicy(**{name: value})


@given(st.lists(st.floats(min_value=-130.0, max_value=10.0), max_size=400))
def test_episodes_alternate_and_are_ordered(levels: list[float]) -> None:
    d = detector(attack_ms=60.0, release_ms=100.0, hold_ms=0.0, cooldown_s=0.0)
    changes = run(d, levels)
    assert [c.started for c in changes] == [n % 2 == 0 for n in range(len(changes))]
    for change in changes:
        episode = change.episode
        assert episode.start_ms <= episode.end_ms
        assert episode.loudness_dbfs <= episode.peak_dbfs + 1e-9
    ends = [c.episode.end_ms for c in changes if not c.started]
    assert ends == sorted(ends)


def test_the_peak_and_loudness_count_the_attack_too() -> None:
    d = detector(attack_ms=300.0)
    changes = run(d, [*seconds(-70.0, 2), -10.0, *seconds(-20.0, 2), *seconds(-70.0, 3)])
    started, ended = changes[0].episode, changes[1].episode
    assert started.peak_dbfs == ended.peak_dbfs == -10.0
    assert -20.0 < ended.loudness_dbfs < -19.0  # one loud frame among a hundred
