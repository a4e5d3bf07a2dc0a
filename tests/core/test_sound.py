"""Sound activity as the broadcast carries it, and the episodes kept (pure)."""

from __future__ import annotations

import json

import pytest

from broadcaster.core.activity import ActivityPolicy, Change, Episode
from broadcaster.core.episodes import EpisodeLog
from broadcaster.core.sound import SoundWatch
from tests.support.sse import SSEDecoder

FRAME_MS = 20.0


def feed(watch: SoundWatch, levels: list[float]) -> bytes:
    return b"".join(watch.feed(level, n * FRAME_MS) for n, level in enumerate(levels))


def test_a_sound_becomes_events_taps_and_a_page() -> None:
    watch = SoundWatch(ActivityPolicy(attack_ms=100.0, release_ms=200.0, hold_ms=0.0),
                       FRAME_MS)
    told: list[tuple[int, str]] = []
    watch.taps.append(lambda change: told.append((change["episode"], change["change"])))
    events = SSEDecoder().feed(feed(watch, [-70.0] * 50 + [-20.0] * 20 + [-70.0] * 30))
    assert [(e.event, json.loads(e.data)["change"]) for e in events] == [
        ("activity", "start"), ("activity", "end")]
    assert told == [(1, "start"), (1, "end")]
    page = watch.page(None, 10)
    assert [e["episode"] for e in page["episodes"]] == [1] and page["next_before"] is None
    counters = watch.counters()
    assert (counters["episodes"], counters["alerts"], counters["episode"]) == (1, 1, None)
    assert counters["level_dbfs"] == -70.0


def test_with_no_policy_nothing_is_watched() -> None:
    watch = SoundWatch(None, FRAME_MS)
    assert feed(watch, [-20.0] * 100) == b""
    assert watch.counters() == {"alerts_enabled": False}
    assert watch.page(None, 5) == {"alerts_enabled": False, "episodes": [],
                                   "next_before": None}


def episode(number: int, ongoing: bool = False) -> Episode:
    return Episode(number, number * 1000.0, number * 1000.0 + 500, -20.0, -25.0, -60.0,
                   True, ongoing)


def test_the_log_keeps_the_latest_and_pages_back() -> None:
    log = EpisodeLog(capacity=3)
    for number in range(1, 6):
        log.record(Change(episode(number, ongoing=True), started=True))
        log.record(Change(episode(number), started=False))
    assert (log.total, log.alerts) == (5, 5)
    page, next_before = log.page(None, 2)
    assert [e.number for e in page] == [5, 4] and next_before == 4
    page, next_before = log.page(next_before, 2)
    assert [e.number for e in page] == [3] and next_before is None  # 1 and 2 are gone
    log.record(Change(episode(6, ongoing=True), started=True))
    newest, _ = log.page(None, 1)
    assert newest[0].number == 6 and newest[0].ongoing
    with pytest.raises(ValueError, match="limit"):
        log.page(None, 0)


def test_episodes_an_earlier_run_kept_are_listed_and_numbered_on_from() -> None:
    kept = [Episode(n, n * 1000.0, n * 1000.0 + 400, -20.0, -25.0, -60.0, True, False)
            for n in (7, 8)]
    assert [Episode.parse(json.loads(json.dumps(e.serialize()))) for e in kept] == kept
    watch = SoundWatch(ActivityPolicy(attack_ms=100.0, release_ms=200.0, hold_ms=0.0),
                       FRAME_MS)
    watch.restore(kept)
    feed(watch, [-70.0] * 50 + [-20.0] * 20 + [-70.0] * 30)
    assert [e["episode"] for e in watch.page(None, 10)["episodes"]] == [9, 8, 7]


@pytest.mark.parametrize("data", [None, [], {}, {"episode": 1},
                                  {"episode": "1", "start_ms": 0, "end_ms": 1, "peak_dbfs": 0,
                                   "loudness_dbfs": 0, "floor_dbfs": 0, "alerted": True,
                                   "ongoing": False},
                                  {"episode": 1, "start_ms": "nan", "end_ms": 1,
                                   "peak_dbfs": 0, "loudness_dbfs": 0, "floor_dbfs": 0,
                                   "alerted": True, "ongoing": False}])
def test_what_is_not_an_episode_is_refused(data: object) -> None:
    with pytest.raises(ValueError, match="episode"):
        Episode.parse(data)
