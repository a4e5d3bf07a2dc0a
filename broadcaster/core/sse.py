"""Server-Sent Events framing (encode) and an incremental parser (decode), both pure."""

from __future__ import annotations

from dataclasses import dataclass, field


class SSEError(ValueError):
    """A field value that cannot be framed as an event."""


def _field_value(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise SSEError(f"SSE {name} must not contain a line break: {value!r}")
    return value


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: int | str | None = None,
    retry_ms: int | None = None,
) -> bytes:
    """Frame one event; multi-line data becomes several `data:` lines."""
    parts: list[str] = []
    if retry_ms is not None:
        if retry_ms < 0:
            raise SSEError(f"SSE retry must be >= 0 ms, got {retry_ms}")
        parts.append(f"retry: {retry_ms}\n")
    if event is not None:
        parts.append(f"event: {_field_value('event', event)}\n")
    if id is not None:
        text = _field_value("id", str(id))
        if "\0" in text:
            raise SSEError(f"SSE id must not contain NUL: {text!r}")
        parts.append(f"id: {text}\n")
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        parts.append(f"data: {line}\n")
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def encode_comment(text: str) -> bytes:
    """Frame a comment line (ignored by clients; used as a heartbeat)."""
    return f": {_field_value('comment', text)}\n\n".encode()


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
