"""Server-Sent Events framing: the bytes the server sends, pure. (The parsing side, which
only clients need, lives with the tests: tests/support/sse.py.)"""

from __future__ import annotations


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
