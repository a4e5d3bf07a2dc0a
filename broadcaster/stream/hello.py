"""A new connection: the `config` event it starts with, and where in the ring it starts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from broadcaster.config import Config
from broadcaster.core import opus
from broadcaster.core.state import BroadcastState
from broadcaster.core.wire import config_event
from broadcaster.stream.fanout import Fanout, Sink


def hello_payload(config: Config, state: BroadcastState, *, epoch: int, next_id: int,
                  live_id: int, server_ms: float) -> dict[str, Any]:
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
        "source": state.source,
        "state": state.state,
        "epoch": epoch,
        "server_ms": round(server_ms, 3),
        "next_id": next_id,
        "live_id": live_id,
        "https_port": config.tls.port or None,
    }


def open_stream(fanout: Fanout, config: Config, last_id: int | None, backlog_ms: float,
                on_end: Callable[[], None] | None, sink: Sink | None = None,
                bundle_ms: float = 0.0) -> AsyncIterator[bytes]:
    """One listener's stream from `fanout` (the capturing process's, or a copy of it): its
    `config` event, then the frames from after `last_id` when the ring still has it, else
    from `backlog_ms` of fresh audio before the live edge; through `sink` when given; in
    bundles of about `bundle_ms` when asked (bundles.py)."""
    start = fanout.start_seq(last_id, backlog_ms)
    ring = fanout.ring
    payload = hello_payload(config, fanout.state, epoch=ring.first_seq,
                            next_id=fanout.next_id(start), live_id=ring.next_seq,
                            server_ms=time.time() * 1000.0)
    period = max(1, round(bundle_ms / config.audio.frame_ms))
    payload["bundle_ms"] = period * config.audio.frame_ms if period > 1 else 0
    return fanout.listen(start, config_event(payload, config.server.retry_ms), on_end, sink,
                         period)
