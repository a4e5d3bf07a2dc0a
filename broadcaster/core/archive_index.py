"""The archive's index (pure): what each segment's `.idx` file holds beside its Ogg Opus
file, how segments are named, and how an id or a capture time is found in them.

A segment is one Ogg Opus file (`2026-12-06_14-00-00_1765029600000.opus`, named by the
local time and the id it starts at: two files never share a name, even when the clock steps
back) and its index (`.idx`): a header, then one fixed-size record per Ogg page. A page
holds about a second of packets with consecutive ids, captured one after another; its
record says where the page is, its first id and capture time, and how loud it was.
"""

from __future__ import annotations

import re
import struct
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

MAGIC = b"BCARCHV1"
_HEADER = struct.Struct("<8sHHqIfdH")
_RECORD = struct.Struct("<qQIHxxdf")
HEADER_BYTES = _HEADER.size
RECORD_BYTES = _RECORD.size
SILENT_DBFS = -120.0  # the level of a page of digital silence
_NAME = re.compile(r"(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)_(\d{1,19})\.opus")


class ArchiveIndexError(ValueError):
    """Bytes that are not an archive index."""


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """What an index says of its whole segment."""

    channels: int
    pre_skip: int
    epoch: int  # the first id of the process that wrote it: ids from elsewhere jump
    serial: int  # the Ogg stream's serial number
    frame_ms: float
    created_ms: float  # wall clock, when the segment was opened

    def pack(self) -> bytes:
        """The index file's first bytes."""
        return _HEADER.pack(MAGIC, 1, self.channels, self.epoch, self.serial, self.frame_ms,
                            self.created_ms, self.pre_skip)

    @classmethod
    def parse(cls, data: bytes) -> SegmentHeader:
        """Read a header; ArchiveIndexError when it is not one."""
        if len(data) < HEADER_BYTES:
            raise ArchiveIndexError("the index is shorter than its header")
        magic, version, channels, epoch, serial, frame_ms, created_ms, pre_skip = (
            _HEADER.unpack_from(data))
        if magic != MAGIC or version != 1 or channels not in (1, 2):
            raise ArchiveIndexError("not an archive index (or one of another version)")
        return cls(channels, pre_skip, epoch, serial, frame_ms, created_ms)


@dataclass(frozen=True, slots=True)
class Record:
    """One Ogg page of a segment."""

    first_id: int
    offset: int  # where the page starts in the Ogg file
    length: int  # its bytes
    packets: int
    capture_ms: float  # when its first packet was captured (wall clock)
    level_dbfs: float  # the loudest of its frames

    @property
    def end_id(self) -> int:
        """The id after its last packet."""
        return self.first_id + self.packets

    @property
    def end_offset(self) -> int:
        """Where the next page starts."""
        return self.offset + self.length

    def pack(self) -> bytes:
        """Its fixed-size bytes in the index."""
        return _RECORD.pack(self.first_id, self.offset, self.length, self.packets,
                            self.capture_ms, self.level_dbfs)


def parse_records(data: bytes) -> list[Record]:
    """The whole records in `data` (the bytes after the header); a torn last one is left
    out (`whole_records_bytes` says where they end)."""
    end = whole_records_bytes(len(data))
    return [Record(*fields) for fields in _RECORD.iter_unpack(data[:end])]


def whole_records_bytes(size: int) -> int:
    """How many of `size` bytes of records hold whole records."""
    return size - size % RECORD_BYTES


def segment_name(local_time: tuple[int, int, int, int, int, int], first_id: int) -> str:
    """The Ogg file's name: its start in local time (year ... second) and its first id."""
    year, month, day, hour, minute, second = local_time
    return (f"{year:04d}-{month:02d}-{day:02d}_{hour:02d}-{minute:02d}-{second:02d}_"
            f"{first_id}.opus")


def parse_segment_name(name: str) -> int | None:
    """The first id in an archive file's name; None for any other name."""
    match = _NAME.fullmatch(name)
    return int(match.group(2)) if match else None


def index_name(ogg_name: str) -> str:
    """The index file beside an Ogg file."""
    return ogg_name.removesuffix(".opus") + ".idx"


def find_id(records: Sequence[Record], seq: int) -> int | None:
    """The position of the record holding id `seq`, or of the first one after it when it
    fell in a hole; None when `seq` is past them all."""
    if not records or seq >= records[-1].end_id:
        return None
    position = bisect_right(records, seq, key=lambda record: record.first_id) - 1
    if position < 0:
        return 0
    return position if seq < records[position].end_id else position + 1


def find_time(records: Sequence[Record], capture_ms: float, frame_ms: float) -> int | None:
    """The position of the record holding the audio captured at `capture_ms` (the first at
    or after it in a hole); None when it is past them all. Capture times grow within a
    segment (a step of the clock back starts a new one)."""
    if not records:
        return None
    position = bisect_right(records, capture_ms, key=lambda record: record.capture_ms) - 1
    if position < 0:
        return 0
    record = records[position]
    if position == len(records) - 1 and capture_ms >= record.capture_ms + record.packets * frame_ms:
        return None
    return position

