"""The capture node's side of the engine between machines: each frame published once, as
its raw packet (core/engine.py), and the state with a heartbeat; a bounded JetStream stream
keeps recent packets for edges to backfill by id.

Frames come from a frame tap, on the event loop, never the capture thread, and wait in a
bounded buffer for the publishing task: while the engine is away the oldest are dropped
and counted, so the capture and this node's own listeners never wait on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
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
        # Published, but not yet known to have reached the server: sent again after a
        # reconnection (edges and the stream drop what they already have, by id).
        self._unconfirmed: deque[tuple[int, bytes]] = deque()
        self._news = asyncio.Event()
        self.connected = False
        self.published = 0
        self.dropped = 0  # frames the engine never got: it was away and the buffer full
        self.stream_ready = False
        self._client: Client | None = None

    # -- taps (on the event loop: never wait) ----------------------------------------------
    def _frame(self, seq: int, wire: bytes) -> None:
        waiting = self._waiting
        waiting.append((seq, wire))
        if len(waiting) > self.engine.buffer_frames:
            waiting.popleft()
            self.dropped += 1
        self._news.set()

    def _state(self, _: BroadcastState) -> None:
        # Soon, not now: the announcement reads the health, which catches capture up, and
        # this runs in the middle of the fan-out's change of state.
        asyncio.get_running_loop().call_soon(self._announce)

    # -- lifetime -------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect (retrying), set up the stream, publish until cancelled."""
        self.fanout.frame_taps.append(self._frame)
        self.fanout.state_taps.append(self._state)
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
            self.fanout.frame_taps.remove(self._frame)
            self.fanout.state_taps.remove(self._state)
            if self._client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._client.drain(), 2)

    def _connection_changed(self, connected: bool) -> None:
        self.connected = connected
        if connected and self._unconfirmed:
            self._waiting.extendleft(reversed(self._unconfirmed))
            self._unconfirmed.clear()
            while len(self._waiting) > self.engine.buffer_frames:
                self._waiting.popleft()
                self.dropped += 1
        if connected:
            self._news.set()
            self._announce()

    async def _publish_frames(self) -> None:
        client = self._client
        assert client is not None
        subject = self.subjects.frames
        while True:
            await self._news.wait()
            self._news.clear()
            while self._waiting and self.connected and client.is_connected:
                seq, wire = self._waiting.popleft()
                try:
                    packet = self._splitter.split(seq, wire)
                except (EngineError, ValueError, KeyError) as exc:
                    logger.error("frame %d cannot be published: %s", seq, exc)
                    continue
                try:
                    await client.publish(subject, packet.packet, headers=packet.headers())
                except Exception as exc:  # the connection went while we wrote: keep it
                    self._waiting.appendleft((seq, wire))
                    logger.debug("publishing waits for the engine: %r", exc)
                    break
                self.published += 1
                self._unconfirmed.append((seq, wire))
                if len(self._unconfirmed) > self.engine.buffer_frames:
                    self._unconfirmed.popleft()

    async def _confirm(self) -> None:
        """Now and then, make sure the server has what was published (a round trip)."""
        while True:
            await asyncio.sleep(CONFIRM_EVERY_S)
            client = self._client
            sent = len(self._unconfirmed)
            if client is None or not sent or not client.is_connected:
                continue
            try:
                await client.flush(timeout=1)
            except Exception as exc:  # the connection went: resent when it is back
                logger.debug("publishing not confirmed: %r", exc)
                continue
            for _ in range(min(sent, len(self._unconfirmed))):
                self._unconfirmed.popleft()

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
            self._announce()
            await asyncio.sleep(self.engine.heartbeat_s)

    def _announce(self) -> None:
        client = self._client
        if client is None or not client.is_connected:
            return
        ring = self.fanout.ring
        announcement = Announcement(ring.first_seq, ring.next_seq,
                                    self.fanout.state.serialize(), self._health(),
                                    asdict(self.config.audio), time.time() * 1000.0)
        task = asyncio.ensure_future(client.publish(self.subjects.state,
                                                    announcement.serialize()))
        task.add_done_callback(_ignore_failure)

    def counters(self) -> dict[str, Any]:
        """For /status: the engine's connection and what it was given or not."""
        return {"engine_role": "capture", "engine_station": self.address.station,
                "engine_connected": self.connected, "engine_published": self.published,
                "engine_dropped": self.dropped, "engine_waiting": len(self._waiting),
                "engine_stream_ready": self.stream_ready}


def _ignore_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("an announcement was not sent: %r", task.exception())
