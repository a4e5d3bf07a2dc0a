"""A worker process's view of the broadcast: frames and state from the hub's feed.

It stands where the Station stands in a single process, so the same app serves listeners
from it: listeners read this process's copy of the ring; capture control, admission and
the counters are asked of the hub, which owns the capture and the one count of listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from broadcaster.config import LOG_LEVELS, Config
from broadcaster.core.feed import FeedDecoder, FeedError, Kind, Message, encode_json
from broadcaster.core.state import STARTING, BroadcastState, CaptureBusyError
from broadcaster.core.telemetry import TelemetryStore
from broadcaster.stream.fanout import Fanout, Sink
from broadcaster.stream.hello import open_stream

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
STATS_EVERY_S = 1.0


def follow_log_level(level: object) -> None:
    """Take the capture process's log level (a reload may have changed it)."""
    if not isinstance(level, str) or level not in LOG_LEVELS:
        return
    root = logging.getLogger()
    if root.level != logging.getLevelName(level.upper()):
        root.setLevel(level.upper())
        logger.info("log level now %s", level)


class HubGoneError(RuntimeError):
    """The hub did not answer: the capture process is gone or stuck."""


class Relay:
    """Serves listeners from the hub's feed; `run()` reads the feed until it ends. It is
    the app's Broadcast and Admitter (web/broadcast.py) in a worker process."""

    def __init__(self, config: Config, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, telemetry: TelemetryStore) -> None:
        self.config = config
        self._reader, self._writer = reader, writer
        self.fanout: Fanout | None = None  # from the hub's HELLO on
        self._health: tuple[bool, str] = (False, "no word from the capture process yet")
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.hello = asyncio.Event()
        self._fanning: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()
        self._telemetry = telemetry  # this process's listeners' reports, sent with the stats

    @property
    def state(self) -> BroadcastState:
        """The state the hub last announced."""
        return STARTING if self.fanout is None else self.fanout.state

    # -- the feed -----------------------------------------------------------------------
    async def run(self) -> None:
        """Read the feed until the hub closes it (or sends garbage), then end all streams."""
        decoder = FeedDecoder()
        stats = asyncio.create_task(self._send_stats())
        try:
            while data := await self._reader.read(65536):
                for message in decoder.feed(data):
                    self._handle(message)
        except (FeedError, ValueError, KeyError) as exc:
            logger.error("the hub's feed is broken: %s", exc)
        except (ConnectionError, OSError) as exc:
            logger.error("lost the hub's feed: %s", exc)
        finally:
            stats.cancel()
            if self._fanning is not None:
                self._fanning.cancel()
            self.end_streams()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(HubGoneError("the capture process has gone"))

    def _handle(self, message: Message) -> None:
        data = message.data or {}
        if message.kind is Kind.FRAME:
            if self.fanout is not None:
                self.fanout.publish(message.seq, message.wire)
        elif message.kind is Kind.HELLO:
            self.fanout = Fanout.for_config(self.config, int(data["epoch"]),
                                            start_seq=int(data["next_id"]))
            self._fanning = asyncio.create_task(self.fanout.run())
            self._announced(data)
            self.hello.set()
        elif message.kind is Kind.STATE:
            self._announced(data)
        elif message.kind is Kind.REPLY:
            future = self._pending.pop(int(data.get("id", 0)), None)
            if future is not None and not future.done():
                future.set_result(data)
        elif message.kind is Kind.CLOSE:
            self.end_streams()

    def _announced(self, data: dict[str, Any]) -> None:
        follow_log_level(data.get("log_level"))
        health = data.get("health")
        if isinstance(health, list) and len(health) == 2:
            self._health = (bool(health[0]), str(health[1]))
        state = BroadcastState.parse(data.get("state"))
        if state.state == "shutdown":
            self.end_streams(state)
        elif self.fanout is not None and not self.ended.is_set():
            self.fanout.set_state(state)

    def end_streams(self, final: BroadcastState | None = None) -> None:
        """End every listener's stream with a final `shutdown` state (idempotent)."""
        if self.ended.is_set():
            return
        self.ended.set()
        if self.fanout is not None:
            self.fanout.close(final or BroadcastState("shutdown", self.fanout.state.source))

    async def _send_stats(self) -> None:
        while True:
            fanout = self.fanout
            if fanout is not None:
                self._send(Kind.STATS, {"listeners": fanout.listeners, "skips": fanout.skips,
                                        "direct": fanout.direct_listeners,
                                        "stride": fanout.stride,
                                        "reports": self._telemetry.detail(time.monotonic())})
            await asyncio.sleep(STATS_EVERY_S)

    def _send(self, kind: Kind, data: dict[str, Any]) -> None:
        if not self._writer.is_closing():
            self._writer.write(encode_json(kind, data))

    async def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        if self.ended.is_set():
            raise HubGoneError("the broadcaster is shutting down")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._send(Kind.REQUEST, {"id": request_id, "op": op, **fields})
        try:
            return await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
        except TimeoutError:
            raise HubGoneError(f"the capture process did not answer {op!r} within "
                               f"{REQUEST_TIMEOUT_S:g} s") from None
        finally:
            self._pending.pop(request_id, None)

    # -- what the app asks ----------------------------------------------------------------
    async def start(self) -> None:
        """Ask the hub to start capture."""
        await self._control("start")

    async def stop(self) -> None:
        """Ask the hub to stop capture."""
        await self._control("stop")

    async def _control(self, op: str) -> None:
        try:
            reply = await self._request(op)
        except HubGoneError as exc:
            raise CaptureBusyError(str(exc)) from exc
        if self.fanout is not None and "state" in reply:
            self.fanout.set_state(BroadcastState.parse(reply["state"]))
        if reply.get("error"):
            raise CaptureBusyError(str(reply["error"]))

    async def admit(self, address: str) -> str | None:
        """Whether one more listener from `address` may listen (the hub counts them all)."""
        try:
            reply = await self._request("admit", address=address)
        except HubGoneError as exc:
            return str(exc)
        refusal = reply.get("refusal")
        return None if refusal is None else str(refusal)

    def release(self, address: str) -> None:
        """A listener admitted by `admit` has gone."""
        with contextlib.suppress(ConnectionError, OSError):
            self._send(Kind.RELEASE, {"address": address})

    def counters(self) -> dict[str, Any]:
        """Nothing: the hub's status has the admission counters."""
        return {}

    async def status(self) -> dict[str, Any]:
        """The hub's counters (every worker's listeners included), asked now."""
        try:
            reply = await self._request("status")
        except HubGoneError as exc:
            state = self.state
            return {"state": state.state, "source": state.source, "error": str(exc)}
        status = reply.get("status")
        return dict(status) if isinstance(status, dict) else {}

    async def episodes(self, before: int | None, limit: int) -> dict[str, Any]:
        """A page of sound episodes, asked of the hub."""
        try:
            reply = await self._request("episodes", before=before, limit=limit)
        except HubGoneError as exc:
            return {"episodes": [], "next_before": None, "error": str(exc)}
        page = reply.get("page")
        return dict(page) if isinstance(page, dict) else {"episodes": [], "next_before": None}

    def ring_span(self) -> tuple[int, int, int]:
        """See web/broadcast.py."""
        if self.fanout is None:
            return 0, 0, 0
        ring = self.fanout.ring
        return ring.first_seq, ring.oldest_seq, ring.next_seq

    def health(self) -> tuple[bool, str]:
        """The hub's health as last announced."""
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
