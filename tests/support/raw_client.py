"""A bare asyncio SSE client on raw sockets, for many listeners at once (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import socket


async def open_stream(port: int, last_id: int | None = None, rcvbuf: int | None = None,
                      path: str = "/audio/stream",
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """GET the stream from 127.0.0.1:port; raises ConnectionRefusedError unless it is 200.

    `rcvbuf` shrinks the socket's receive buffer (and the reader's), so that a client that
    stops reading holds up the server's sends within seconds, as a stuck phone would.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=rcvbuf or 2**16)
    except BaseException:  # refused, reset, or cancelled by a caller's timeout: no fd leaks
        sock.close()
        raise
    try:
        extra = f"Last-Event-ID: {last_id}\r\n" if last_id is not None else ""
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise ConnectionRefusedError(head.split(b"\r\n", 1)[0].decode())
    except BaseException:
        writer.close()
        raise
    return reader, writer


def dechunk(buffer: bytearray) -> bytes:
    """Take the complete HTTP/1.1 chunks out of `buffer`; return their payload."""
    out = bytearray()
    while True:
        end = buffer.find(b"\r\n")
        if end < 0:
            return bytes(out)
        size = int(buffer[:end].split(b";")[0], 16)
        if len(buffer) < end + 2 + size + 2:
            return bytes(out)
        out += buffer[end + 2:end + 2 + size]
        del buffer[:end + 2 + size + 2]
