"""A fixed-capacity ring of framed audio events, addressed by monotonic sequence number."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Batch:
    """What a reader at some sequence number gets: the bytes to send and where to go next."""

    data: bytes
    next_seq: int
    lost: int  # frames the reader asked for that had already left the ring


class FrameRing:
    """Holds the last `capacity` frames' wire bytes; one writer, any number of readers.

    Readers keep only their next sequence number. A reader that asks for frames older
    than the ring holds is moved to the live edge and told how many frames it lost.
    """

    __slots__ = ("_capacity", "_first_seq", "_next_seq", "_slots", "_start_seq")

    def __init__(self, capacity: int, first_seq: int = 0, start_seq: int | None = None) -> None:
        """`first_seq` is the epoch's first id; a ring that joins a running epoch (a worker
        process's copy) starts holding frames at `start_seq`."""
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1 frame, got {capacity}")
        if first_seq < 0:
            raise ValueError(f"first sequence number must be >= 0, got {first_seq}")
        start = first_seq if start_seq is None else start_seq
        if start < first_seq:
            raise ValueError(f"start sequence number {start} is before the epoch {first_seq}")
        self._capacity = capacity
        self._first_seq = first_seq
        self._start_seq = start
        self._next_seq = start
        self._slots: list[bytes] = [b""] * capacity

    @property
    def capacity(self) -> int:
        """How many frames the ring holds at most."""
        return self._capacity

    @property
    def first_seq(self) -> int:
        """The sequence number the ring started at (ids below it are from another epoch)."""
        return self._first_seq

    @property
    def next_seq(self) -> int:
        """The sequence number the next appended frame gets (the live edge)."""
        return self._next_seq

    @property
    def oldest_seq(self) -> int:
        """The oldest sequence number still held (== next_seq when empty)."""
        return max(self._next_seq - self._capacity, self._start_seq)

    def __len__(self) -> int:
        return self._next_seq - self.oldest_seq

    def append(self, seq: int, wire: bytes) -> None:
        """Store the frame `seq`; frames must arrive in order with no gaps."""
        if seq != self._next_seq:
            raise ValueError(f"frame {seq} appended out of order: expected {self._next_seq}")
        self._slots[seq % self._capacity] = wire
        self._next_seq = seq + 1

    def skip_to(self, seq: int) -> None:
        """Move the live edge to `seq`: the frames before it that never came (a copy of
        another process's ring with a hole) read as nothing."""
        if seq < self._next_seq:
            raise ValueError(f"cannot skip back to {seq}: the live edge is {self._next_seq}")
        for missing in range(max(self._next_seq, seq - self._capacity), seq):
            self._slots[missing % self._capacity] = b""
        self._next_seq = seq

    def holds(self, seq: int) -> bool:
        """Whether frame `seq` is still in the ring."""
        return self.oldest_seq <= seq < self._next_seq

    def read(self, seq: int, max_frames: int | None = None) -> Batch:
        """The frames from `seq` on (at most `max_frames`), joined into one send.

        A `seq` beyond the live edge is clamped to it (no data, nothing lost); one older
        than the ring holds jumps to the live edge with `lost` counting the skipped frames.
        """
        if seq >= self._next_seq:
            return Batch(b"", self._next_seq, 0)
        oldest = self.oldest_seq
        if seq < oldest:
            return Batch(b"", self._next_seq, self._next_seq - seq)
        end = self._next_seq if max_frames is None else min(self._next_seq, seq + max_frames)
        if end - seq == 1:
            return Batch(self._slots[seq % self._capacity], end, 0)
        cap = self._capacity
        return Batch(b"".join([self._slots[s % cap] for s in range(seq, end)]), end, 0)
