"""Frames that come from two places (the live feed, and a backfill of what it missed) put
in id order, each once (pure: the caller fetches, waits and gives up)."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Sequencer(Generic[T]):
    """Releases items in consecutive id order from `next_id` on; holds those after a hole
    until the hole is filled or skipped. Before `start`, everything is held."""

    def __init__(self, max_held: int) -> None:
        if max_held < 1:
            raise ValueError(f"max_held must be at least 1, got {max_held}")
        self.max_held = max_held
        self.next_id: int | None = None
        self._held: dict[int, T] = {}

    @property
    def held(self) -> int:
        """Items waiting for a hole before them."""
        return len(self._held)

    @property
    def first_held(self) -> int | None:
        """The lowest id held, if any."""
        return min(self._held) if self._held else None

    @property
    def hole(self) -> tuple[int, int] | None:
        """(first missing id, first id held after it), when items wait for a hole."""
        if self.next_id is None or not self._held:
            return None
        return self.next_id, min(self._held)

    @property
    def overfull(self) -> bool:
        """Whether more is held than allowed: the caller should skip the hole."""
        return len(self._held) > self.max_held

    def start(self, next_id: int) -> list[tuple[int, T]]:
        """Release from `next_id` on (what is held below it is dropped)."""
        self.next_id = next_id
        self._held = {seq: item for seq, item in self._held.items() if seq >= next_id}
        return self._release()

    def offer(self, seq: int, item: T) -> list[tuple[int, T]]:
        """One item; what can be released now, in order (nothing for a duplicate)."""
        if self.next_id is not None and seq < self.next_id:
            return []
        self._held.setdefault(seq, item)
        return self._release()

    def skip(self) -> tuple[int, list[tuple[int, T]]]:
        """Give up on the hole: (how many ids were skipped, what is released)."""
        first = self.first_held
        if first is None:
            return 0, []
        lost = 0 if self.next_id is None else first - self.next_id
        self.next_id = first
        return lost, self._release()

    def _release(self) -> list[tuple[int, T]]:
        out: list[tuple[int, T]] = []
        if self.next_id is None:
            return out
        seq = self.next_id
        while seq in self._held:
            out.append((seq, self._held.pop(seq)))
            seq += 1
        self.next_id = seq
        return out
