"""The listening sockets, bound before anything else starts, and a check that the server
behind one answers."""

from __future__ import annotations

import asyncio
import contextlib
import socket

SEND_BUFFER_BYTES = 16 * 1024  # the kernel doubles it


def probe_host(host: str) -> str:
    """Where this machine reaches a server bound to `host`."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def listening_socket(host: str, port: int, stalled_timeout_s: float) -> socket.socket:
    """The server's socket, bound here so that a taken port fails before capture starts.

    Connections inherit its options. A small send buffer: a listener that stops reading
    holds up its own stream within seconds (and is then moved to the live edge) instead of
    parking megabytes of stale audio in the kernel. A TCP user timeout: the kernel drops a
    connection whose data goes unacknowledged, or whose window stays shut, for that long.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT,
                        int(stalled_timeout_s * 1000))
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def wait_until_serving(host: str, port: int) -> None:
    """Return once the HTTP server answers a request on (host, port)."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(probe_host(host), port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            if (await reader.readline()).startswith(b"HTTP/1.1 "):
                return
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
