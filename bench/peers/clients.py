"""The benchmark's clients: one per system that decodes its stream and finds the clicks in
it (latency), and many that only read and drop (fan-out load, in client processes)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import opuslib

from bench.latency import RATE, click_pcm
from bench.peers.wire import (
    MOUNT,
    SNAP_CODEC_HEADER,
    SNAP_WIRE_CHUNK,
    STREAM_PATH,
    page_packets,
    snap_blob,
    snap_hello,
    take_ogg_pages,
    take_snap_messages,
)
from tests.support.raw_client import dechunk, open_stream
from tests.support.sse import SSEDecoder

CLICK_SAMPLES = len(click_pcm()) // 2  # stream samples from one click to the next
LOUD = 8000  # a decoded packet whose peak exceeds this holds (part of) a click
MAX_PACKET_SAMPLES = 5760  # 120 ms, the most one Opus packet holds

Reader = tuple[asyncio.StreamReader, asyncio.StreamWriter]


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


def mono(pcm: bytes, channels: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    """The first channel of interleaved s16le PCM."""
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
    """Connect to snapserver's stream port and say Hello."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(snap_hello(client_id))
    return reader, writer


async def open_listener(kind: str, port: int, client_id: str) -> Reader:
    """Connect as a listener of a system whose stream is of `kind`."""
    if kind == "snapcast":
        return await open_snapcast(port, client_id)
    if kind.startswith("sse?"):  # the broadcaster's stream with a query (bundle_ms=...)
        return await open_http(port, STREAM_PATH + kind[3:])
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
