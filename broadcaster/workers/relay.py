"""Frames from elsewhere: a process that serves listeners from frames it receives.

A relay stands where the Station stands in the capturing process, so the same app serves
listeners from it: its listeners read its own copy of the ring, filled by an `Upstream`,
the transport the frames come through: the hub's Unix socket in a worker process
(hub_link.py), the engine between machines on an edge (edge.py). Capture control,
admission and the counters are asked of the upstream, which answers them as it can.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from broadcaster.config import LOG_LEVELS, Config
from broadcaster.core.state import STARTING, BroadcastState, CaptureBusyError
from broadcaster.core.wire import gap_event
from broadcaster.stream.fanout import Fanout, Sink
from broadcaster.stream.hello import open_stream

logger = logging.getLogger(__name__)


def follow_log_level(level: object) -> None:
    """Take the capture process's log level (a reload may have changed it)."""
    if not isinstance(level, str) or level not in LOG_LEVELS:
        return
    root = logging.getLogger()
    if root.level != logging.getLevelName(level.upper()):
        root.setLevel(level.upper())
        logger.info("log level now %s", level)


class HubGoneError(RuntimeError):
    """Where the frames come from did not answer: the capture process is gone or stuck."""


class Upstream(Protocol):
    """The transport a relay is fed through, and who answers what the app asks."""

    async def run(self, relay: Relay) -> None:
        """Feed `relay` (its `begin`, `frame`, `announce`) until the feed ends for good."""

    async def control(self, op: str) -> dict[str, Any]:
        """Start or stop capture: the reply (`state`, `error`); raises HubGoneError."""

    async def admit(self, address: str) -> str | None:
        """Whether one more listener from `address` may listen: why not, or None."""

    def release(self, address: str) -> None:
        """A listener admitted by `admit` has gone."""

    def counters(self) -> dict[str, Any]:
        """What /status shows of the admission here (none where `status` has them)."""

    async def status(self) -> dict[str, Any]:
        """The counters for /status; raises HubGoneError."""

    async def episodes(self, before: int | None, limit: int) -> dict[str, Any]:
        """A page of sound episodes; raises HubGoneError."""


class Relay:
    """Serves listeners from the frames its upstream delivers; `run()` lasts as long as
    the feed. It is the app's Broadcast and Admitter (web/broadcast.py)."""

    def __init__(self, config: Config, upstream: Upstream) -> None:
        self.config = config
        self.upstream = upstream
        self.fanout: Fanout | None = None  # from the first `begin` on
        self._health: tuple[bool, str] = (False, "no word from the capture process yet")
        self.hello = asyncio.Event()
        self._fanning: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()
        self.holes = 0  # frames the feed never delivered (listeners were told: a gap)

    @property
    def state(self) -> BroadcastState:
        """The state last announced."""
        return STARTING if self.fanout is None else self.fanout.state

    # -- what the upstream delivers -------------------------------------------------------
    async def run(self) -> None:
        """Let the upstream feed this relay until it ends, then end all streams."""
        try:
            await self.upstream.run(self)
        finally:
            if self._fanning is not None:
                self._fanning.cancel()
            self.end_streams()

    def begin(self, epoch: int, next_id: int, state: BroadcastState | None = None) -> None:
        """Frames of the stream that began at `epoch` follow, from `next_id`. A new epoch
        (the capture process restarted) ends the old stream's listeners: they come back
        with their last id and are told of the restart (a `gap`)."""
        old = self.fanout
        if old is not None:
            if old.ring.first_seq == epoch:
                return
            old.close(BroadcastState("shutdown", old.state.source))
            if self._fanning is not None:
                self._fanning.cancel()
        fanout = Fanout.for_config(self.config, epoch, start_seq=next_id,
                                   state=state or (old.state if old else STARTING))
        self.fanout = fanout
        self._fanning = asyncio.create_task(fanout.run())
        self.hello.set()

    def frame(self, seq: int, wire: bytes) -> None:
        """One framed frame. One already held is ignored; one past a hole the upstream
        could not fill tells listeners what they lost with it."""
        fanout = self.fanout
        if fanout is None or self.ended.is_set():
            return
        ring = fanout.ring
        expected = ring.next_seq
        if seq < expected:
            return
        if seq > expected:
            lost = seq - expected
            self.holes += lost
            fanout.skip_to(seq)
            wire = gap_event(lost, seq, "behind") + wire
        fanout.publish(seq, wire)

    def announce(self, data: dict[str, Any]) -> None:
        """The state, health and log level as the capture process announced them."""
        follow_log_level(data.get("log_level"))
        health = data.get("health")
        if isinstance(health, list) and len(health) == 2:
            self._health = (bool(health[0]), str(health[1]))
        state = BroadcastState.parse(data.get("state"))
        if state.state == "shutdown":
            self.end_streams(state)
        elif self.fanout is not None and not self.ended.is_set():
            self.fanout.set_state(state)

    def set_health(self, ok: bool, reason: str) -> None:
        """What /healthz says (an upstream that judges it itself)."""
        self._health = (ok, reason)

    def end_streams(self, final: BroadcastState | None = None) -> None:
        """End every listener's stream with a final `shutdown` state (idempotent)."""
        if self.ended.is_set():
            return
        self.ended.set()
        if self.fanout is not None:
            self.fanout.close(final or BroadcastState("shutdown", self.fanout.state.source))

    # -- what the app asks ----------------------------------------------------------------
    async def start(self) -> None:
        """Ask upstream to start capture."""
        await self._control("start")

    async def stop(self) -> None:
        """Ask upstream to stop capture."""
        await self._control("stop")

    async def _control(self, op: str) -> None:
        if self.ended.is_set():
            raise CaptureBusyError("the broadcaster is shutting down")
        try:
            reply = await self.upstream.control(op)
        except HubGoneError as exc:
            raise CaptureBusyError(str(exc)) from exc
        if self.fanout is not None and "state" in reply:
            self.fanout.set_state(BroadcastState.parse(reply["state"]))
        if reply.get("error"):
            raise CaptureBusyError(str(reply["error"]))

    async def admit(self, address: str) -> str | None:
        """Whether one more listener from `address` may listen."""
        if self.ended.is_set():
            return "the broadcaster is shutting down"
        return await self.upstream.admit(address)

    def release(self, address: str) -> None:
        """A listener admitted by `admit` has gone."""
        self.upstream.release(address)

    def counters(self) -> dict[str, Any]:
        """The upstream's admission counters, where it keeps them."""
        return self.upstream.counters()

    async def status(self) -> dict[str, Any]:
        """The counters, as the upstream gives them."""
        try:
            return await self.upstream.status()
        except HubGoneError as exc:
            state = self.state
            return {"state": state.state, "source": state.source, "error": str(exc)}

    async def episodes(self, before: int | None, limit: int) -> dict[str, Any]:
        """A page of sound episodes, asked of the upstream."""
        try:
            return await self.upstream.episodes(before, limit)
        except HubGoneError as exc:
            return {"episodes": [], "next_before": None, "error": str(exc)}

    def ring_span(self) -> tuple[int, int, int]:
        """See web/broadcast.py."""
        if self.fanout is None:
            return 0, 0, 0
        ring = self.fanout.ring
        return ring.first_seq, ring.oldest_seq, ring.next_seq

    def health(self) -> tuple[bool, str]:
        """The health as last announced."""
        if self.ended.is_set():
            return False, "the capture process is not reachable"
        return self._health

    def listen(self, last_id: int | None, on_end: Callable[[], None] | None = None,
               backlog_ms: float = 0.0, sink: Sink | None = None,
               bundle_ms: float = 0.0) -> AsyncIterator[bytes]:
        """One listener's stream from this process's copy of the ring."""
        if self.fanout is None:
            raise HubGoneError("no feed from the capture process yet")
        return open_stream(self.fanout, self.config, last_id, backlog_ms, on_end, sink,
                           bundle_ms)
