"""The capturing process's side of worker processes: what they are sent, and the answers
to what they ask.

With `[server] workers = N`, N worker processes accept the listeners on the one listening
socket (and the https one, when it is on: inherited), each serving them from its own copy
of the ring (pool.py keeps them running). This process keeps the capture, the state and the
one count of admitted listeners. Each frame is framed once here and written once per
worker, whatever the number of listeners. The state goes out when it changes; the counters
only when a worker asks for them (its /status or /metrics).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from broadcaster.core.feed import Kind, Message, encode_frame, encode_json
from broadcaster.core.limits import Admission
from broadcaster.core.state import BroadcastState, CaptureBusyError
from broadcaster.core.telemetry import feed_detail, merge_detail
from broadcaster.ops.tls import TlsSocket
from broadcaster.stream.fanout import Fanout
from broadcaster.web.broadcast import Broadcast
from broadcaster.workers.pool import WorkerLink, WorkerPool

logger = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0  # how often health and the log level are looked at for a change


class Hub:
    """Feeds worker processes from the broadcast's fan-out and serves their requests."""

    def __init__(self, broadcast: Broadcast, fanout: Fanout, sock: socket.socket,
                 web_root: Path, workers: int, tls: TlsSocket | None = None,
                 listener_coming: Callable[[], None] = lambda: None) -> None:
        self.broadcast = broadcast
        self.fanout = fanout
        # A listener was admitted in a worker: frames must flow at once, before the worker's
        # next stats say it listens.
        self._listener_coming = listener_coming
        server = broadcast.config.server
        self.admission = Admission(server.max_listeners, server.max_listeners_per_ip)
        self.pool = WorkerPool(workers, sock, web_root, tls, self._start_link, self._answer,
                               self._forget)
        self._announced: dict[str, Any] = {}

    @property
    def listeners(self) -> int:
        """Listeners the workers last reported."""
        return sum(link.listeners for link in self.pool.links.values())

    # -- what the workers are sent ---------------------------------------------------------
    def _frame(self, seq: int, wire: bytes) -> None:
        self.pool.send_all(encode_frame(seq, wire))

    def _state(self, _: BroadcastState) -> None:
        self._announce()

    def _announcement(self) -> dict[str, Any]:
        """The state, health and log level (a reload changes it here; the workers follow)."""
        return {"state": self.fanout.state.serialize(), "health": list(self.broadcast.health()),
                "log_level": self.broadcast.config.logging.level}

    def _announce(self) -> None:
        """Send the announcement to every worker, if it changed since last sent."""
        announcement = self._announcement()
        if announcement != self._announced:
            self._announced = announcement
            self.pool.send_all(encode_json(Kind.STATE, announcement))

    def _start_link(self, link: WorkerLink) -> None:
        """A new worker: the announcement, where its ring starts, and the ring's backlog so
        that it can resume listeners."""
        ring = self.fanout.ring
        start = ring.oldest_seq
        hello = self._announcement() | {"epoch": ring.first_seq, "next_id": start}
        link.send(encode_json(Kind.HELLO, hello))
        for seq in range(start, ring.next_seq):
            link.send(encode_frame(seq, ring.read(seq, 1).data))

    # -- lifetime -------------------------------------------------------------------------
    async def run(self) -> None:
        """Start the workers and keep them running until `close()`."""
        self.fanout.frame_taps.append(self._frame)
        self.fanout.state_taps.append(self._state)
        checking = asyncio.create_task(self._check())
        try:
            await self.pool.run(lambda: self.broadcast.config)
        finally:
            checking.cancel()
            self.fanout.frame_taps.remove(self._frame)
            self.fanout.state_taps.remove(self._state)

    async def close(self) -> None:
        """Tell the workers to finish, then wait for them (killing laggards)."""
        await self.pool.close(encode_json(Kind.CLOSE, {}))

    async def _check(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            self._announce()

    # -- what the workers ask -------------------------------------------------------------
    async def _answer(self, link: WorkerLink, message: Message) -> None:
        data = message.data or {}
        if message.kind is Kind.STATS:
            link.listeners = int(data.get("listeners", 0))
            link.skips = int(data.get("skips", 0))
            link.direct = int(data.get("direct", 0))
            link.stride = int(data.get("stride", 1))
            link.reports = feed_detail(data.get("reports"))
        elif message.kind is Kind.RELEASE:
            try:
                self.admission.release(str(data.get("address")), owner=link.index)
            except ValueError:
                logger.warning("worker %d released a listener it had not admitted", link.index)
        elif message.kind is Kind.REQUEST:
            reply = {"id": data.get("id")} | await self._request(link, data.get("op"), data)
            link.send(encode_json(Kind.REPLY, reply))

    async def _request(self, link: WorkerLink, op: object,
                       data: dict[str, Any]) -> dict[str, Any]:
        if op == "admit":
            refusal = self.admission.admit(str(data.get("address")), owner=link.index)
            if refusal is None:
                self._listener_coming()
            return {"refusal": refusal}
        if op in ("start", "stop"):
            reply: dict[str, Any] = {}
            try:
                await (self.broadcast.start() if op == "start" else self.broadcast.stop())
            except CaptureBusyError as exc:
                reply["error"] = str(exc)
            return reply | {"state": self.fanout.state.serialize()}
        if op == "status":
            return {"status": await self.status(asked_by=link)}
        if op == "episodes":
            before, limit = data.get("before"), data.get("limit")
            if (before is not None and not isinstance(before, int)) or not isinstance(limit,
                                                                                   int):
                return {"error": "before and limit must be whole numbers"}
            return {"page": await self.broadcast.episodes(before, limit)}
        return {"error": f"unknown request {op!r}"}

    def _forget(self, link: WorkerLink) -> None:
        """A worker has gone: its listeners with it."""
        self.admission.release_owner(link.index)

    async def status(self, asked_by: WorkerLink | None = None) -> dict[str, Any]:
        """The counters every worker's /status shows: this process's, the workers' summed,
        and the listeners' reports of every worker but the one asking (it adds its own)."""
        status = await self.broadcast.status()
        links = sorted(self.pool.links.values(), key=lambda link: link.index)
        status["skips"] += sum(link.skips for link in links)
        status["direct_listeners"] += sum(link.direct for link in links)
        status["workers"] = [{"index": link.index, "pid": link.process.pid,
                              "listeners": link.listeners, "stride": link.stride}
                             for link in links]
        status["worker_restarts"] = self.pool.respawns
        status["refused_listeners"] = self.admission.refused
        status["listeners_detail"] = merge_detail(
            *(link.reports for link in links if link is not asked_by))
        return status
