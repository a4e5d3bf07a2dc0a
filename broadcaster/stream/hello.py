"""A listener's stream: the `config` event it starts with and the frames after it, from the
capturing process's fan-out or a worker's copy of it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from broadcaster.config import Config
from broadcaster.core import opus
from broadcaster.core.stride import max_stride
from broadcaster.core.wire import config_event
from broadcaster.stream.fanout import Fanout, Sink, StateView


def hello_payload(config: Config, *, source: str, state: str, epoch: int, next_id: int,
                  live_id: int) -> dict[str, Any]:
    """The `config` event every connection starts with (see docs/protocol.md)."""
    audio = config.audio
    return {
        "codec": "opus",
        "sample_rate_hz": opus.DECODE_RATE_HZ,
        "channels": audio.channels,
        "frame_ms": audio.frame_ms,
        "frame_samples": opus.frame_samples(audio.frame_ms),
        "bitrate_bps": audio.bitrate_bps,
        "application": audio.application,
        "codec_delay_ms": opus.codec_delay_ms(audio.application),
        "source": source,
        "state": state,
        "epoch": epoch,
        "server_ms": round(time.time() * 1000.0, 3),
        "next_id": next_id,
        "live_id": live_id,
        "https_port": config.tls.port or None,
    }


class Broadcaster(StateView, Protocol):
    """What a listener's config event names: the source and the state."""

    @property
    def source_name(self) -> str:
        """The source being broadcast."""

    @property
    def state(self) -> str:
        """The capture state."""


def listen_to(fanout: Fanout, config: Config, broadcast: Broadcaster, last_id: int | None,
              backlog_ms: float, on_end: Callable[[], None] | None,
              sink: Sink | None = None) -> AsyncIterator[bytes]:
    """One listener's stream from `fanout` (the capturing process's or a worker's copy):
    its `config` event, then the frames from after `last_id` when the ring still has it,
    else from `backlog_ms` of fresh audio before the live edge; through `sink` when given."""
    start = fanout.start_seq(last_id, backlog_ms)
    ring = fanout.ring
    payload = hello_payload(config, source=broadcast.source_name, state=broadcast.state,
                            epoch=ring.first_seq, next_id=fanout.next_id(start),
                            live_id=ring.next_seq)
    return fanout.listen(start, config_event(payload, config.server.retry_ms), broadcast,
                         on_end, sink)


def make_fanout(config: Config, first_seq: int, start_seq: int | None = None) -> Fanout:
    """The ring and its listeners as the config sizes them (a worker's copy starts at
    `start_seq`)."""
    frame_ms = config.audio.frame_ms
    return Fanout(max(1, round(config.ring.capacity_s * 1000 / frame_ms)), first_seq,
                  config.server.heartbeat_s, start_seq=start_seq,
                  max_stride=max_stride(frame_ms, config.server.max_bundle_ms),
                  frame_ms=frame_ms)
