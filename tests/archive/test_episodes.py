"""Sound episodes kept with the archive: written by the recorder's thread, read back by the
next run, a torn last line left out, those older than the archive's audio forgotten."""

from __future__ import annotations

import json
from pathlib import Path

from broadcaster.archive.episodes import FILE_NAME, load_episodes
from broadcaster.archive.recorder import ArchiveRecorder, RecorderSettings
from broadcaster.core.activity import Episode
from broadcaster.core.retention import Retention
from broadcaster.core.sound import change_payload


def episode(number: int, start_ms: float) -> Episode:
    return Episode(number, start_ms, start_ms + 800, -18.0, -24.0, -61.0, True, False)


def test_finished_episodes_are_kept_and_read_back(tmp_path: Path) -> None:
    recorder = ArchiveRecorder(RecorderSettings(tmp_path, Retention(1e9, 1 << 30), 60.0, 1,
                                                120, 20.0))
    recorder.open()
    recorder.start(1000)
    for number in (1, 2):
        ongoing = episode(number, number * 10_000.0)
        recorder.note_episode(change_payload(ongoing, started=True))
        recorder.note_episode(change_payload(ongoing, started=False))
    recorder.close()
    assert load_episodes(tmp_path, None) == [episode(1, 10_000.0), episode(2, 20_000.0)]


def test_a_torn_line_and_episodes_older_than_the_audio_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    lines = [json.dumps(episode(n, n * 10_000.0).serialize()) for n in (1, 2, 3)]
    path.write_text("\n".join(lines) + '\n{"episode": 4, "start')  # a kill mid-line
    assert [e.number for e in load_episodes(tmp_path, 20_000.0)] == [2, 3]
    assert [e.number for e in load_episodes(tmp_path, None)] == [2, 3]  # rewritten
    assert load_episodes(tmp_path / "none", None) == []
