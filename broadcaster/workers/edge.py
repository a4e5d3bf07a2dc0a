"""An edge's upstream: the station's frames and state from the engine between machines.

Live packets come on the station's frames subject; what the edge missed (it started late,
its connection or its server went away) is fetched by id from the engine's stream of
recent packets, and merged in order (core/sequencer.py). Each packet is framed here, for
this edge's listeners, with this edge's clock. No heartbeat for `offline_after_s`: the
listeners are told `offline`; the next heartbeat puts them right. Capture control is the
capture node's: asked here, it is refused, saying so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from broadcaster.config import AudioConfig, Config
from broadcaster.core.engine import Announcement, EngineAddress, EngineError, EnginePacket
from broadcaster.core.sequencer import Sequencer
from broadcaster.core.state import BroadcastState
from broadcaster.web.broadcast import LocalAdmission
from broadcaster.workers.engine_link import connect
from broadcaster.workers.relay import HubGoneError, Relay

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

logger = logging.getLogger(__name__)

BACKFILL_WAIT_S = 0.5  # a backfill that brings nothing new for this long has all there is
BACKFILL_MAX_S = 2.0
WATCH_EVERY_S = 0.25
NOT_HERE = ("this is an edge: capture is started and stopped on the capture node, not "
            "through an edge")


class EngineEdge:
    """The engine as a relay's upstream (relay.py's `Upstream`)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine = config.engine
        self.address = EngineAddress.parse(config.source.spec)
        self.subjects = self.address.subjects
        self._admission = LocalAdmission(config)
        self._relay: Relay | None = None
        self._client: Client | None = None
        self._epoch: int | None = None
        self._live_id = 0  # where the live edge was when the epoch was first heard of
        self._sequencer: Sequencer[EnginePacket] = Sequencer(self._capacity())
        self._backfill: asyncio.Task[None] | None = None
        self._heard: float | None = None  # when the last heartbeat came (monotonic)
        self._state = BroadcastState("offline", self.address.station,
                                     "no word from the capture node yet")
        self.connected = False
        self.backfilled = 0
        self.offline_spells = 0

    def _capacity(self) -> int:
        return max(1, round(self.config.ring.capacity_s * 1000 / self.config.audio.frame_ms))

    # -- the feed -----------------------------------------------------------------------
    async def run(self, relay: Relay) -> None:
        """Connect (retrying), follow the station until cancelled."""
        self._relay = relay
        relay.set_health(False, "the engine is not reachable yet")
        self._client = client = await connect(self.engine, self.address, "edge",
                                              self._connection_changed)
        await client.subscribe(self.subjects.state, cb=self._on_state)
        await client.subscribe(self.subjects.frames, cb=self._on_frame,
                               pending_msgs_limit=100_000)
        try:
            await self._watch(relay)
        finally:
            if self._backfill is not None:
                self._backfill.cancel()
            await client.close()

    def _connection_changed(self, connected: bool) -> None:
        self.connected = connected

    async def _watch(self, relay: Relay) -> None:
        """Say `offline` when the capture node's heartbeat stops."""
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            quiet_s = None if self._heard is None else time.monotonic() - self._heard
            if quiet_s is not None and quiet_s > self.engine.offline_after_s:
                if relay.fanout is not None and relay.state.state != "offline":
                    self.offline_spells += 1
                    relay.fanout.set_state(BroadcastState(
                        "offline", relay.state.source,
                        f"no word from the capture node for {quiet_s:.0f} s"))
                relay.set_health(False, "no heartbeat from the capture node")

    async def _on_state(self, msg: Msg) -> None:
        relay = self._relay
        try:
            announcement = Announcement.parse(msg.data)
            audio = AudioConfig(**announcement.audio)
        except (EngineError, TypeError, ValueError) as exc:
            logger.warning("a state message from the engine was not understood: %s", exc)
            return
        if relay is None or (self._epoch is not None and announcement.epoch < self._epoch):
            return
        self._heard = time.monotonic()
        if audio != self.config.audio:
            self.config = replace(self.config, audio=audio)
            relay.config = self.config
            self._sequencer.max_held = self._capacity()
        if announcement.epoch != self._epoch:
            self._new_epoch(announcement.epoch, announcement.next_id)
        state = BroadcastState.parse(announcement.state)
        self._state = state
        relay.set_health(*announcement.health)
        if relay.fanout is not None and state.state != "shutdown":
            relay.fanout.set_state(state)

    async def _on_frame(self, msg: Msg) -> None:
        try:
            packet = EnginePacket.parse(msg.headers, msg.data)
        except EngineError as exc:
            logger.warning("a packet from the engine was not understood: %s", exc)
            return
        if self._epoch is None or packet.epoch > self._epoch:
            self._new_epoch(packet.epoch, packet.seq)
        elif packet.epoch < self._epoch:
            return
        self._take(self._sequencer.offer(packet.seq, packet))

    def _new_epoch(self, epoch: int, live_id: int) -> None:
        """The capture node (re)started: backfill what the ring would hold of it."""
        self._epoch, self._live_id = epoch, live_id
        self._sequencer = Sequencer(self._capacity())
        if self._backfill is not None:
            self._backfill.cancel()
        wanted = max(epoch, live_id - self._capacity())
        self._backfill = asyncio.create_task(self._fill(epoch, wanted, first=True))

    def _take(self, released: list[tuple[int, EnginePacket]]) -> None:
        """Hand released packets to the relay; start a backfill for a new hole."""
        relay = self._relay
        sequencer = self._sequencer
        if relay is None:
            return
        if sequencer.next_id is None:  # not begun: the first backfill decides where
            return
        for seq, packet in released:
            relay.frame(seq, packet.wire(time.time() * 1000.0))
        if sequencer.overfull:
            _, more = sequencer.skip()
            self._take(more)
        elif (hole := sequencer.hole) is not None and (
                self._backfill is None or self._backfill.done()):
            assert self._epoch is not None
            self._backfill = asyncio.create_task(self._fill(self._epoch, hole[0]))

    async def _fill(self, epoch: int, wanted: int, first: bool = False) -> None:
        """Fetch packets from `wanted` on from the engine's stream, until the ones held
        (or what it has: the rest is a gap). `first`: the relay begins with them."""
        sequencer = self._sequencer
        try:
            await asyncio.wait_for(self._fetch(epoch, wanted, first), BACKFILL_MAX_S)
        except (TimeoutError, OSError, Exception) as exc:  # the engine's errors, whatever
            if not isinstance(exc, TimeoutError):
                logger.warning("backfill from the engine failed: %r", exc)
        finally:
            if sequencer is self._sequencer and self._relay is not None:
                if sequencer.next_id is None:
                    start = sequencer.first_held
                    self._begin(epoch, self._live_id if start is None else start)
                    self._take(sequencer.start(self._live_id if start is None else start))
                if sequencer.hole is not None:
                    _, released = sequencer.skip()
                    self._take(released)

    def _begin(self, epoch: int, start: int) -> None:
        relay = self._relay
        assert relay is not None
        relay.begin(epoch, start, self._state)

    async def _fetch(self, epoch: int, wanted: int, first: bool) -> None:
        from nats.js.api import ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        client = self._client
        assert client is not None
        js = client.jetstream()
        stream = self.subjects.stream
        try:
            last = await js.get_last_msg(stream, self.subjects.frames)
        except NotFoundError:
            return
        newest = EnginePacket.parse(last.headers, last.data or b"")
        # Stream positions and ids go up together, one for one but where frames were
        # dropped (fewer positions): starting this far back never starts too late.
        start = max(1, (last.seq or 1) - max(0, newest.seq - wanted))
        sub = await js.subscribe(self.subjects.frames, stream=stream, ordered_consumer=True,
                                 config=ConsumerConfig(
                                     deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                     opt_start_seq=start))
        sequencer = self._sequencer
        try:
            while sequencer is self._sequencer:
                try:
                    msg = await sub.next_msg(BACKFILL_WAIT_S)
                except TimeoutError:
                    return
                packet = EnginePacket.parse(msg.headers, msg.data)
                if packet.epoch != epoch or packet.seq < wanted:
                    continue
                if first and sequencer.next_id is None:
                    self._begin(epoch, packet.seq)
                    self._take(sequencer.start(packet.seq))
                self.backfilled += 1
                self._take(sequencer.offer(packet.seq, packet))
                if sequencer.held == 0 and (packet.seq >= newest.seq or not first):
                    return  # nothing waits for a hole any more
        finally:
            await sub.unsubscribe()

    # -- what the relay asks ------------------------------------------------------------
    async def control(self, op: str) -> dict[str, Any]:
        """Refused: capture is the capture node's."""
        raise HubGoneError(NOT_HERE)

    async def admit(self, address: str) -> str | None:
        """This edge counts its own listeners (there is no frame to give before the first)."""
        if self._relay is None or self._relay.fanout is None:
            return "no frames from the capture node yet"
        return await self._admission.admit(address)

    def release(self, address: str) -> None:
        """A listener has gone."""
        self._admission.release(address)

    def counters(self) -> dict[str, Any]:
        """The admission's counters."""
        return self._admission.counters()

    async def status(self) -> dict[str, Any]:
        """This edge's counters."""
        relay = self._relay
        fanout = None if relay is None else relay.fanout
        state = self._state if relay is None else relay.state
        status: dict[str, Any] = {
            "state": state.state, "source": state.source, "offline_reason": state.reason,
            "frame_ms": self.config.audio.frame_ms, "channels": self.config.audio.channels,
            "engine_role": "edge", "engine_station": self.address.station,
            "engine_connected": self.connected, "engine_backfilled": self.backfilled,
            "engine_holes": 0 if relay is None else relay.holes,
            "engine_offline_spells": self.offline_spells,
            "engine_heartbeat_age_s": None if self._heard is None
            else round(time.monotonic() - self._heard, 3)}
        if fanout is not None:
            ring = fanout.ring
            status |= {"listeners": fanout.listeners,
                       "direct_listeners": fanout.direct_listeners,
                       "skips": fanout.skips, "stride": fanout.stride,
                       "frames": ring.next_seq - ring.oldest_seq,
                       "next_id": ring.next_seq, "ring_frames": len(ring)}
        return status

    async def episodes(self, before: int | None, limit: int) -> dict[str, Any]:
        """An edge keeps no episodes (their events reach its listeners in the stream)."""
        return {"alerts_enabled": False, "episodes": [], "next_before": None}
