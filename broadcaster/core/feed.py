"""The feed between the capture process and its worker processes (pure framing, no I/O).

The capture process ("hub") numbers and frames every packet once; worker processes serve
the listeners. Over one stream socket per worker, each message is a 4-byte big-endian
length, a 1-byte kind and the body. A frame's body is its 8-byte sequence number and its
SSE bytes, exactly what listeners are sent; every other body is a JSON object.

hub → worker: HELLO (epoch, where the frames start, and what STATE says), FRAME, STATE
(the broadcast's state, health and log level: sent only when one of them changes), REPLY
(to a worker's request), CLOSE (shutting down).
worker → hub: REQUEST (start/stop capture, admit a listener, the counters for /status),
RELEASE (a listener left), STATS (the worker's counters and its listeners' reports).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

HEADER = struct.Struct(">IB")
SEQ = struct.Struct(">Q")
MAX_MESSAGE_BYTES = 1 << 20  # far above any frame or snapshot: a bigger one is corruption


class Kind(IntEnum):
    """What a message is."""

    HELLO = 1
    FRAME = 2
    STATE = 3
    REPLY = 4
    CLOSE = 5
    REQUEST = 16
    RELEASE = 17
    STATS = 18


class FeedError(ValueError):
    """The peer sent something that is not a feed message."""


@dataclass(frozen=True, slots=True)
class Message:
    """One feed message: `seq` and `wire` for FRAME, `data` for the JSON kinds."""

    kind: Kind
    data: dict[str, Any] | None = None
    seq: int = 0
    wire: bytes = b""


def encode_frame(seq: int, wire: bytes) -> bytes:
    """A FRAME message."""
    return HEADER.pack(SEQ.size + len(wire), Kind.FRAME) + SEQ.pack(seq) + wire


def encode_json(kind: Kind, data: dict[str, Any]) -> bytes:
    """A message whose body is a JSON object."""
    if kind is Kind.FRAME:
        raise ValueError("frames are encoded with encode_frame")
    body = json.dumps(data, separators=(",", ":")).encode()
    if len(body) > MAX_MESSAGE_BYTES:
        raise ValueError(f"{kind.name} message of {len(body)} bytes is too big")
    return HEADER.pack(len(body), kind) + body


class FeedDecoder:
    """Turns received bytes into messages, however the stream cut them."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        """Add received bytes; return the messages they complete. Raises FeedError."""
        self._buffer += data
        messages: list[Message] = []
        buffer, at = self._buffer, 0
        while len(buffer) - at >= HEADER.size:
            length, raw_kind = HEADER.unpack_from(buffer, at)
            if length > MAX_MESSAGE_BYTES:
                raise FeedError(f"a feed message claims {length} bytes")
            end = at + HEADER.size + length
            if len(buffer) < end:
                break
            messages.append(_parse(raw_kind, bytes(buffer[at + HEADER.size:end])))
            at = end
        del buffer[:at]
        return messages

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete message held back."""
        return len(self._buffer)


def _parse(raw_kind: int, body: bytes) -> Message:
    try:
        kind = Kind(raw_kind)
    except ValueError:
        raise FeedError(f"unknown feed message kind {raw_kind}") from None
    if kind is Kind.FRAME:
        if len(body) < SEQ.size:
            raise FeedError("a frame message without its sequence number")
        return Message(kind, seq=SEQ.unpack_from(body)[0], wire=body[SEQ.size:])
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise FeedError(f"a {kind.name} message is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise FeedError(f"a {kind.name} message is not a JSON object")
    return Message(kind, data=data)
