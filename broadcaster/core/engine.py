"""The engine between machines, as data (pure): where it is and which station, the
subjects a station's messages travel on, and one packet as a message.

The capturing broadcaster publishes each packet once, as the raw Opus packet with its id,
epoch and capture time in headers (never its SSE bytes: each edge frames for its own
listeners and stamps its own clock), and the broadcast's state with a heartbeat. Edges
frame the packet again: its audio event is byte for byte the capture node's.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from broadcaster.core.wire import audio_event, clock_event

SCHEMES = ("nats", "tls")
STATION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
SUBJECT_ROOT = "broadcaster"

MSG_ID = "Nats-Msg-Id"
# The packet's headers.
ID, EPOCH, CAPTURE_MS, CLOCK, ACTIVITY = ("Bc-Id", "Bc-Epoch", "Bc-Capture-Ms", "Bc-Clock",
                                          "Bc-Activity")


class EngineError(ValueError):
    """An engine address, or a message from the engine, that cannot be used."""


@dataclass(frozen=True, slots=True)
class EngineAddress:
    """`nats://host:port[,host:port...]/STATION` (`tls://` for TLS): the engine's servers,
    and the station whose subjects a node publishes or reads."""

    servers: tuple[str, ...]
    station: str
    tls: bool = False

    @classmethod
    def parse(cls, text: str) -> EngineAddress:
        """Parse an address; raises EngineError saying what is wrong (never the password:
        credentials are not accepted here)."""
        scheme, sep, rest = text.strip().partition("://")
        if not sep or scheme not in SCHEMES:
            raise EngineError("expected nats://HOST:PORT/STATION (or tls://...)")
        hosts, slash, station = rest.partition("/")
        if "@" in hosts:
            raise EngineError("credentials do not go in the address: use the engine's "
                              "credential files")
        if not slash or STATION_RE.fullmatch(station) is None:
            raise EngineError("expected a station name after the host: letters, digits, "
                              "'_' or '-', at most 64")
        servers = []
        for host in hosts.split(","):
            try:
                url = urlsplit(f"{scheme}://{host}")
                port = url.port
            except ValueError as exc:
                raise EngineError(f"{host!r} is not HOST:PORT: {exc}") from None
            if not url.hostname:
                raise EngineError(f"{host!r} names no host")
            servers.append(f"{scheme}://{host}" if port else f"{scheme}://{host}:4222")
        return cls(tuple(servers), station, scheme == "tls")

    @property
    def subjects(self) -> Subjects:
        """The station's subjects."""
        return Subjects(self.station)


@dataclass(frozen=True, slots=True)
class Subjects:
    """What a station's messages travel on, and the stream that keeps its recent packets."""

    station: str

    @property
    def frames(self) -> str:
        """One message per packet."""
        return f"{SUBJECT_ROOT}.{self.station}.frames"

    @property
    def state(self) -> str:
        """The state and the heartbeat (see `Announcement`)."""
        return f"{SUBJECT_ROOT}.{self.station}.state"

    @property
    def all(self) -> str:
        """Every subject of the station (what permissions name)."""
        return f"{SUBJECT_ROOT}.{self.station}.>"

    @property
    def stream(self) -> str:
        """The JetStream stream of recent packets."""
        return f"BROADCASTER_{self.station.replace('-', '_')}"


@dataclass(frozen=True, slots=True)
class EnginePacket:
    """One packet as the engine carries it. `clock`: the capture node sent a clock event
    with it (edges do too, with their own time); `activity`: its `activity` events' JSON."""

    seq: int
    epoch: int
    capture_ms: float
    packet: bytes
    clock: bool = False
    activity: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        """The message's headers (the payload is the packet)."""
        headers = {ID: str(self.seq), EPOCH: str(self.epoch),
                   CAPTURE_MS: repr(round(self.capture_ms, 3)),
                   # JetStream keeps a packet sent twice (after a reconnection) once.
                   MSG_ID: f"{self.epoch}-{self.seq}"}
        if self.clock:
            headers[CLOCK] = "1"
        if self.activity:
            headers[ACTIVITY] = "[" + ",".join(self.activity) + "]"
        return headers

    @classmethod
    def parse(cls, headers: dict[str, str] | None, payload: bytes) -> EnginePacket:
        """The packet of a message; raises EngineError naming the header at fault."""
        headers = headers or {}
        try:
            seq, epoch = int(headers[ID]), int(headers[EPOCH])
            capture_ms = float(headers[CAPTURE_MS])
        except KeyError as exc:
            raise EngineError(f"a packet without its {exc.args[0]} header") from None
        except ValueError as exc:
            raise EngineError(f"a packet with a malformed header: {exc}") from None
        if not epoch <= seq:
            raise EngineError(f"packet {seq} is before its epoch {epoch}")
        activity: tuple[str, ...] = ()
        if ACTIVITY in headers:
            try:
                changes = json.loads(headers[ACTIVITY])
            except ValueError:
                raise EngineError(f"a packet with a malformed {ACTIVITY} header") from None
            if not isinstance(changes, list):
                raise EngineError(f"a packet whose {ACTIVITY} header is not a list")
            activity = tuple(json.dumps(c, separators=(",", ":")) for c in changes)
        return cls(seq, epoch, capture_ms, payload, headers.get(CLOCK) == "1", activity)

    def wire(self, server_ms: float) -> bytes:
        """The SSE bytes listeners of an edge get: its activity, a clock event stamped
        `server_ms` where the capture node sent one, and the audio event."""
        out = b"".join(b"event: activity\ndata: %s\n\n" % a.encode() for a in self.activity)
        if self.clock:
            out += clock_event(self.seq, self.capture_ms, server_ms)
        return out + audio_event(self.seq, self.packet)


class WireSplitter:
    """Takes the capture node's framed frames apart into packets (its ring holds SSE bytes:
    the activity events, a clock event now and then, the audio event). A frame without a
    clock event was captured `frame_ms` after the one before it."""

    def __init__(self, epoch: int, frame_ms: float) -> None:
        self.epoch = epoch
        self.frame_ms = frame_ms
        self._clock: tuple[int, float] | None = None  # the newest clock event's id and time

    def split(self, seq: int, wire: bytes) -> EnginePacket:
        """The packet of frame `seq`; raises EngineError on bytes that are not a frame."""
        packet: bytes | None = None
        clocked = False
        activity: list[str] = []
        for block in wire.split(b"\n\n"):
            if not block:
                continue
            fields = _fields(block)
            event = fields.get("event", "message")
            if event == "activity":
                activity.append(fields.get("data", ""))
            elif event == "clock":
                clock = json.loads(fields.get("data", "{}"))
                self._clock = (int(clock["id"]), float(clock["capture_ms"]))
                clocked = True
            elif event == "message" and "id" in fields:
                if int(fields["id"]) != seq:
                    raise EngineError(f"frame {seq} holds the audio of {fields['id']}")
                packet = base64.b64decode(fields.get("data", ""))
        if packet is None:
            raise EngineError(f"frame {seq} has no audio event")
        if self._clock is None:
            raise EngineError(f"frame {seq} came before any clock event")
        clock_id, clock_ms = self._clock
        capture_ms = clock_ms + (seq - clock_id) * self.frame_ms
        return EnginePacket(seq, self.epoch, capture_ms, packet, clocked, tuple(activity))


def _fields(block: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.decode().split("\n"):
        name, _, value = line.partition(":")
        if name:
            fields[name] = value[1:] if value.startswith(" ") else value
    return fields


@dataclass(frozen=True, slots=True)
class Announcement:
    """The broadcast's state as the engine carries it, with every heartbeat: the stream's
    epoch and live id, the state, health, and the audio settings listeners are told."""

    epoch: int
    next_id: int
    state: dict[str, Any]
    health: tuple[bool, str]
    audio: dict[str, Any]
    sent_ms: float

    def serialize(self) -> bytes:
        """The message's payload."""
        return json.dumps({"epoch": self.epoch, "next_id": self.next_id, "state": self.state,
                           "health": list(self.health), "audio": self.audio,
                           "sent_ms": round(self.sent_ms, 3)},
                          separators=(",", ":")).encode()

    @classmethod
    def parse(cls, payload: bytes) -> Announcement:
        """Raises EngineError naming what is missing or malformed."""
        try:
            data = json.loads(payload)
            health = data["health"]
            return cls(int(data["epoch"]), int(data["next_id"]), dict(data["state"]),
                       (bool(health[0]), str(health[1])), dict(data["audio"]),
                       float(data["sent_ms"]))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise EngineError(f"a malformed announcement: {exc!r}") from None
