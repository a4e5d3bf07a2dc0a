"""What the peers speak, parsed here (pure): Icecast's Ogg pages (RFC 3533) and Snapcast's
binary messages, and the paths the HTTP streams are served on."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

STREAM_PATH = "/audio/stream"  # the broadcaster's
MOUNT = "/live.opus"  # Icecast's mount, where DarkIce sends

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


# ------------------------------------------------------------------ Snapcast messages

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
