"""Worker processes kept running: spawned with the listening sockets and a feed each,
replaced when they die or stop reading their feed."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from broadcaster.config import Config
from broadcaster.core.feed import FeedDecoder, FeedError, Message
from broadcaster.ops.tls import TlsSocket

logger = logging.getLogger(__name__)

MAX_FEED_BACKLOG_BYTES = 4 * 1024 * 1024  # tens of seconds of frames: the worker is stuck
RESPAWN_DELAY_S = 1.0
EXIT_WAIT_S = 2.5


class WorkerLink:
    """One worker process as the capturing process sees it: its feed and what it reported."""

    def __init__(self, index: int, process: asyncio.subprocess.Process,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.index = index
        self.process = process
        self.reader, self.writer = reader, writer
        self.listeners = 0
        self.skips = 0
        self.direct = 0  # of its listeners, those written to directly
        self.stride = 1  # frames per write it uses (see stride.py)
        self.reports: list[dict[str, Any]] = []  # its listeners' latest telemetry

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


OnStart = Callable[[WorkerLink], None]  # a new worker: send it what it needs first
OnMessage = Callable[[WorkerLink, Message], Awaitable[None]]
OnGone = Callable[[WorkerLink], None]  # a worker has gone, with its listeners


class WorkerPool:
    """Keeps `count` worker processes (`python -m broadcaster.workers.worker`) running on
    the inherited listening sockets; each message a worker sends is handled in a task."""

    def __init__(self, count: int, sock: socket.socket, web_root: Path,
                 tls: TlsSocket | None, on_start: OnStart, on_message: OnMessage,
                 on_gone: OnGone) -> None:
        self._count = count
        self._sock, self._tls, self._web_root = sock, tls, web_root
        self._on_start, self._on_message, self._on_gone = on_start, on_message, on_gone
        self.links: dict[int, WorkerLink] = {}
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.respawns = 0

    def send_all(self, message: bytes) -> None:
        """Send one message to every worker."""
        for link in list(self.links.values()):
            link.send(message)

    async def run(self, config: Callable[[], Config]) -> None:
        """Start the workers (each given `config()` as it is then) and keep them running
        until `close()`."""
        self._sock.listen(1024)  # connections queue while the workers start
        if self._tls is not None:
            self._tls.sock.listen(1024)
        await asyncio.gather(*(self._keep(index, config) for index in range(self._count)))

    async def close(self, farewell: bytes) -> None:
        """Send `farewell` to every worker, then wait for them (killing laggards)."""
        self._closing = True
        self.send_all(farewell)
        waits = [asyncio.ensure_future(link.process.wait()) for link in self.links.values()]
        if not waits:
            return
        _, pending = await asyncio.wait(waits, timeout=EXIT_WAIT_S)
        if pending:
            logger.warning("%d worker(s) did not exit in %g s: killed", len(pending),
                           EXIT_WAIT_S)
            for link in list(self.links.values()):
                if link.process.returncode is None:
                    link.kill()
            await asyncio.wait(pending)

    async def _keep(self, index: int, config: Callable[[], Config]) -> None:
        """Run worker `index`, and again whenever it dies, until closing."""
        while not self._closing:
            try:
                link = await self._spawn(index, config())
            except OSError as exc:
                logger.error("cannot start worker %d: %s", index, exc)
                await asyncio.sleep(RESPAWN_DELAY_S)
                continue
            self.links[index] = link
            try:
                self._on_start(link)
                await self._read(link)
                code = await link.process.wait()
            finally:
                del self.links[index]
                self._on_gone(link)
                link.writer.close()
            if self._closing:
                return
            logger.error("worker %d exited (%s): starting it again", index, _describe(code))
            self.respawns += 1
            await asyncio.sleep(RESPAWN_DELAY_S)

    async def _spawn(self, index: int, config: Config) -> WorkerLink:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
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
        logger.debug("worker %d started (pid %d)", index, process.pid)
        return WorkerLink(index, process, reader, writer)

    async def _read(self, link: WorkerLink) -> None:
        """Hand the worker's messages on until its feed closes."""
        decoder = FeedDecoder()
        try:
            while data := await link.reader.read(65536):
                for message in decoder.feed(data):
                    self._spawn_task(self._on_message(link, message))
        except FeedError as exc:
            logger.error("worker %d sent garbage (%s): restarting it", link.index, exc)
            link.kill()
        except (ConnectionError, OSError):
            link.kill()

    def _spawn_task(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
