"""Admission of listeners: a cap in total and per client address (pure bookkeeping)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable


class Admission:
    """Counts admitted listeners; each admission is released exactly once, or all those of
    one owner (a worker process that died) at once."""

    def __init__(self, max_total: int, max_per_address: int) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self._by_address: Counter[str] = Counter()
        self._by_owner: Counter[tuple[Hashable, str]] = Counter()
        self.total = 0
        self.refused = 0

    def admit(self, address: str, owner: Hashable = None) -> str | None:
        """Admit a listener from `address`, served by `owner`; returns why not, or None
        when admitted."""
        if self.total >= self.max_total:
            self.refused += 1
            return f"the broadcaster is full ({self.max_total} listeners)"
        if self._by_address[address] >= self.max_per_address:
            self.refused += 1
            return f"too many listeners from {address} (at most {self.max_per_address})"
        self._by_address[address] += 1
        self._by_owner[owner, address] += 1
        self.total += 1
        return None

    def release(self, address: str, owner: Hashable = None) -> None:
        """A listener from `address`, served by `owner`, has gone."""
        if self._by_owner[owner, address] <= 0:
            del self._by_owner[owner, address]
            raise ValueError(f"no listener from {address} to release")
        self._take((owner, address), 1)

    def release_owner(self, owner: Hashable) -> int:
        """Every listener `owner` served has gone; returns how many."""
        keys = [key for key in self._by_owner if key[0] == owner]
        released = 0
        for key in keys:
            count = self._by_owner[key]
            self._take(key, count)
            released += count
        return released

    def _take(self, key: tuple[Hashable, str], count: int) -> None:
        address = key[1]
        self._by_owner[key] -= count
        if not self._by_owner[key]:
            del self._by_owner[key]
        self._by_address[address] -= count
        if not self._by_address[address]:
            del self._by_address[address]
        self.total -= count

    def from_address(self, address: str) -> int:
        """Listeners admitted from one address."""
        return self._by_address[address]
