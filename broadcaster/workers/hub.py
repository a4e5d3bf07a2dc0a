"""The capture process's side of worker processes: spawn them, feed them, answer them.

With `[server] workers = N`, N worker processes accept the listeners on the one listening
socket (and the https one, when it is on: inherited), each serving them from its own copy
of the ring; this process keeps the capture, the encoder, the state and the one count of
admitted listeners. Each frame is framed once here and written once per worker, whatever
the number of listeners.
A worker that dies, or stops reading its feed, is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from broadcaster.core.feed import FeedDecoder, FeedError, Kind, Message, encode_frame, encode_json
from broadcaster.core.telemetry import feed_detail, merge_detail
from broadcaster.ops.tls import TlsSocket
from broadcaster.station import CaptureBusyError, Station

logger = logging.getLogger(__name__)

MAX_FEED_BACKLOG_BYTES = 4 * 1024 * 1024  # tens of seconds of frames: the worker is stuck
SNAPSHOT_EVERY_S = 1.0
RESPAWN_DELAY_S = 1.0
EXIT_WAIT_S = 2.5


class WorkerLink:
    """One worker process as the hub sees it: its feed and what it reported."""

    def __init__(self, index: int, process: asyncio.subprocess.Process,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.index = index
        self.process = process
        self.reader, self.writer = reader, writer
        self.listeners = 0
        self.skips = 0
        self.direct = 0  # of its listeners, those written to directly (direct.py)
        self.stride = 1  # frames per write it uses (see stride.py)
        self.reports: list[dict[str, Any]] = []  # its listeners' latest telemetry
        self.admitted: Counter[str] = Counter()

    def send(self, message: bytes) -> None:
        """Queue a message; a worker that has stopped reading is killed (then replaced)."""
        if self.writer.is_closing():
            return
        if self.writer.transport.get_write_buffer_size() > MAX_FEED_BACKLOG_BYTES:
            logger.error("worker %d is not reading its feed: restarting it", self.index)
            self.kill()
            return
        self.writer.write(message)

    def kill(self) -> None:
        """Kill the process and drop the feed."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.writer.close()


class Hub:
    """Feeds worker processes from the station (a Tap of it) and serves their requests."""

    def __init__(self, station: Station, sock: socket.socket, web_root: Path,
                 workers: int, tls: TlsSocket | None = None) -> None:
        self.station = station
        self._sock = sock
        self._tls = tls
        self._web_root = web_root
        self._count = workers
        self._links: dict[int, WorkerLink] = {}
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.respawns = 0

    # -- the Tap the station calls ------------------------------------------------------
    @property
    def listeners(self) -> int:
        """Listeners the workers last reported."""
        return sum(link.listeners for link in self._links.values())

    def frame(self, seq: int, wire: bytes) -> None:
        """Send a frame to every worker (framed once)."""
        message = encode_frame(seq, wire)
        for link in list(self._links.values()):
            link.send(message)

    def state_changed(self) -> None:
        """Send the new state to every worker."""
        message = encode_json(Kind.STATE, self.snapshot())
        for link in list(self._links.values()):
            link.send(message)

    # -- lifetime -------------------------------------------------------------------------
    async def run(self) -> None:
        """Start the workers and keep them running until `close()`."""
        self._sock.listen(1024)  # connections queue while the workers start
        if self._tls is not None:
            self._tls.sock.listen(1024)
        self.station.taps.append(self)
        try:
            await asyncio.gather(*(self._keep(index) for index in range(self._count)),
                                 self._snapshots())
        finally:
            with contextlib.suppress(ValueError):
                self.station.taps.remove(self)

    async def close(self) -> None:
        """Tell the workers to finish, then wait for them (killing laggards)."""
        self._closing = True
        for link in list(self._links.values()):
            link.send(encode_json(Kind.CLOSE, {}))
        waits = [link.process.wait() for link in self._links.values()]
        if waits:
            _, pending = await asyncio.wait([asyncio.ensure_future(w) for w in waits],
                                            timeout=EXIT_WAIT_S)
            if pending:
                logger.warning("%d worker(s) did not exit in %g s: killed", len(pending),
                               EXIT_WAIT_S)
                for link in list(self._links.values()):
                    if link.process.returncode is None:
                        link.kill()
                await asyncio.wait(pending)

    async def _keep(self, index: int) -> None:
        """Run worker `index`, and again whenever it dies, until closing."""
        while not self._closing:
            try:
                link = await self._spawn(index)
            except OSError as exc:
                logger.error("cannot start worker %d: %s", index, exc)
                await asyncio.sleep(RESPAWN_DELAY_S)
                continue
            self._links[index] = link
            try:
                await self._serve(link)
                code = await link.process.wait()
            finally:
                del self._links[index]
                self._forget(link)
            if self._closing:
                return
            logger.error("worker %d exited (%s): starting it again", index, _describe(code))
            self.respawns += 1
            await asyncio.sleep(RESPAWN_DELAY_S)

    async def _spawn(self, index: int) -> WorkerLink:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = self.station.config
        with theirs:
            fds = [self._sock.fileno(), theirs.fileno()]
            args = ["--index", str(index), "--listen-fd", str(fds[0]), "--feed-fd", str(fds[1]),
                    "--web-root", str(self._web_root)]
            if self._tls is not None:
                fds.append(self._tls.sock.fileno())
                args += ["--tls-fd", str(fds[-1])]
                # the files actually served, self-signed ones included
                files = self._tls.files
                config = dataclasses.replace(config, tls=dataclasses.replace(
                    config.tls, cert_file=str(files.cert_file), key_file=str(files.key_file)))
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "broadcaster.workers.worker", *args,
                stdin=asyncio.subprocess.PIPE, pass_fds=fds)
        assert process.stdin is not None
        process.stdin.write(json.dumps(dataclasses.asdict(config)).encode())
        process.stdin.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        link = WorkerLink(index, process, reader, writer)
        ring = self.station.fanout.ring
        start = ring.oldest_seq
        hello = self.snapshot() | {"epoch": ring.first_seq, "next_id": start}
        link.send(encode_json(Kind.HELLO, hello))
        for seq in range(start, ring.next_seq):  # the backlog, so a new worker can resume
            link.send(encode_frame(seq, ring.read(seq, 1).data))
        logger.debug("worker %d started (pid %d)", index, process.pid)
        return link

    async def _serve(self, link: WorkerLink) -> None:
        """Answer the worker's requests until its feed closes."""
        decoder = FeedDecoder()
        try:
            while data := await link.reader.read(65536):
                for message in decoder.feed(data):
                    self._spawn_task(self._answer(link, message))
        except FeedError as exc:
            logger.error("worker %d sent garbage (%s): restarting it", link.index, exc)
            link.kill()
        except (ConnectionError, OSError):
            link.kill()

    def _spawn_task(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, link: WorkerLink, message: Message) -> None:
        data = message.data or {}
        if message.kind is Kind.STATS:
            link.listeners = int(data.get("listeners", 0))
            link.skips = int(data.get("skips", 0))
            link.direct = int(data.get("direct", 0))
            link.stride = int(data.get("stride", 1))
            link.reports = feed_detail(data.get("reports"))
        elif message.kind is Kind.RELEASE:
            address = str(data.get("address"))
            if link.admitted[address] > 0:
                link.admitted[address] -= 1
                self.station.release(address)
        elif message.kind is Kind.REQUEST:
            reply: dict[str, Any] = {"id": data.get("id")}
            op = data.get("op")
            if op == "admit":
                address = str(data.get("address"))
                refusal = await self.station.admit(address)
                if refusal is None:
                    link.admitted[address] += 1
                reply["refusal"] = refusal
            elif op in ("start", "stop"):
                try:
                    await (self.station.start() if op == "start" else self.station.stop())
                except CaptureBusyError as exc:
                    reply["error"] = str(exc)
                reply |= self.snapshot()
            else:
                reply["error"] = f"unknown request {op!r}"
            link.send(encode_json(Kind.REPLY, reply))

    def _forget(self, link: WorkerLink) -> None:
        """A worker has gone: its listeners with it."""
        for address, count in link.admitted.items():
            for _ in range(count):
                self.station.release(address)
        link.admitted.clear()
        link.writer.close()

    async def _snapshots(self) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            self.state_changed()

    # -- what the workers are told ------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        status = self.station.status()
        # The log level too: a reload (SIGHUP) changes it here, and the workers follow.
        return {"state": status["state"], "source": status["source"],
                "reason": status["offline_reason"],
                "log_level": self.station.config.logging.level}

    def snapshot(self) -> dict[str, Any]:
        """The state and the counters every worker's /status and /healthz show."""
        status = self.station.status()
        links = sorted(self._links.values(), key=lambda link: link.index)
        status["skips"] += sum(link.skips for link in links)
        status["direct_listeners"] += sum(link.direct for link in links)
        status["workers"] = [{"index": link.index, "pid": link.process.pid,
                              "listeners": link.listeners, "stride": link.stride}
                             for link in links]
        status["worker_restarts"] = self.respawns
        status["listeners_detail"] = merge_detail(status["listeners_detail"],
                                                  *(link.reports for link in links))
        status["health"] = list(self.station.health())
        return self._state() | {"status": status}


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
