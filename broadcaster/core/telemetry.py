"""Listener telemetry: the figures each page reports, checked, rate-limited and kept a while.

Pure: the adapters pass the time in (`now_s`, on a monotonic clock) and the client address.
A page POSTs a small JSON report every few seconds (docs/protocol.md, `/audio/telemetry`);
the latest report of each listener is kept for `KEEP_S` and listed in /status.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any

MAX_REPORT_BYTES = 1024
KEEP_S = 30.0  # a listener with no report for this long is forgotten
MIN_INTERVAL_S = 1.0  # the page reports every 5 s; faster than this is refused
ADDRESS_REFILL_S = 2.0  # an address may send max_per_address reports per this on average
MAX_DETAIL = 1000  # entries in /status (and in a worker's STATS message) at most

LISTENER_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/+-]{0,31}")
MAX_AGENT_CHARS = 64

# name -> (kind, lowest, highest, may be null); kinds: "number", "count", "id", "path",
# "agent", "flag" (true or false)
FIELDS: dict[str, tuple[str, float, float, bool]] = {
    "listener": ("id", 0, 0, False),
    "latency_ms": ("number", -1000.0, 60000.0, True),
    "output_ms": ("number", 0.0, 10000.0, True),
    "buffer_ms": ("number", 0.0, 60000.0, False),
    "target_ms": ("number", 0.0, 60000.0, False),
    "drift_ppm": ("number", -10000.0, 10000.0, False),
    "underruns": ("count", 0, 1e9, False),
    "glitches": ("count", 0, 1e9, True),
    "reconnects": ("count", 0, 1e9, False),
    "path": ("path", 0, 0, True),
    "agent": ("agent", 0, 0, False),
    "latency_lower_bound": ("flag", 0, 0, False),
}
# Fields a page may leave out, and what they then are: pages from before the field was
# added send no such field and must still be heard.
OPTIONAL: dict[str, object] = {"latency_lower_bound": False}


class TelemetryError(ValueError):
    """A report that cannot be accepted; answered with 400."""


class RateLimitedError(TelemetryError):
    """Reports come too often from one listener or one address; answered with 429."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _check_value(name: str, value: object) -> None:
    kind, lowest, highest, nullable = FIELDS[name]
    if value is None:
        if not nullable:
            raise TelemetryError(f"{name} must not be null")
        return
    if kind == "flag":
        if not isinstance(value, bool):
            raise TelemetryError(f"{name} must be true or false, got {value!r}")
        return
    if kind in ("number", "count"):
        wanted = "an integer" if kind == "count" else "a number"
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or (kind == "count" and not isinstance(value, int))):
            raise TelemetryError(f"{name} must be {wanted}, got {value!r}")
        if not (math.isfinite(value) and lowest <= value <= highest):
            raise TelemetryError(f"{name} must be from {lowest:g} to {highest:g}, got {value!r}")
        return
    if not isinstance(value, str):
        raise TelemetryError(f"{name} must be a string, got {value!r}")
    if kind == "id" and not LISTENER_ID.fullmatch(value):
        raise TelemetryError(f"{name} must be 8 to 64 letters, digits, '-' or '_', "
                             f"got {value[:70]!r}")
    if kind == "path" and not PATH.fullmatch(value):
        raise TelemetryError(f"{name} must be 1 to 32 letters, digits or ' ._:/+-', "
                             f"got {value[:40]!r}")
    if kind == "agent" and (len(value) > MAX_AGENT_CHARS or not value.isascii()
                            or not value.isprintable()):
        raise TelemetryError(f"{name} must be at most {MAX_AGENT_CHARS} printable ASCII "
                             f"characters, got {value[:70]!r}")


@dataclass(frozen=True, slots=True)
class Report:
    """One listener's figures, as its page measured them (see docs/protocol.md)."""

    listener: str
    latency_ms: float | None
    output_ms: float | None
    buffer_ms: float
    target_ms: float
    drift_ppm: float
    underruns: int
    glitches: int | None
    reconnects: int
    path: str | None
    agent: str
    # latency_ms leaves out the output device's share, which the browser did not give in a
    # way the page could believe (WebKit's clock, Firefox not asked): a lower bound.
    latency_lower_bound: bool = False

    def __post_init__(self) -> None:
        for name in FIELDS:
            _check_value(name, getattr(self, name))

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Report:
        """A report from a decoded JSON object: every field present (but the OPTIONAL ones),
        no other."""
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name, FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TelemetryError(f"unknown field {name[:40]!r}{hint}; the fields are "
                                 + ", ".join(FIELDS))
        missing = [name for name in FIELDS if name not in data and name not in OPTIONAL]
        if missing:
            raise TelemetryError("missing field(s): " + ", ".join(missing))
        return cls(**data)

    @classmethod
    def parse(cls, body: bytes) -> Report:
        """A report from a request body: a JSON object of at most MAX_REPORT_BYTES."""
        if len(body) > MAX_REPORT_BYTES:
            raise TelemetryError(f"a report is at most {MAX_REPORT_BYTES} bytes, "
                                 f"got {len(body)}")
        try:
            data = json.loads(body, parse_constant=_refuse_constant,
                              object_pairs_hook=_refuse_duplicates)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TelemetryError(f"a report must be JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise TelemetryError(f"a report must be a JSON object, got {type(data).__name__}")
        return cls.from_mapping(data)

    def serialize(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return asdict(self)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a field appears twice")
    return data


@dataclass(slots=True)
class _Entry:
    report: Report
    received_s: float


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_s: float


class TelemetryStore:
    """The latest report of each listener, kept for `keep_s`, at most `max_listeners`.

    Each listener may report once every `min_interval_s`; each address `max_per_address`
    times per ADDRESS_REFILL_S on average (a token bucket). When full, a new listener's
    report pushes out the one whose last report is oldest.
    """

    def __init__(self, max_listeners: int, max_per_address: int, keep_s: float = KEEP_S,
                 min_interval_s: float = MIN_INTERVAL_S) -> None:
        self.max_listeners = max_listeners
        self.max_per_address = max_per_address
        self.keep_s = keep_s
        self.min_interval_s = min_interval_s
        self.refused = 0  # reports refused for coming too often
        self._entries: dict[str, _Entry] = {}  # oldest report first
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._entries)

    def accept(self, report: Report, address: str, now_s: float) -> None:
        """Keep `report` as its listener's latest; raises RateLimitedError."""
        self._take_token(address, now_s)
        previous = self._entries.get(report.listener)
        if previous is not None and now_s - previous.received_s < self.min_interval_s:
            self.refused += 1
            wait_s = self.min_interval_s - (now_s - previous.received_s)
            raise RateLimitedError(f"listener {report.listener} reports too often (at most "
                                   f"once every {self.min_interval_s:g} s)", wait_s)
        self._entries.pop(report.listener, None)  # to the end: its report is the newest
        self.expire(now_s)
        while len(self._entries) >= self.max_listeners:
            del self._entries[next(iter(self._entries))]
        self._entries[report.listener] = _Entry(report, now_s)

    def _take_token(self, address: str, now_s: float) -> None:
        capacity = float(self.max_per_address)
        bucket = self._buckets.pop(address, None) or _Bucket(capacity, now_s)
        refill = capacity / ADDRESS_REFILL_S
        bucket.tokens = min(capacity, bucket.tokens + (now_s - bucket.at_s) * refill)
        bucket.at_s = now_s
        self._buckets[address] = bucket
        while len(self._buckets) > self.max_listeners:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1.0:
            self.refused += 1
            raise RateLimitedError(f"too many reports from {address}",
                                   (1.0 - bucket.tokens) / refill)
        bucket.tokens -= 1.0

    def expire(self, now_s: float) -> None:
        """Forget listeners whose last report is older than `keep_s`."""
        entries = self._entries
        while entries:
            listener, entry = next(iter(entries.items()))
            if now_s - entry.received_s <= self.keep_s:
                break
            del entries[listener]

    def detail(self, now_s: float) -> list[dict[str, Any]]:
        """The kept reports for /status, newest first (at most MAX_DETAIL), each with
        `age_s`, the seconds since it came."""
        self.expire(now_s)
        newest = list(self._entries.values())[::-1][:MAX_DETAIL]
        return [entry.report.serialize() | {"age_s": round(now_s - entry.received_s, 1)}
                for entry in newest]


def feed_detail(value: object) -> list[dict[str, Any]]:
    """The reports a worker's STATS message carries (what `detail` made): the dicts only,
    at most MAX_DETAIL."""
    if not isinstance(value, list):
        return []
    return [item for item in value[:MAX_DETAIL] if isinstance(item, dict)]


def merge_detail(*details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several processes' reports as one list, newest first, at most MAX_DETAIL. A listener
    whose reports went to more than one worker process is listed once, with its newest."""
    merged = sorted((item for detail in details for item in detail),
                    key=lambda item: float(item.get("age_s") or 0.0))
    seen: set[object] = set()
    unique = []
    for item in merged:
        listener = item.get("listener")
        if listener not in seen:
            seen.add(listener)
            unique.append(item)
    return unique[:MAX_DETAIL]
