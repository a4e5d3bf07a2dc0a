"""Repeated wrong keys from one address are answered more and more slowly (pure: the caller
passes the time and does the waiting).

Each address's failures are counted with a half-life, so an address that stops failing is
forgiven. The first few failures are answered at once (a mistyped key), then each waits
twice as long as the one before, up to a cap. A success is never delayed and changes
nothing: a listener who has the key never waits, whoever shares its address. Memory is
bounded: beyond `max_addresses` the address that failed longest ago is forgotten, and
addresses whose count has decayed to nothing are dropped as failures come in.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass

FORGOTTEN = 0.05  # a decayed count below this is no failure at all
IPV6_GROUP_PREFIX = 64  # one home or phone gets a /64: its addresses count as one


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How failures turn into delays, and how many addresses are remembered."""

    free_failures: int = 3  # answered at once: typos happen
    first_delay_s: float = 0.5  # the first slowed failure waits this, each next one twice more
    max_delay_s: float = 4.0
    half_life_s: float = 60.0  # a quiet address's failure count halves in this time
    max_addresses: int = 4096  # about 1 MB at most

    def __post_init__(self) -> None:
        for name in ("first_delay_s", "max_delay_s", "half_life_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} = {getattr(self, name)!r} must be above 0")
        if self.free_failures < 0:
            raise ValueError(f"free_failures = {self.free_failures!r} must be 0 or more")
        if self.max_addresses < 1:
            raise ValueError(f"max_addresses = {self.max_addresses!r} must be 1 or more")

    def delay_s(self, count: float) -> float:
        """The wait before answering a failure that brings an address's count to `count`."""
        beyond = count - self.free_failures
        if beyond <= 0:
            return 0.0
        return min(self.max_delay_s, self.first_delay_s * math.exp2(min(beyond - 1.0, 64.0)))


def address_group(address: str) -> str:
    """What failures are counted under: the IPv4 address, or the /64 of an IPv6 one (an
    IPv4-mapped IPv6 address is its IPv4 address; anything unparsable is itself)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, IPV6_GROUP_PREFIX), strict=False))


class FailureBackoff:
    """Failures per address, decaying; `failed` says how long to wait before answering."""

    def __init__(self, policy: BackoffPolicy | None = None) -> None:
        self.policy = policy or BackoffPolicy()
        # group -> (decayed count, when it was last counted), oldest failure first
        self._counts: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.failures = 0  # wrong keys seen
        self.slowed = 0  # of them, answered late

    def count(self, address: str, now: float) -> float:
        """The address's failure count at `now`, decayed (0 for one never seen or forgotten)."""
        return self._decayed(address_group(address), now)

    def failed(self, address: str, now: float) -> float:
        """Count one failure from `address` at `now` (seconds on any steady clock); the
        seconds to wait before answering it."""
        group = address_group(address)
        count = self._decayed(group, now) + 1.0
        self._counts[group] = (count, now)
        self._counts.move_to_end(group)
        self._forget(now)
        self.failures += 1
        delay = self.policy.delay_s(count)
        if delay > 0:
            self.slowed += 1
        return delay

    def tracked(self) -> int:
        """How many addresses (or IPv6 /64s) are remembered."""
        return len(self._counts)

    def counters(self) -> dict[str, int]:
        """What /status and /metrics show."""
        return {"wrong_keys": self.failures, "slowed_wrong_keys": self.slowed}

    def _decayed(self, group: str, now: float) -> float:
        count, at = self._counts.get(group, (0.0, now))
        return count * math.exp2(-max(0.0, now - at) / self.policy.half_life_s)

    def _forget(self, now: float) -> None:
        while len(self._counts) > self.policy.max_addresses:
            self._counts.popitem(last=False)
        while self._counts:
            oldest = next(iter(self._counts))
            if self._decayed(oldest, now) >= FORGOTTEN:
                break
            del self._counts[oldest]
