"""Admission of listeners: a cap in total and per client address (pure bookkeeping)."""

from __future__ import annotations

from collections import Counter


class Admission:
    """Counts admitted listeners; each admission is released exactly once."""

    def __init__(self, max_total: int, max_per_address: int) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self._by_address: Counter[str] = Counter()
        self.total = 0
        self.refused = 0

    def admit(self, address: str) -> str | None:
        """Admit a listener from `address`; returns why not, or None when admitted."""
        if self.total >= self.max_total:
            self.refused += 1
            return f"the broadcaster is full ({self.max_total} listeners)"
        if self._by_address[address] >= self.max_per_address:
            self.refused += 1
            return f"too many listeners from {address} (at most {self.max_per_address})"
        self._by_address[address] += 1
        self.total += 1
        return None

    def release(self, address: str) -> None:
        """A listener from `address` has gone."""
        if self._by_address[address] <= 0:
            raise ValueError(f"no listener from {address} to release")
        self._by_address[address] -= 1
        if not self._by_address[address]:
            del self._by_address[address]
        self.total -= 1

    def from_address(self, address: str) -> int:
        """Listeners admitted from one address."""
        return self._by_address[address]
