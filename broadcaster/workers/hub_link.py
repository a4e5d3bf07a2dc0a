"""A worker process's upstream: the hub's feed over the Unix socket (core/feed.py frames
it), and the requests the hub answers, since it owns the capture and the one count of
listeners."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Any

from broadcaster.core.feed import FeedDecoder, FeedError, Kind, Message, encode_json
from broadcaster.core.state import BroadcastState
from broadcaster.core.telemetry import TelemetryStore
from broadcaster.workers.relay import HubGoneError, Relay

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 5.0
STATS_EVERY_S = 1.0


class HubLink:
    """The Unix-socket transport from the hub (an `Upstream` of relay.py)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 telemetry: TelemetryStore) -> None:
        self._reader, self._writer = reader, writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._telemetry = telemetry  # this process's listeners' reports, sent with the stats
        self._relay: Relay | None = None

    async def run(self, relay: Relay) -> None:
        """Read the feed until the hub closes it (or sends garbage)."""
        self._relay = relay
        decoder = FeedDecoder()
        stats = asyncio.create_task(self._send_stats(relay))
        try:
            while data := await self._reader.read(65536):
                for message in decoder.feed(data):
                    self._handle(relay, message)
        except (FeedError, ValueError, KeyError) as exc:
            logger.error("the hub's feed is broken: %s", exc)
        except (ConnectionError, OSError) as exc:
            logger.error("lost the hub's feed: %s", exc)
        finally:
            stats.cancel()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(HubGoneError("the capture process has gone"))

    def _handle(self, relay: Relay, message: Message) -> None:
        data = message.data or {}
        if message.kind is Kind.FRAME:
            relay.frame(message.seq, message.wire)
        elif message.kind is Kind.HELLO:
            relay.begin(int(data["epoch"]), int(data["next_id"]),
                        BroadcastState.parse(data.get("state")))
            relay.announce(data)
        elif message.kind is Kind.STATE:
            relay.announce(data)
        elif message.kind is Kind.REPLY:
            future = self._pending.pop(int(data.get("id", 0)), None)
            if future is not None and not future.done():
                future.set_result(data)
        elif message.kind is Kind.CLOSE:
            relay.end_streams()

    async def _send_stats(self, relay: Relay) -> None:
        while True:
            fanout = relay.fanout
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
        if self._relay is not None and self._relay.ended.is_set():
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

    # -- what the relay asks ----------------------------------------------------------------
    async def control(self, op: str) -> dict[str, Any]:
        """Ask the hub to start or stop capture."""
        return await self._request(op)

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
        status = (await self._request("status")).get("status")
        return dict(status) if isinstance(status, dict) else {}

    async def episodes(self, before: int | None, limit: int) -> dict[str, Any]:
        """A page of sound episodes, asked of the hub."""
        page = (await self._request("episodes", before=before, limit=limit)).get("page")
        return dict(page) if isinstance(page, dict) else {"episodes": [], "next_before": None}
