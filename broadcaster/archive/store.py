"""The archive on disk, as any process reads it: its segments, found by id or capture time,
and their pages read back (the recorder writes them: recorder.py).

The disk is the seam: the process that records and the worker processes that serve
listeners read the same files, and a reader learns what was added by reading the newest
index again from where it stopped. Nothing here writes but `repair()`, which the recorder
runs once before it writes: it cuts what a killed writer left half-written.
"""

from __future__ import annotations

import logging
import os
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from broadcaster.core.archive_index import (
    HEADER_BYTES,
    RECORD_BYTES,
    ArchiveIndexError,
    Record,
    SegmentHeader,
    find_id,
    find_time,
    index_name,
    parse_records,
    parse_segment_name,
)
from broadcaster.core.ogg import LAST, OggError, Page, end_page, parse_page

logger = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Segment:
    """One Ogg file of the archive and its index. Its first and last records are read at
    once; the rest only when asked for (a start-up reads two records per file, not 86,400
    for a day). Ids within a segment follow on with no hole: the recorder starts a new one
    at any jump."""

    path: Path  # the Ogg file
    header: SegmentHeader
    first: Record | None = None
    last: Record | None = None
    count: int = 0  # whole records in the index
    _records: list[Record] | None = None
    _levels: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))

    @property
    def index_path(self) -> Path:
        """The index beside it."""
        return self.path.with_name(index_name(self.path.name))

    @property
    def index_bytes(self) -> int:
        """The index's bytes that hold its header and whole records."""
        return HEADER_BYTES + self.count * RECORD_BYTES

    @property
    def records(self) -> list[Record]:
        """Every record (read from disk the first time)."""
        if self._records is None:
            with open(self.index_path, "rb") as index:
                index.seek(HEADER_BYTES)
                self._records = parse_records(index.read(self.count * RECORD_BYTES))
        return self._records

    @property
    def first_id(self) -> int:
        """Its first packet's id."""
        return self.first.first_id if self.first else -1

    @property
    def end_id(self) -> int:
        """The id after its last packet."""
        return self.last.end_id if self.last else -1

    @property
    def audio_ms(self) -> float:
        """The audio it holds."""
        return max(0, self.end_id - self.first_id) * self.header.frame_ms

    @property
    def bytes(self) -> int:
        """Both files' bytes."""
        return (self.last.end_offset if self.last else 0) + self.index_bytes

    def read_more(self) -> bool:
        """Learn the records added to the index since; False when its files are gone."""
        try:
            with open(self.index_path, "rb") as index:
                size = os.fstat(index.fileno()).st_size
                count = (size - HEADER_BYTES) // RECORD_BYTES if size > HEADER_BYTES else 0
                if count == self.count:
                    return True
                if self._records is not None:
                    index.seek(self.index_bytes)
                    self._records += parse_records(
                        index.read((count - self.count) * RECORD_BYTES))
                if self.first is None:
                    index.seek(HEADER_BYTES)
                    self.first = parse_records(index.read(RECORD_BYTES))[0]
                index.seek(HEADER_BYTES + (count - 1) * RECORD_BYTES)
                self.last = parse_records(index.read(RECORD_BYTES))[0]
                self.count = count
        except FileNotFoundError:
            return False
        return True

    def levels(self) -> tuple[list[float], list[float]]:
        """Each page's capture time and loudest level (kept, and extended as it grows)."""
        records = self.records
        times, levels = self._levels
        for record in records[len(times):]:
            times.append(record.capture_ms)
            levels.append(record.level_dbfs)
        return times, levels

    def cut(self, count: int) -> None:
        """Forget every record after the first `count` (repair cut them)."""
        records = self.records[:count]
        self._records, self.count, self._levels = records, count, ([], [])
        self.first = records[0] if records else None
        self.last = records[-1] if records else None


@dataclass(frozen=True, slots=True)
class Chunk:
    """Pages read back: their packets, each with its id, and where the reading goes on."""

    packets: list[tuple[int, bytes]]
    capture_ms: list[float]  # each packet's capture time
    header: SegmentHeader
    next_id: int  # the id to read next


class ArchiveStore:
    """The archive's segments, oldest first (by id: the order of the wall clock may not be)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.segments: list[Segment] = []

    # -- finding the segments ----------------------------------------------------------
    def scan(self) -> None:
        """List the segments on disk and read their indexes."""
        known = {segment.path.name: segment for segment in self.segments}
        found: list[Segment] = []
        for _, name in sorted(self._names()):
            segment = known.get(name) or self._open(self.root / name)
            if segment is not None and segment.read_more() and segment.count:
                found.append(segment)
        self.segments = found

    def _names(self) -> Iterator[tuple[int, str]]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return
        for name in names:
            first_id = parse_segment_name(name)
            if first_id is not None:
                yield first_id, name

    def _open(self, path: Path) -> Segment | None:
        try:
            with open(path.with_name(index_name(path.name)), "rb") as index:
                header = SegmentHeader.parse(index.read(HEADER_BYTES))
        except (OSError, ArchiveIndexError) as exc:
            logger.debug("archive: %s is left out: %s", path.name, exc)
            return None
        return Segment(path, header)

    def refresh(self) -> None:
        """Learn what the recorder added (a new page, a new segment, segments it deleted)."""
        newest = self.segments[-1] if self.segments else None
        if newest is None or not newest.read_more() or not self.segments[0].path.exists():
            self.scan()
            return
        names = sorted(self._names())
        if names and names[-1][1] != newest.path.name:
            self.scan()

    # -- what it holds -----------------------------------------------------------------
    @property
    def first_id(self) -> int | None:
        """The oldest id held."""
        return self.segments[0].first_id if self.segments else None

    @property
    def end_id(self) -> int | None:
        """The id after the newest held."""
        return self.segments[-1].end_id if self.segments else None

    def summary(self) -> dict[str, object]:
        """From, to, bytes and files, for /status and /archive."""
        segments = self.segments
        if not segments:
            return {"from_id": None, "to_id": None, "from_ms": None, "to_ms": None,
                    "bytes": 0, "files": 0, "audio_s": 0.0}
        first, last = segments[0], segments[-1]
        assert first.first is not None and last.last is not None
        return {
            "from_id": first.first_id,
            "to_id": last.end_id - 1,
            "from_ms": round(first.first.capture_ms, 3),
            "to_ms": round(last.last.capture_ms + last.last.packets * last.header.frame_ms, 3),
            "bytes": sum(segment.bytes for segment in segments),
            "files": len(segments),
            "audio_s": round(sum(segment.audio_ms for segment in segments) / 1000, 3),
        }

    def locate(self, seq: int) -> tuple[int, int] | None:
        """(segment, record) holding id `seq`, or the first after it; None past the end."""
        for number, segment in enumerate(self.segments):
            if seq < segment.end_id:
                position = find_id(segment.records, seq)
                return None if position is None else (number, position)
        return None

    def locate_time(self, capture_ms: float) -> tuple[int, int] | None:
        """(segment, record) holding the audio captured at `capture_ms` (or the first after
        it); the newest such when the clock stepped back and two segments claim it."""
        for number in range(len(self.segments) - 1, -1, -1):
            segment = self.segments[number]
            if segment.first is not None and segment.first.capture_ms <= capture_ms:
                position = find_time(segment.records, capture_ms, segment.header.frame_ms)
                if position is not None:
                    return number, position
                if number + 1 < len(self.segments):
                    return number + 1, 0
                return None
        return (0, 0) if self.segments else None

    def id_at(self, capture_ms: float) -> int | None:
        """The id of the first packet captured at or after `capture_ms`."""
        place = self.locate_time(capture_ms)
        if place is None:
            return None
        segment = self.segments[place[0]]
        record = segment.records[place[1]]
        frames = int(max(0.0, capture_ms - record.capture_ms) // segment.header.frame_ms)
        return record.first_id + min(frames, record.packets - 1)

    # -- reading -----------------------------------------------------------------------
    def read(self, seq: int, max_pages: int) -> Chunk | None:
        """Up to `max_pages` pages of one segment from id `seq` (or the first id after it
        held); None past the end. Blocking file I/O: call it off the event loop."""
        place = self.locate(seq)
        if place is None:
            return None
        segment = self.segments[place[0]]
        records = segment.records[place[1]:place[1] + max_pages]
        start, end = records[0].offset, records[-1].end_offset
        try:
            with open(segment.path, "rb") as ogg:
                ogg.seek(start)
                data = ogg.read(end - start)
        except FileNotFoundError:  # retention took it meanwhile
            return Chunk([], [], segment.header, records[-1].end_id)
        packets: list[tuple[int, bytes]] = []
        times: list[float] = []
        frame_ms = segment.header.frame_ms
        for record in records:
            try:
                page = parse_page(data, record.offset - start, check_crc=False)
            except OggError:
                logger.warning("archive: %s has a damaged page at byte %d", segment.path.name,
                               record.offset)
                continue
            for number, packet in enumerate(page.packets):
                if record.first_id + number >= seq:
                    packets.append((record.first_id + number, packet))
                    times.append(record.capture_ms + number * frame_ms)
        return Chunk(packets, times, segment.header, records[-1].end_id)

    def levels(self, from_ms: float, to_ms: float, step_ms: float) -> list[float | None]:
        """The loudest level in each `step_ms` from `from_ms` to `to_ms` (None: no audio).
        Two bisections and a max over a slice per step and segment: a day in 600 steps
        takes about a millisecond once each segment's levels are read."""
        count = max(0, int((to_ms - from_ms) // step_ms) + 1)
        out: list[float | None] = [None] * count
        for segment in self.segments:
            if segment.first is None or segment.last is None \
                    or segment.first.capture_ms > to_ms \
                    or segment.last.capture_ms < from_ms - step_ms:
                continue
            times, levels = segment.levels()
            first = max(0, int((times[0] - from_ms) // step_ms))
            last = min(count - 1, int((times[-1] - from_ms) // step_ms))
            for slot in range(first, last + 1):
                start = from_ms + slot * step_ms
                lo, hi = bisect_left(times, start), bisect_left(times, start + step_ms)
                if lo < hi:
                    loudest = max(levels[lo:hi])
                    level = out[slot]
                    out[slot] = loudest if level is None else max(level, loudest)
        return out

    # -- repair ------------------------------------------------------------------------
    def repair(self) -> list[str]:
        """Cut what a killed writer left half-written at the end of any segment (a torn
        index record, a page with no record, a damaged last page) and close its Ogg stream;
        what was cut, one line per segment."""
        cut: list[str] = []
        self.scan()
        for segment in self.segments:
            if (said := repair_segment(segment)) is not None:
                cut.append(f"{segment.path.name}: {said}")
        self.segments = []
        self.scan()
        return cut


def repair_segment(segment: Segment) -> str | None:
    """Make one segment whole (see ArchiveStore.repair); what was cut, or None. A segment
    closed cleanly costs one read of its last page."""
    ogg_size = segment.path.stat().st_size
    index_size = segment.index_path.stat().st_size
    last = segment.last
    if last is not None and last.end_offset <= ogg_size and index_size == segment.index_bytes:
        with open(segment.path, "rb") as ogg:
            ogg.seek(last.offset)
            data = ogg.read()
        try:
            if _closed(parse_page(data[:last.length]), data[last.length:]):
                return None
        except OggError:
            pass
    records = list(segment.records)
    dropped = 0
    with open(segment.path, "rb") as ogg:
        while records:
            last = records[-1]
            if last.end_offset <= ogg_size:
                ogg.seek(last.offset)
                try:
                    last_page = parse_page(ogg.read(last.length))
                    break
                except OggError:
                    pass
            records.pop()
            dropped += 1
        if not records:
            return None  # nothing whole: scan() leaves it out; retention deletes it
        tail = ogg.read()
    segment.cut(len(records))
    end = records[-1].end_offset
    with open(segment.path, "r+b") as ogg:
        ogg.truncate(end)
        ogg.seek(end)
        ogg.write(end_page(last_page.serial, last_page.sequence + 1))
    with open(segment.index_path, "r+b") as index:
        index.truncate(segment.index_bytes)
    return (f"closed its Ogg stream after the last whole page, cutting {dropped} page(s) "
            f"without a whole record or damaged and {len(tail)} byte(s) after it")


def _closed(last_page: Page, tail: bytes) -> bool:
    """Whether a segment ends as a clean close leaves it: its last page, or an empty page
    after it, ends the stream."""
    if not tail:
        return bool(last_page.flags & LAST)
    try:
        end = parse_page(tail)
    except OggError:
        return False
    return bool(end.flags & LAST) and end.size == len(tail)
