"""The floor of a Python server's write: a bare asyncio server that sends every listener
the same bytes every N ms, and does nothing else (no capture, no ring, no HTTP library).

    .venv/bin/python -m bench.peers.floor --port 8000 --every-ms 500 --bytes 6100

bench.peers runs it beside the broadcaster's bundled listeners (`--floor`): what one write
to a socket costs this interpreter, with the broadcaster's own socket options, at the
same granularity and size. Any GET gets a chunked 200 response that never ends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket

from broadcaster.ops.sockets import SEND_BUFFER_BYTES
from broadcaster.web.hypercorn_internals import http_chunk

HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"transfer-encoding: chunked\r\n\r\n")


class Listener(asyncio.Protocol):
    """One connection: answered once its request head is in, then only written to."""

    def __init__(self, listeners: set[asyncio.WriteTransport]) -> None:
        self._listeners = listeners
        self._transport: asyncio.WriteTransport | None = None
        self._head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._transport is None or self._transport in self._listeners:
            return
        self._head += data
        if b"\r\n\r\n" in self._head:
            self._transport.write(HEAD)
            self._listeners.add(self._transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._listeners.discard(self._transport)


async def serve(port: int, every_s: float, size: int) -> None:
    """Write `size` bytes to every listener every `every_s` (runs until killed)."""
    listeners: set[asyncio.WriteTransport] = set()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)  # as ours
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Listener(listeners), sock=sock, backlog=4096)
    chunk = http_chunk(os.urandom(size * 3 // 4 + 3).hex().encode()[:size])
    async with server:
        while True:
            await asyncio.sleep(every_s)
            for transport in list(listeners):
                if not transport.is_closing() and not transport.get_write_buffer_size():
                    transport.write(chunk)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.floor",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--every-ms", type=float, default=500.0)
    parser.add_argument("--bytes", type=int, default=6100)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.every_ms / 1000, args.bytes))


if __name__ == "__main__":
    main()
