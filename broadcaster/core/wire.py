"""The event stream: each Opus packet framed once as SSE bytes (see docs/protocol.md)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from broadcaster.core.sse import encode_comment, encode_event

HEARTBEAT = encode_comment("hb")


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def config_event(payload: dict[str, Any], retry_ms: int) -> bytes:
    """The first event of every connection: codec parameters, source and state."""
    return encode_event(_json(payload), event="config", retry_ms=retry_ms)


def state_event(state: str, source: str, reason: str | None = None) -> bytes:
    """Capture started, stopped, went offline (with the reason) or the server shuts down."""
    payload: dict[str, Any] = {"state": state, "source": source}
    if reason is not None:
        payload["reason"] = reason
    return encode_event(_json(payload), event="state")


def gap_event(lost: int | None, next_id: int, reason: str) -> bytes:
    """Frames this listener will never get (None: unknown), the id it gets next, and why:
    `behind` (it fell behind or resumed too late) or `restart` (the server restarted)."""
    return encode_event(_json({"lost": lost, "next_id": next_id, "reason": reason}),
                        event="gap")


def activity_event(change: dict[str, Any]) -> bytes:
    """A sound episode began or ended (core/sound.py's `change_payload`)."""
    return encode_event(_json(change), event="activity")


def audio_event(seq: int, packet: bytes) -> bytes:
    """One Opus packet: `id:` is its sequence number, `data:` the packet in base64."""
    return b"id: %d\ndata: %s\n\n" % (seq, base64.b64encode(packet))


def clock_event(seq: int, capture_ms: float, server_ms: float) -> bytes:
    """When frame `seq` was captured and sent, in Unix wall-clock ms."""
    payload = {"id": seq, "capture_ms": round(capture_ms, 3), "server_ms": round(server_ms, 3)}
    return encode_event(_json(payload), event="clock")


@dataclass(slots=True)
class Packetizer:
    """Numbers encoded packets and frames them; a clock event goes out at least once a second.

    One Packetizer lives as long as the broadcast, so ids keep going across capture restarts.
    """

    frame_ms: float
    next_seq: int = 0
    clock_every_ms: float = 1000.0
    _since_clock_ms: float = float("inf")

    def frame(self, packet: bytes, capture_ms: float, server_ms: float) -> tuple[int, bytes]:
        """Return (sequence number, wire bytes) for the next packet."""
        seq = self.next_seq
        self.next_seq += 1
        wire = audio_event(seq, packet)
        if self._since_clock_ms >= self.clock_every_ms:
            wire = clock_event(seq, capture_ms, server_ms) + wire
            self._since_clock_ms = 0.0
        self._since_clock_ms += self.frame_ms
        return seq, wire

    def resync_clock(self) -> None:
        """Send a clock event with the next frame (after a capture restart, say)."""
        self._since_clock_ms = float("inf")
