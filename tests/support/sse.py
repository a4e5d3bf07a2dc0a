"""An incremental Server-Sent Events parser, the receiving side of broadcaster.core.sse:
the tests' and the benchmarks' clients decode the stream with it, as an EventSource would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field


def id_jumps(ids: list[int]) -> list[tuple[int, int]]:
    """Each pair of neighbouring event ids that is not a step of one: a loss, a repeat or
    a reorder (none in a gapless stream)."""
    return [(a, b) for a, b in itertools.pairwise(ids) if b != a + 1]


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event, as an EventSource would see it."""

    data: str
    event: str = "message"
    id: str | None = None  # the last event id in force when this event was dispatched
    retry_ms: int | None = None


@dataclass(slots=True)
class SSEDecoder:
    """Incremental SSE parser following the WHATWG rules: `feed()` bytes, get events."""

    _buffer: bytes = b""
    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _last_id: str | None = None
    _retry_ms: int | None = None
    comments: int = 0

    def feed(self, chunk: bytes) -> list[Event]:
        """Parse a chunk; returns the events it completed."""
        self._buffer += chunk
        events: list[Event] = []
        while True:
            cut = self._next_line_end()
            if cut is None:
                return events
            end, skip = cut
            line = self._buffer[:end].decode("utf-8", errors="replace")
            self._buffer = self._buffer[end + skip:]
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _next_line_end(self) -> tuple[int, int] | None:
        buf = self._buffer
        lf, cr = buf.find(b"\n"), buf.find(b"\r")
        if cr == -1 or (lf != -1 and lf < cr):
            return None if lf == -1 else (lf, 1)
        if cr + 1 == len(buf):
            return None  # wait: this CR may be the start of a CRLF
        return cr, 2 if buf[cr + 1] == 0x0A else 1

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isdigit():
            self._retry_ms = int(value)
        return None

    def _dispatch(self) -> Event | None:
        data, event, self._data, self._event = self._data, self._event, [], ""
        if not data:
            return None
        return Event("\n".join(data), event or "message", self._last_id, self._retry_ms)
