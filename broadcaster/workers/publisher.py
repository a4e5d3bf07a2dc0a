"""The capture node's side of the engine between machines: each frame published once, as
its raw packet (core/engine.py), and the state with a heartbeat; a bounded JetStream stream
keeps recent packets for edges to backfill by id.

The connection to the engine has a thread and an event loop of its own. Frames come from a
frame tap (on the event loop, never the capture thread), which only hands them over; they
wait in a bounded buffer for the publishing task: while the engine is away the oldest are
dropped and counted, so the capture and this node's own listeners never wait on it. Nor does
the engine wait on them: the tap runs before this node's own listeners are written to, and
the publishing thread sends the frame while that round goes on (each of its socket writes
lets the other thread run), not after it. A published frame is kept until the stream
acknowledges it, and sent again after a reconnection if it was not: a server that dies
with packets it read but had not passed on loses none of them. The state is read where it
lives, on the event loop, and handed over as a finished announcement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from broadcaster.config import Config
from broadcaster.core.engine import Announcement, EngineAddress, EngineError, WireSplitter
from broadcaster.core.state import BroadcastState
from broadcaster.stream.fanout import Fanout
from broadcaster.workers.engine_link import connect

if TYPE_CHECKING:
    from nats.aio.client import Client

logger = logging.getLogger(__name__)

STREAM_RETRY_S = 2.0
CONFIRM_EVERY_S = 0.1
ACK_WAIT_S = 5.0  # for the stream's acknowledgement of a packet, while connected
DRAIN_S = 2.0  # for what was published to reach the engine, when the broadcaster stops


class EnginePublisher:
    """Publishes a fan-out's frames and state to the engine; `run()` until cancelled."""

    def __init__(self, config: Config, fanout: Fanout,
                 health: Callable[[], tuple[bool, str]]) -> None:
        self.config = config
        self.engine = config.engine
        self.address = EngineAddress.parse(config.engine.publish)
        self.subjects = self.address.subjects
        self.fanout = fanout
        self._health = health
        self._splitter = WireSplitter(fanout.ring.first_seq, config.audio.frame_ms)
        self._waiting: deque[tuple[int, bytes]] = deque()
        # Published, but not yet acknowledged by the stream (its leader answers once a
        # quorum of its replicas holds the packet): sent again after a reconnection (edges
        # and the stream drop what they already have, by id).
        self._unconfirmed: deque[_Sent] = deque()
        self._news: asyncio.Event | None = None  # the engine's loop's
        self._main: asyncio.AbstractEventLoop | None = None  # the fan-out's loop
        self._engine_loop: asyncio.AbstractEventLoop | None = None
        self._ended = threading.Event()  # the engine's side has closed its connection
        self.connected = False
        self.published = 0
        self.dropped = 0  # frames the engine never got: it was away and the buffer full
        self.unstored = 0  # frames the stream did not acknowledge (refused, or too late)
        self.stream_ready = False
        self._client: Client | None = None

    # -- taps (on the fan-out's loop: hand over, never wait) ----------------------------
    def _frame(self, seq: int, wire: bytes) -> None:
        loop = self._engine_loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # its loop has just closed
                loop.call_soon_threadsafe(self._queue_frame, seq, wire)

    def _state(self, _: BroadcastState) -> None:
        # Soon, not now: the announcement reads the health, which catches capture up, and
        # this runs in the middle of the fan-out's change of state.
        asyncio.get_running_loop().call_soon(self._announce)

    # -- lifetime -------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect (retrying), set up the stream, publish until cancelled; the connection's
        errors that are the config's (EngineSetupError) come out here."""
        self._main = asyncio.get_running_loop()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_run_loop, args=(loop,), name="engine publisher",
                                  daemon=True)
        thread.start()
        self._engine_loop = loop
        self.fanout.frame_taps.append(self._frame)
        self.fanout.state_taps.append(self._state)
        engine_side = asyncio.run_coroutine_threadsafe(self._engine_side(), loop)
        try:
            await asyncio.wrap_future(engine_side)  # cancelling this cancels that
        finally:
            self.fanout.frame_taps.remove(self._frame)
            self.fanout.state_taps.remove(self._state)
            engine_side.cancel()  # its task may still be draining: wait for that
            await asyncio.to_thread(self._ended.wait, DRAIN_S + 1)
            self._engine_loop = None
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, 1)

    async def _engine_side(self) -> None:
        """On the engine's loop: the connection, the stream, publishing."""
        self._news = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            self._client = await connect(self.engine, self.address, "capture node",
                                         self._connection_changed)
            await self._ensure_stream()  # before the first frame, so that it keeps them all
            tasks = [asyncio.create_task(self._keep_stream()),
                     asyncio.create_task(self._confirm()),
                     asyncio.create_task(self._heartbeat())]
            await self._publish_frames()
        finally:
            for task in tasks:
                task.cancel()
            if self._client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._client.drain(), DRAIN_S)
            self._ended.set()

    def _queue_frame(self, seq: int, wire: bytes) -> None:
        """On the engine's loop: one frame for the publishing task."""
        waiting = self._waiting
        waiting.append((seq, wire))
        if len(waiting) > self.engine.buffer_frames:
            waiting.popleft()
            self.dropped += 1
        if self._news is not None:
            self._news.set()

    def _connection_changed(self, connected: bool) -> None:
        self.connected = connected
        if connected and self._unconfirmed:
            for sent in self._unconfirmed:
                sent.ack.cancel()
            self._waiting.extendleft((sent.seq, sent.wire) for sent in
                                     reversed(self._unconfirmed))
            self._unconfirmed.clear()
            while len(self._waiting) > self.engine.buffer_frames:
                self._waiting.popleft()
                self.dropped += 1
        if connected:
            if self._news is not None:
                self._news.set()
            self._ask_for_announcement()

    async def _publish_frames(self) -> None:
        client, news = self._client, self._news
        assert client is not None and news is not None
        # A frame goes to the station's subject (edges hear it at once) with a reply
        # subject for the stream's acknowledgement: the stream's leader answers once the
        # packet is stored, so a packet that a dying server took but never passed on is
        # known as unacknowledged and sent again. (The server's answer to a ping is not
        # enough: it only says that the server read the packet.)
        js = client.jetstream(publish_async_max_pending=self.engine.buffer_frames + 16)
        subject = self.subjects.frames
        while True:
            await news.wait()
            news.clear()
            while self._waiting and self.connected and client.is_connected:
                seq, wire = self._waiting.popleft()
                try:
                    packet = self._splitter.split(seq, wire)
                except (EngineError, ValueError, KeyError) as exc:
                    logger.error("frame %d cannot be published: %s", seq, exc)
                    continue
                try:
                    # Never stalls: fewer wait than it allows (the bound below).
                    ack = await js.publish_async(subject, packet.packet,
                                                 headers=packet.headers())
                except Exception as exc:  # the connection went while we wrote: keep it
                    self._waiting.appendleft((seq, wire))
                    logger.debug("publishing waits for the engine: %r", exc)
                    break
                self.published += 1
                self._unconfirmed.append(_Sent(seq, wire, ack, time.monotonic()))
                if len(self._unconfirmed) > self.engine.buffer_frames:
                    self._forget(self._unconfirmed.popleft())

    async def _confirm(self) -> None:
        """Now and then, let go of what the stream has acknowledged, in order; an
        acknowledgement that has not come in ACK_WAIT_S while connected is given up (the
        stream may be choosing a new leader: edges had the frame live)."""
        unconfirmed = self._unconfirmed
        while True:
            await asyncio.sleep(CONFIRM_EVERY_S)
            given_up = time.monotonic() - ACK_WAIT_S
            while unconfirmed and (unconfirmed[0].ack.done() or (
                    self.connected and unconfirmed[0].at < given_up)):
                self._forget(unconfirmed.popleft())

    def _forget(self, sent: _Sent) -> None:
        """An acknowledgement no longer waited for: count it if the packet is not stored."""
        ack = sent.ack
        if not ack.done():
            ack.cancel()
            self.unstored += 1
        elif not ack.cancelled() and (exc := ack.exception()) is not None:
            self.unstored += 1
            logger.debug("the stream did not keep a packet: %r", exc)

    async def _keep_stream(self) -> None:
        """Check the stream now and then: the engine may have lost it (a memory stream on
        a restarted single server is gone)."""
        while True:
            await asyncio.sleep(STREAM_RETRY_S)
            await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        """Create (or find) the bounded stream of recent packets."""
        from nats.js.api import DiscardPolicy, StorageType, StreamConfig
        from nats.js.errors import Error as JsError
        from nats.js.errors import NotFoundError

        client = self._client
        if client is None or not client.is_connected:
            return
        js = client.jetstream()
        engine, name = self.engine, self.subjects.stream
        try:
            await js.stream_info(name)
            self.stream_ready = True
            return
        except NotFoundError:
            pass
        except Exception as exc:  # the engine's errors, timeouts: try again later
            logger.debug("stream check: %r", exc)
            return
        self.stream_ready = False
        try:
            await js.add_stream(StreamConfig(
                name=name, subjects=[self.subjects.frames],
                storage=StorageType(engine.stream_storage), max_age=engine.stream_max_age_s,
                max_msgs=engine.stream_max_msgs, num_replicas=engine.stream_replicas,
                discard=DiscardPolicy.OLD, allow_direct=True))
        except (JsError, TimeoutError, OSError) as exc:
            logger.warning("the engine's stream %s cannot be set up: %s", name, exc)
            return
        self.stream_ready = True
        logger.info("engine stream %s ready", name)

    async def _heartbeat(self) -> None:
        while True:
            self._ask_for_announcement()
            await asyncio.sleep(self.engine.heartbeat_s)

    def _ask_for_announcement(self) -> None:
        """On the engine's loop: have the fan-out's loop read the state and announce it."""
        main = self._main
        if main is not None:
            with contextlib.suppress(RuntimeError):  # the broadcaster is closing
                main.call_soon_threadsafe(self._announce)

    def _announce(self) -> None:
        """On the fan-out's loop: the state as it is now, sent from the engine's loop."""
        loop = self._engine_loop
        if loop is None:
            return
        ring = self.fanout.ring
        announcement = Announcement(ring.first_seq, ring.next_seq,
                                    self.fanout.state.serialize(), self._health(),
                                    asdict(self.config.audio), time.time() * 1000.0)
        with contextlib.suppress(RuntimeError):  # its loop has just closed
            loop.call_soon_threadsafe(self._send_announcement, announcement.serialize())

    def _send_announcement(self, data: bytes) -> None:
        """On the engine's loop."""
        client = self._client
        if client is None or not client.is_connected:
            return
        task = asyncio.ensure_future(client.publish(self.subjects.state, data))
        task.add_done_callback(_ignore_failure)

    def counters(self) -> dict[str, Any]:
        """For /status: the engine's connection and what it was given or not."""
        return {"engine_role": "capture", "engine_station": self.address.station,
                "engine_connected": self.connected, "engine_published": self.published,
                "engine_dropped": self.dropped, "engine_unstored": self.unstored,
                "engine_waiting": len(self._waiting),
                "engine_stream_ready": self.stream_ready}


@dataclass(slots=True)
class _Sent:
    """A frame published, and the stream's acknowledgement of it (to come)."""

    seq: int
    wire: bytes
    ack: asyncio.Future[Any]
    at: float  # when it was published (monotonic)


def _ignore_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("an announcement was not sent: %r", task.exception())


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The engine publisher's thread: its loop, until stopped."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()
