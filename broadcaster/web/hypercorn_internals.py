"""Listeners' streams written straight to their connections, past the HTTP layers.

Once a stream's response has begun, every write through ASGI crosses Quart, Hypercorn's
stream and protocol objects, h11's state machine and a lock before it reaches the socket:
more than half of what a listener costs a busy server (py-spy, 2,000 listeners). The body
of a plain HTTP/1.1 response is only chunks on the connection, so the fan-out writes them
itself (fanout.py's `Sink`), to the same asyncio transport Hypercorn writes to, in order
after the response head and the first event that went through ASGI. The end of the
stream goes through ASGI again, so Hypercorn and h11 close it as usual.

Hypercorn has no API for the transport: `transport_for` follows the ASGI `send` callable
to it and checks each step's type, so another Hypercorn (or HTTP/2, HTTP/1.0, HEAD) gets
None and the stream is served through ASGI as before. tests/test_direct.py checks that
the Hypercorn this project installs takes this path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import h11
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import HTTPStream

SCOPE_KEY = "broadcaster.transport"  # where the middleware leaves it in scope["extensions"]

ASGIApp = Any  # an ASGI 3 callable: (scope, receive, send) -> awaitable


def http_chunk(data: bytes) -> bytes:
    """`data` as one chunk of HTTP/1.1's chunked transfer coding (RFC 9112, 7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class ChunkedSink:
    """A fan-out `Sink` on an HTTP/1.1 connection whose chunked response has begun."""

    __slots__ = ("_transport",)

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport

    def send(self, data: bytes) -> None:
        """Queue `data` as one chunk."""
        self._transport.write(http_chunk(data))

    def backlog(self) -> int:
        """Bytes the transport holds that the kernel has not taken yet."""
        return self._transport.get_write_buffer_size()

    def closed(self) -> bool:
        """Whether the connection is closing or closed."""
        return self._transport.is_closing()


def transport_for(scope: dict[str, Any], send: Any) -> asyncio.WriteTransport | None:
    """The transport under a GET over HTTP/1.1 that Hypercorn serves, or None."""
    if scope.get("type") != "http" or scope.get("method") != "GET" \
            or scope.get("http_version") != "1.1":
        return None
    stream = getattr(send, "__self__", None)
    if not isinstance(stream, HTTPStream):
        return None
    protocol = getattr(stream.send, "__self__", None)
    if not isinstance(protocol, H11Protocol) or not isinstance(protocol.connection,
                                                               h11.Connection):
        return None
    server = getattr(protocol.send, "__self__", None)
    if not isinstance(server, TCPServer):
        return None
    transport = server.writer.transport
    return transport if isinstance(transport, asyncio.WriteTransport) else None


def with_transports(app: ASGIApp, paths: frozenset[str]) -> ASGIApp:
    """Wrap an ASGI app so that requests for `paths` find their transport (or None) in
    `scope["extensions"][SCOPE_KEY]`."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("path") in paths:
            extensions = scope.setdefault("extensions", {})
            extensions[SCOPE_KEY] = transport_for(scope, send)
        await app(scope, receive, send)

    return asgi


def sink_from(scope: Mapping[str, Any]) -> ChunkedSink | None:
    """The direct sink for a request the wrapper saw, or None: serve it through ASGI."""
    transport = (scope.get("extensions") or {}).get(SCOPE_KEY)
    return None if transport is None else ChunkedSink(transport)
