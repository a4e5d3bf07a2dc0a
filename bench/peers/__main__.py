"""Side by side with Icecast2 + DarkIce (and Snapcast): click latency and fan-out CPU.

    .venv/bin/python -m bench.peers                  # 100 clicks, 100 listeners each
    .venv/bin/python -m bench.peers --clicks 200 --listeners 300 --seconds 30
    .venv/bin/python -m bench.peers --no-snapcast    # Icecast2 + DarkIce only

Needs the Debian packages icecast2 and darkice, and snapserver for the Snapcast column
(`./scripts/setup.sh --dev --bench` installs them). One virtual microphone (a private
PulseAudio pipe source) feeds every system at once: the real broadcaster reads it through
PyAudio; DarkIce reads the same PulseAudio source and sends Ogg/Opus to a private Icecast2;
snapserver reads it through ALSA. Each is set up for the lowest latency it allows (the notes
printed at the end say how), at the same Opus bitrate.

1. Click latency: 2 ms bursts go into the microphone every 0.2531 s. One client per system
   decodes its stream with libopus (the broadcaster's SSE events; Icecast's Ogg pages,
   parsed here; Snapcast's binary protocol) and notes when the packet holding each click
   arrived. A click's delay is that arrival minus when its first sample entered the mic.
2. Fan-out: N clients in separate processes read one system's stream while its server
   CPU is taken from /proc (the broadcaster's one process; icecast2 + darkice; snapserver),
   then the next system's. All keep capturing meanwhile.

Prints one table, each peer's figures beside the broadcaster's with the ratio
peer / broadcaster. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import opuslib

from bench.latency import CLICK_EVERY_S, RATE, click_pcm
from tests.support.procstat import cpu_seconds
from tests.support.raw_client import dechunk, open_stream
from tests.support.server import free_port, no_device_env, start_broadcaster, wait_until
from tests.support.sse import SSEDecoder
from tests.support.vmic import SOURCE_NAME, VirtualMic

CLICK_SAMPLES = len(click_pcm()) // 2  # stream samples from one click to the next
LOUD = 8000  # a decoded packet whose peak exceeds this holds (part of) a click
MAX_PACKET_SAMPLES = 5760  # 120 ms, the most one Opus packet holds
STREAM_PATH = "/audio/stream"
MOUNT = "/live.opus"
PULSE_LATENCY_MS = 10  # what DarkIce asks PulseAudio for (libpulse's PULSE_LATENCY_MSEC)
SNAPCAST_CHUNK_MS = 20
SNAPCAST_BUFFER_MS = 1000  # snapserver's default: when clients play, not when data arrives
CLIENT_PROCESSES = 2
SETUP_HINT = "run ./scripts/setup.sh --dev --bench to install it"

Reader = tuple[asyncio.StreamReader, asyncio.StreamWriter]


# ------------------------------------------------------------------ Ogg (pure)

OGG_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, seq, crc, n


@dataclass(frozen=True, slots=True)
class OggPage:
    """One Ogg page (RFC 3533): whether it continues a packet, its lacing values, its body."""

    continued: bool
    granule: int
    lacing: bytes
    body: bytes


def take_ogg_pages(buffer: bytearray) -> list[OggPage]:
    """Remove the complete pages from the front of `buffer` and return them.

    Bytes before a capture pattern are skipped; an incomplete page stays in `buffer`.
    (No CRC check: this reads a loopback TCP stream.)
    """
    pages: list[OggPage] = []
    while True:
        start = buffer.find(b"OggS")
        if start < 0:
            del buffer[:max(0, len(buffer) - 3)]
            return pages
        del buffer[:start]
        if len(buffer) < OGG_HEADER.size:
            return pages
        _, version, flags, granule, _, _, _, segments = OGG_HEADER.unpack_from(buffer)
        if version != 0:
            del buffer[:4]
            continue
        lacing = bytes(buffer[OGG_HEADER.size:OGG_HEADER.size + segments])
        end = OGG_HEADER.size + segments + sum(lacing)
        if len(lacing) < segments or len(buffer) < end:
            return pages
        pages.append(OggPage(bool(flags & 1), granule, lacing,
                             bytes(buffer[OGG_HEADER.size + segments:end])))
        del buffer[:end]


def page_packets(page: OggPage, carry: bytes) -> tuple[list[bytes], bytes]:
    """The packets a page completes, and the unfinished tail to carry into the next page.

    `carry` is what the previous page left unfinished; it is dropped if this page does not
    say it continues a packet.
    """
    packets = []
    at = 0
    partial = carry if page.continued else b""
    for size in page.lacing:
        partial += page.body[at:at + size]
        at += size
        if size < 255:
            packets.append(partial)
            partial = b""
    return packets, partial


# ------------------------------------------------------------------ Snapcast messages (pure)

# type, id, refers to, sent (s, us), received (s, us), payload size; little-endian
SNAP_HEADER = struct.Struct("<HHHiiiiI")
SNAP_CODEC_HEADER, SNAP_WIRE_CHUNK, SNAP_HELLO = 1, 2, 5


def snap_hello(client_id: str) -> bytes:
    """A Hello message, what a Snapcast client sends first (ids must differ per client)."""
    body = json.dumps({"MAC": "00:00:00:00:00:00", "HostName": "bench", "Version": "0.26.0",
                       "ClientName": "Snapclient", "OS": "Linux", "Arch": "x86_64",
                       "Instance": 1, "ID": client_id, "SnapStreamProtocolVersion": 2}).encode()
    payload = struct.pack("<I", len(body)) + body
    return SNAP_HEADER.pack(SNAP_HELLO, 0, 0, 0, 0, 0, 0, len(payload)) + payload


def take_snap_messages(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Remove the complete messages from the front of `buffer`: (type, payload) each."""
    messages = []
    while len(buffer) >= SNAP_HEADER.size:
        kind, *_, size = SNAP_HEADER.unpack_from(buffer)
        if len(buffer) < SNAP_HEADER.size + size:
            break
        messages.append((kind, bytes(buffer[SNAP_HEADER.size:SNAP_HEADER.size + size])))
        del buffer[:SNAP_HEADER.size + size]
    return messages


def snap_blob(payload: bytes, at: int) -> tuple[bytes, int]:
    """A length-prefixed field of a message payload, and where the next field starts."""
    (size,) = struct.unpack_from("<I", payload, at)
    return payload[at + 4:at + 4 + size], at + 4 + size


# ------------------------------------------------------------------ clicks


@dataclass(slots=True)
class ClickFinder:
    """Notes (stream position, arrival time) of each packet where a click starts."""

    found: list[tuple[int, float]] = field(default_factory=list)
    loud: bool = False

    def feed(self, samples: np.ndarray[Any, np.dtype[np.int16]], position: int,
             arrived: float) -> None:
        loud = bool(samples.size) and int(np.max(np.abs(samples.astype(np.int32)))) > LOUD
        if loud and not self.loud:
            self.found.append((position, arrived))
        self.loud = loud


def click_delays_ms(found: list[tuple[int, float]], entered: list[float | None]) -> list[float]:
    """Each click's delay, sorted.

    The first click found is click 0; each later one is numbered by its distance in the
    stream from the one found before it, so a click missed does not shift the rest, and
    neither does a stream that gains a few samples here and there (snapserver pads with
    silence when its input is late).
    """
    delays: list[float] = []
    index, previous = -1, None
    for position, arrived in found:
        index += 1 if previous is None else max(1, round((position - previous) / CLICK_SAMPLES))
        previous = position
        when = entered[index] if index < len(entered) else None
        if when is not None:
            delays.append(1000 * (arrived - when))
    return sorted(delays)


def pick(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def track_entries(mic: VirtualMic, positions: list[int], entered: list[float | None],
                        until: float) -> None:
    """Fill in when each queued click entered the mic (the mic keeps only ~20 s of that)."""
    while time.monotonic() < until and None in entered:
        for i, position in enumerate(positions):
            if entered[i] is None:
                entered[i] = mic.entered_at(position)
                if entered[i] is None:
                    break
        await asyncio.sleep(0.05)


def mono(pcm: bytes, channels: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    return np.frombuffer(pcm, dtype="<i2")[::channels]


# ------------------------------------------------------------------ stream readers


async def open_http(port: int, path: str) -> Reader:
    """GET `path` from 127.0.0.1:port; raises ConnectionRefusedError unless it is 200."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        writer.close()
        raise ConnectionRefusedError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    return reader, writer


async def open_snapcast(port: int, client_id: str) -> Reader:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(snap_hello(client_id))
    return reader, writer


async def open_listener(kind: str, port: int, client_id: str) -> Reader:
    """Connect as a listener of a system whose stream is of `kind`."""
    if kind == "snapcast":
        return await open_snapcast(port, client_id)
    return await open_http(port, MOUNT if kind == "ogg" else STREAM_PATH)


async def chunks(reader: asyncio.StreamReader, until: float
                 ) -> AsyncIterator[tuple[bytes, float]]:
    """What the server sends, with its arrival time (time.time()), until `until`."""
    while time.monotonic() < until:
        with contextlib.suppress(TimeoutError):
            chunk = await asyncio.wait_for(reader.read(65536), 1)
            if not chunk:
                raise ConnectionError("the server closed the stream")
            yield chunk, time.time()


@dataclass
class Listening:
    """A latency client's state: the clicks it found and whether it decodes live audio."""

    frame_samples: int
    finder: ClickFinder = field(default_factory=ClickFinder)
    live: asyncio.Event = field(default_factory=asyncio.Event)

    def decoded(self, samples: np.ndarray[Any, np.dtype[np.int16]], position: int,
                arrived: float) -> None:
        self.finder.feed(samples, position, arrived)
        if position >= RATE:
            self.live.set()


async def read_sse(port: int, state: Listening, until: float) -> None:
    """The broadcaster's stream; a frame's position in it comes from its id."""
    reader, writer = await open_stream(port)
    decoder, raw, opus = SSEDecoder(), bytearray(), opuslib.Decoder(RATE, 1)
    first_id: int | None = None
    try:
        async for chunk, arrived in chunks(reader, until):
            raw += chunk
            for event in decoder.feed(dechunk(raw)):
                if event.event != "message" or event.id is None:
                    continue
                first_id = int(event.id) if first_id is None else first_id
                pcm = opus.decode(base64.b64decode(event.data), state.frame_samples)
                state.decoded(mono(pcm, 1), (int(event.id) - first_id) * state.frame_samples,
                              arrived)
    finally:
        writer.close()


async def read_ogg(port: int, state: Listening, until: float) -> None:
    """Icecast's Ogg/Opus mount; a packet's position is the samples decoded before it."""
    reader, writer = await open_http(port, MOUNT)
    raw, carry, opus = bytearray(), b"", opuslib.Decoder(RATE, 1)
    position = 0
    try:
        async for chunk, arrived in chunks(reader, until):
            raw += chunk
            for page in take_ogg_pages(raw):
                packets, carry = page_packets(page, carry)
                for packet in packets:
                    if packet.startswith((b"OpusHead", b"OpusTags")):
                        continue
                    samples = mono(opus.decode(packet, MAX_PACKET_SAMPLES), 1)
                    state.decoded(samples, position, arrived)
                    position += samples.size
    finally:
        writer.close()


async def read_snapcast(port: int, state: Listening, until: float) -> None:
    """Snapcast's stream (stereo Opus chunks); positions as for Ogg."""
    reader, writer = await open_snapcast(port, f"latency-{os.getpid()}")
    raw, opus = bytearray(), opuslib.Decoder(RATE, 2)
    position = 0
    try:
        async for chunk, arrived in chunks(reader, until):
            raw += chunk
            for kind, payload in take_snap_messages(raw):
                if kind == SNAP_CODEC_HEADER and snap_blob(payload, 0)[0] != b"opus":
                    raise RuntimeError(f"snapserver sends {snap_blob(payload, 0)[0]!r}, not opus")
                if kind != SNAP_WIRE_CHUNK:
                    continue
                packet, _ = snap_blob(payload, 8)  # after the capture timestamp (s, us)
                samples = mono(opus.decode(packet, MAX_PACKET_SAMPLES), 2)
                state.decoded(samples, position, arrived)
                position += samples.size
    finally:
        writer.close()


READERS = {"sse": read_sse, "ogg": read_ogg, "snapcast": read_snapcast}


@dataclass
class Target:
    """One system under test: how its stream is read and which processes serve it."""

    name: str
    kind: str  # a key of READERS
    port: int
    processes: list[subprocess.Popen[Any]]
    logs: Callable[[], str]

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.processes]

    def check_alive(self) -> None:
        if any(proc.poll() is not None for proc in self.processes):
            raise RuntimeError(f"{self.name} died during the run\n{self.logs()}")


async def click_run(mic: VirtualMic, clicks: int, frame_samples: int, targets: list[Target]
                    ) -> list[list[float]]:
    """Play `clicks` clicks once every client decodes live audio; each target's delays."""
    states = [Listening(frame_samples) for _ in targets]
    until = time.monotonic() + 20 + clicks * CLICK_EVERY_S + 5
    tasks = [asyncio.create_task(READERS[target.kind](target.port, state, until))
             for target, state in zip(targets, states, strict=True)]
    live = asyncio.gather(*(state.live.wait() for state in states))
    try:
        # until every client decodes live audio, or one of them fails
        waiting: list[asyncio.Future[Any]] = [*tasks, live]
        await asyncio.wait(waiting, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if not live.done():
            names = [t.name for t, s in zip(targets, states, strict=True) if not s.live.is_set()]
            raise RuntimeError(f"no live audio from {', '.join(names)} within 20 s")
        await asyncio.sleep(1)
        block = click_pcm()
        positions = [mic.play(block) for _ in range(clicks)]
        entered: list[float | None] = [None] * clicks
        finish = time.monotonic() + clicks * CLICK_EVERY_S + 4  # the last Ogg page included
        await track_entries(mic, positions, entered, finish)
        await asyncio.sleep(max(0.0, finish - time.monotonic()))
    finally:
        mic.clear()
        live.cancel()
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                raise result
    return [click_delays_ms(state.finder.found, entered) for state in states]


# ------------------------------------------------------------------ fan-out


async def hold_listener(kind: str, port: int, client_id: str, measure_from: float,
                        until: float, got: list[int]) -> None:
    """One listener: read and drop; got = [connected, refused, fed in the measured window]."""
    try:
        reader, writer = await open_listener(kind, port, client_id)
    except (ConnectionRefusedError, OSError, asyncio.IncompleteReadError):
        got[1] += 1
        return
    got[0] += 1
    fed = False
    try:
        async for _ in chunks(reader, until):
            fed = fed or time.monotonic() >= measure_from
    except ConnectionError:
        pass
    finally:
        got[2] += fed
        writer.close()


def listener_process(kind: str, port: int, listeners: int, measure_from_s: float,
                     seconds: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """A client process holding `listeners` connections for `seconds`."""
    async def main() -> list[int]:
        got = [0, 0, 0]
        start = time.monotonic()
        tasks = []
        for i in range(listeners):
            tasks.append(asyncio.create_task(hold_listener(
                kind, port, f"fanout-{os.getpid()}-{i}", start + measure_from_s,
                start + seconds, got)))
            await asyncio.sleep(0.002)  # a ramp, not a SYN flood
        await asyncio.gather(*tasks)
        return got

    queue.put(asyncio.run(main()))


def server_cpu(pids: list[int], seconds: float) -> float:
    """Percent of one core the processes used over the next `seconds`."""
    before, started = sum(cpu_seconds(pid) for pid in pids), time.monotonic()
    time.sleep(seconds)
    return 100 * (sum(cpu_seconds(pid) for pid in pids) - before) / (time.monotonic() - started)


def fanout_cpu(target: Target, listeners: int, seconds: float) -> tuple[float, int]:
    """Server CPU (%) with `listeners` clients reading; and how many of them were fed."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    ramp_s = listeners * 0.002 / CLIENT_PROCESSES + 3
    shares = [listeners // CLIENT_PROCESSES + (i < listeners % CLIENT_PROCESSES)
              for i in range(CLIENT_PROCESSES)]
    clients = [context.Process(target=listener_process, daemon=True, args=(
        target.kind, target.port, share, ramp_s, ramp_s + seconds + 2, queue))
        for share in shares]
    for client in clients:
        client.start()
    try:
        time.sleep(ramp_s)
        cpu = server_cpu(target.pids, seconds)
        results = [queue.get(timeout=seconds + 60) for _ in clients]
    except BaseException:
        for client in clients:
            client.kill()
        raise
    finally:
        for client in clients:
            client.join(10)
            if client.is_alive():
                client.kill()
    return cpu, sum(r[2] for r in results)


# ------------------------------------------------------------------ the peers' processes


def bound_to_us(argv: list[str], drop_root: bool = False) -> list[str]:
    """`argv`, killed if this process dies; as root with `drop_root`, run as nobody."""
    if shutil.which("setpriv") is None:
        return argv
    prefix = ["setpriv", "--pdeathsig", "KILL"]
    if drop_root and os.geteuid() == 0:
        prefix += ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    return [*prefix, *argv]


def stop_process(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def log_tails(work: Path, *names: str) -> str:
    """The last lines of some log files, for error messages."""
    parts = []
    for name in names:
        with contextlib.suppress(OSError):
            tail = (work / name).read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {name} ---\n" + "\n".join(tail))
    return "\n".join(parts)


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str, logs: Callable[[], str]
             ) -> None:
    """`wait_until`, with the daemons' logs when it times out."""
    try:
        wait_until(cond, timeout_s, what)
    except AssertionError as exc:
        raise RuntimeError(f"{exc}\n{logs()}") from None


def http_status(port: int, path: str) -> int:
    """The HTTP status of GET path (0 if nothing answers)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            return int(sock.recv(64).split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return 0


def tool_version(argv: list[str], word: str) -> str:
    """The name and version from a tool's banner (e.g. "Icecast 2.4.4"), or `word`."""
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    line = next((ln for ln in (out.stdout + out.stderr).splitlines()
                 if word.lower() in ln.lower()), word)
    return " ".join(line.split()[:2])


ICECAST_XML = """\
<icecast>
  <location>bench</location>
  <admin>bench@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>{clients}</clients>
    <sources>2</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>0</burst-on-connect>
    <burst-size>0</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <relay-password>{password}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <listen-socket>
    <port>{port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <mount type="normal">
    <mount-name>{mount}</mount-name>
    <burst-size>0</burst-size>
  </mount>
  <fileserve>0</fileserve>
  <paths>
    <basedir>{work}</basedir>
    <logdir>{work}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>2</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>
  </security>
</icecast>
"""

DARKICE_CFG = """\
[general]
duration = 0
bufferSecs = 1
reconnect = yes
realtime = no

[input]
device = pulseaudio
paSourceName = {source}
sampleRate = 48000
bitsPerSample = 16
channel = 1

[icecast2-0]
format = opus
bitrateMode = cbr
bitrate = {bitrate_kbps}
sampleRate = 48000
channel = 1
server = 127.0.0.1
port = {port}
password = {password}
mountPoint = {mount_point}
name = bench
public = no
"""


@contextlib.contextmanager
def icecast_darkice(mic: VirtualMic, bitrate_kbps: int, listeners: int) -> Iterator[Target]:
    """A private Icecast2 and a DarkIce reading the virtual mic; both stopped on exit."""
    work = Path(tempfile.mkdtemp(prefix="peers-icecast-"))
    work.chmod(0o755)
    if os.geteuid() == 0:  # icecast2 will run as nobody and write its logs here
        nobody = pwd.getpwnam("nobody")
        os.chown(work, nobody.pw_uid, nobody.pw_gid)
    port, password = free_port(), os.urandom(8).hex()
    settings = {"port": port, "password": password, "mount": MOUNT, "work": work,
                "mount_point": MOUNT.lstrip("/"), "clients": listeners + 20,
                "bitrate_kbps": bitrate_kbps, "source": SOURCE_NAME}
    (work / "icecast.xml").write_text(ICECAST_XML.format(**settings))
    (work / "darkice.cfg").write_text(DARKICE_CFG.format(**settings))
    logs = lambda: log_tails(work, "icecast.out", "error.log", "darkice.out")  # noqa: E731
    procs: list[subprocess.Popen[Any]] = []
    try:
        # icecast2 refuses to run as root (short of <changeowner>): as root, it runs as nobody
        with open(work / "icecast.out", "wb") as out:
            procs.append(subprocess.Popen(
                bound_to_us(["icecast2", "-c", str(work / "icecast.xml")], drop_root=True),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
        wait_for(lambda: http_status(port, "/status-json.xsl") == 200, 10,
                 "icecast2 answering", logs)
        # DarkIce stays who we are: the private PulseAudio socket is ours alone
        env = no_device_env() | mic.env | {"PULSE_LATENCY_MSEC": str(PULSE_LATENCY_MS)}
        with open(work / "darkice.out", "wb") as out:
            procs.append(subprocess.Popen(
                bound_to_us(["darkice", "-c", str(work / "darkice.cfg")]),
                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
        wait_for(lambda: http_status(port, MOUNT) == 200, 10, "the DarkIce mount going live",
                 logs)
        yield Target("Icecast+DarkIce", "ogg", port, procs, logs)
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


SNAPSERVER_CONF = """\
[server]
datadir = {work}
[http]
enabled = false
[tcp]
enabled = false
[stream]
bind_to_address = 127.0.0.1
port = {port}
source = alsa://?name=mic&device=default&send_silence=true
sampleformat = 48000:16:2
codec = opus:BITRATE:{bitrate_bps},COMPLEXITY:5
chunk_ms = {chunk_ms}
buffer = {buffer_ms}
[logging]
sink = stderr
filter = *:notice
"""


@contextlib.contextmanager
def snapcast(mic: VirtualMic, bitrate_kbps: int) -> Iterator[Target]:
    """A private snapserver reading the virtual mic through ALSA; stopped on exit."""
    work = Path(tempfile.mkdtemp(prefix="peers-snapcast-"))
    port = free_port()
    (work / "snapserver.conf").write_text(SNAPSERVER_CONF.format(
        work=work, port=port, bitrate_bps=bitrate_kbps * 1000, chunk_ms=SNAPCAST_CHUNK_MS,
        buffer_ms=SNAPCAST_BUFFER_MS))
    logs = lambda: log_tails(work, "snapserver.out")  # noqa: E731
    procs: list[subprocess.Popen[Any]] = []
    try:
        with open(work / "snapserver.out", "wb") as out:
            procs.append(subprocess.Popen(
                bound_to_us(["snapserver", "-c", str(work / "snapserver.conf")]),
                env=no_device_env() | mic.env | {"HOME": str(work)},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))

        def accepting() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False

        wait_for(accepting, 10, "snapserver accepting clients", logs)
        yield Target("Snapcast", "snapcast", port, procs, logs)
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ run and report


@dataclass
class Figures:
    """What one system measured."""

    delays_ms: list[float]
    idle_cpu: float = 0.0
    fanout_cpu: float = 0.0
    fed: int = 0


def measure(args: argparse.Namespace, mic: VirtualMic, frame_samples: int,
            targets: list[Target]) -> list[Figures]:
    """Both phases against every target."""
    names = ", ".join(target.name for target in targets)
    print(f"{args.clicks} clicks into the mic ({args.clicks * CLICK_EVERY_S:.0f} s), "
          f"found in {names} ...", flush=True)
    figures = [Figures(delays) for delays in
               asyncio.run(click_run(mic, args.clicks, frame_samples, targets))]
    idle_s = min(args.seconds, 10.0)
    print(f"server CPU with no listener, {idle_s:.0f} s each ...", flush=True)
    for target, figure in zip(targets, figures, strict=True):
        figure.idle_cpu = server_cpu(target.pids, idle_s)
    print(f"server CPU with {args.listeners} listeners, {args.seconds:.0f} s each ...",
          flush=True)
    for target, figure in zip(targets, figures, strict=True):
        figure.fanout_cpu, figure.fed = fanout_cpu(target, args.listeners, args.seconds)
        target.check_alive()
    return figures


def table(args: argparse.Namespace, targets: list[Target], figures: list[Figures]) -> str:
    """The results, one column per system and, after each peer's, its ratio to ours."""
    def ratio(ours: float, theirs: float) -> str:
        return f"{theirs / ours:.2f}x" if ours > 0 and theirs == theirs else "-"

    rows: list[tuple[str, list[float], str]] = [
        (f"click delay {name} (ms)", [pick(f.delays_ms, q) for f in figures], ".1f")
        for name, q in (("min", 0.0), ("p50", 0.5), ("p99", 0.99), ("max", 1.0))]
    rows += [("server CPU, no listener (%)", [f.idle_cpu for f in figures], ".1f"),
             (f"server CPU, {args.listeners} listeners (%)", [f.fanout_cpu for f in figures],
              ".1f")]
    header = f"{'':<30}{targets[0].name:>13}"
    for target in targets[1:]:
        header += f"{target.name:>17}{'ratio':>8}"
    lines = [header]
    for label, values, spec in rows:
        line = f"{label:<30}{values[0]:>13{spec}}"
        for value in values[1:]:
            line += f"{value:>17{spec}}{ratio(values[0], value):>8}"
        lines.append(line)
    for label, counts, total in (("clicks found", [len(f.delays_ms) for f in figures],
                                  args.clicks),
                                 ("listeners fed", [f.fed for f in figures], args.listeners)):
        line = f"{label:<30}{f'{counts[0]}/{total}':>13}"
        for count in counts[1:]:
            line += f"{f'{count}/{total}':>17}{'':>8}"
        lines.append(line)
    return "\n".join(lines)


def notes(args: argparse.Namespace, targets: list[Target]) -> str:
    """How each system was set up, and what the figures mean."""
    icecast = tool_version(["icecast2", "-v"], "Icecast")
    darkice = tool_version(["darkice", "-h"], "DarkIce")
    page_s = 4096 * 8 / (args.bitrate_kbps * 1000)
    text = f"""
Ratios are peer / broadcaster. Opus {args.bitrate_kbps} kb/s, 48 kHz, from one PulseAudio source.
- broadcaster: {args.frame_ms:g} ms frames, application "restricted_lowdelay" (the default),
  mono; PyAudio on ALSA `default` (the pulse plugin); one SSE event per packet.
- {icecast}: burst-on-connect 0 and burst-size 0 (server and mount), so a listener starts
  at the next page and gets each page as it arrives; queue-size 512 KiB.
- {darkice}: reads the PulseAudio source directly, asking for {PULSE_LATENCY_MS} ms fragments
  (PULSE_LATENCY_MSEC; it made little difference here); bufferSecs 1, the least it takes
  (it holds audio back only when what follows is slow); opus, cbr, mono. It encodes 10 ms
  frames and lets libogg close a page at ~4 KB: every ~{page_s:.1f} s at this bitrate,
  whatever the settings, and a click waits up to that long for its page."""
    if any(target.kind == "snapcast" for target in targets):
        snapserver = tool_version(["snapserver", "--version"], "snapserver")
        text += f"""
- {snapserver}: ALSA `default` (the pulse plugin), chunk_ms {SNAPCAST_CHUNK_MS}, opus stereo (its
  Opus encoder takes nothing else). It reads ALSA on its own timer and sends a silent chunk
  when the input is late; what follows stays that much later, so its delay climbs by a chunk
  at each hiccup (more on a busy machine). Its clients play each chunk `buffer`
  ({SNAPCAST_BUFFER_MS} ms here, the default) after its capture time, however early it arrives."""
    return text + f"""
Delays are to a packet's arrival at a client on 127.0.0.1, before any playout buffer (a
browser's <audio> element buffers an Ogg stream much further). CPU is user + system time
from /proc over wall time (100 % = one core) of the server side: the broadcaster's process;
icecast2 + darkice; snapserver. Listeners are raw clients in {CLIENT_PROCESSES} other processes."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=100)
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="how long each server's CPU is measured under fan-out")
    parser.add_argument("--frame-ms", type=float, default=20.0, help="the broadcaster's")
    parser.add_argument("--bitrate-kbps", type=int, default=64, help="Opus bitrate, for all")
    parser.add_argument("--no-snapcast", action="store_true", help="leave Snapcast out")
    args = parser.parse_args()
    for tool in ("icecast2", "darkice"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/peers.py needs {tool}: {SETUP_HINT}")
    with_snapcast = not args.no_snapcast and shutil.which("snapserver") is not None
    if not args.no_snapcast and not with_snapcast:
        print(f"snapserver not found, Snapcast left out ({SETUP_HINT})", flush=True)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"stopped by signal {signum}")  # unwinds through the cleanups

    signal.signal(signal.SIGTERM, on_sigterm)
    work = Path(tempfile.mkdtemp(prefix="peers-"))
    try:
        with contextlib.ExitStack() as stack:
            mic = stack.enter_context(VirtualMic(work / "vmic", chunk_ms=10))
            ours = start_broadcaster(
                work, "--source", "mic", "--log-level", "warning",
                env=no_device_env() | mic.env,
                config=(f"[audio]\nframe_ms = {args.frame_ms}\n"
                        f"bitrate_bps = {args.bitrate_kbps * 1000}\n"
                        f"[server]\nmax_listeners = {args.listeners + 20}\n"
                        f"max_listeners_per_ip = {args.listeners + 20}\n"))
            stack.callback(ours.stop)
            targets = [Target("broadcaster", "sse", int(ours.url.rsplit(":", 1)[1]),
                              [ours.process], ours.log),
                       stack.enter_context(icecast_darkice(mic, args.bitrate_kbps,
                                                           args.listeners))]
            if with_snapcast:
                targets.append(stack.enter_context(snapcast(mic, args.bitrate_kbps)))
            figures = measure(args, mic, int(RATE * args.frame_ms / 1000), targets)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(args, targets, figures))
    print(notes(args, targets))


if __name__ == "__main__":
    main()
