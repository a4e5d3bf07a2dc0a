"""The sound episodes kept with the archive (`episodes.jsonl`: one finished episode a line),
so that a restart still lists the sounds the archive holds audio for."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from broadcaster.core.activity import Episode

logger = logging.getLogger(__name__)

FILE_NAME = "episodes.jsonl"
MAX_KEPT = 1000  # as many as /activity/episodes lists


def episode_line(payload: dict[str, object]) -> bytes | None:
    """The line to keep for an episode's change (`core/sound.py`'s payload): its end only."""
    if payload.get("change") != "end":
        return None
    fields = {key: value for key, value in payload.items() if key != "change"}
    return json.dumps(fields, separators=(",", ":")).encode() + b"\n"


def load_episodes(root: Path, since_ms: float | None) -> list[Episode]:
    """The episodes kept, oldest first, that ended after `since_ms` (the archive's oldest
    audio; None: all); the file is rewritten without the rest. Lines that are not
    episodes (a torn last line after a kill) are left out and said once."""
    path = root / FILE_NAME
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    episodes, bad = [], 0
    for line in lines:
        try:
            episodes.append(Episode.parse(json.loads(line)))
        except ValueError:  # json's errors are ValueErrors too
            bad += 1
    if bad:
        logger.warning("archive: %d line(s) of %s are not episodes; left out", bad, FILE_NAME)
    kept = [episode for episode in episodes if since_ms is None or episode.end_ms >= since_ms]
    kept = kept[-MAX_KEPT:]
    if bad or len(kept) < len(episodes):
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(b"".join(
            json.dumps(episode.serialize(), separators=(",", ":")).encode() + b"\n"
            for episode in kept))
        os.replace(temporary, path)
    return kept
