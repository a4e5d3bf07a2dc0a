"""Everything that touches Hypercorn's internals, in one place: listeners' streams written
straight to their connections, HTTP/2 writers held up while a peer stops reading, and the
server run and shut down on sockets bound beforehand.

These rely on Hypercorn's private classes (pyproject.toml pins the minor version they were
written against; tests/web/test_hypercorn_internals.py fails loudly if they move).

Direct writes, past the HTTP layers:

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
import logging
import os
import socket
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

import h11
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.config import Config as HypercornConfig
from hypercorn.protocol import h2 as hypercorn_h2
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import HTTPStream
from quart import Quart

if TYPE_CHECKING:
    from broadcaster.ops.tls import TlsSocket

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 1.2

SCOPE_KEY = "broadcaster.transport"  # where the middleware leaves it in scope["extensions"]

ASGIApp = Any  # an ASGI 3 callable: (scope, receive, send) -> awaitable


def http_chunk(data: bytes) -> bytes:
    """`data` as one chunk of HTTP/1.1's chunked transfer coding (RFC 9112, 7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


class ChunkedSink:
    """A fan-out `Sink` on an HTTP/1.1 connection whose chunked response has begun.

    Listeners at the same place in the ring are sent the very same bytes object, one after
    the other: the last one framed is kept, so that a round frames it once, not once per
    listener.
    """

    __slots__ = ("_transport",)
    _last: tuple[bytes, bytes] = (b"", http_chunk(b""))  # (data, as a chunk), any sink's

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport

    def send(self, data: bytes) -> None:
        """Queue `data` as one chunk."""
        last, chunk = ChunkedSink._last
        if data is not last:
            chunk = http_chunk(data)
            ChunkedSink._last = (data, chunk)
        self._transport.write(chunk)

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


def widen_send_buffer(scope: Mapping[str, Any], size_bytes: int) -> None:
    """Give a bulk response (a download) a send buffer of `size_bytes`: the listening
    socket's is small so that a stalled listener shows at once, and it would throttle a
    download to a few MB/s. Nothing for a request the wrapper saw no transport for."""
    transport = (scope.get("extensions") or {}).get(SCOPE_KEY)
    sock = None if transport is None else transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size_bytes)


def hold_up_stalled_http2_writers() -> None:
    """Make Hypercorn's HTTP/2 stream buffer hold up the response's writer until the buffer
    has drained below its low-water mark (idempotent).

    Hypercorn 0.18 lets the writer go on after any pop that takes less than the mark, the
    empty pops made while the peer's flow-control window is shut included: the stream of an
    HTTP/2 listener that stops reading would pile up in memory without bound, instead of
    holding up its own generator, which then jumps to the live edge as over HTTP/1.1.
    """
    buffer_class = hypercorn_h2.StreamBuffer
    if getattr(buffer_class.pop, "holds_up_writer", False):
        return
    low_water = hypercorn_h2.BUFFER_LOW_WATER

    async def pop(self: hypercorn_h2.StreamBuffer, max_length: int) -> bytes:
        length = min(len(self.buffer), max_length)
        data = bytes(self.buffer[:length])
        del self.buffer[:length]
        if len(self.buffer) < low_water:
            await self._paused.set()
        if not self.buffer:
            await self._is_empty.set()
        return data

    pop.holds_up_writer = True  # type: ignore[attr-defined]
    buffer_class.pop = pop  # type: ignore[method-assign]


def _hypercorn_config(sock: socket.socket, tls: TlsSocket | None) -> HypercornConfig:
    hc = HypercornConfig()
    # Hypercorn owns the descriptors from here. With a certificate it serves `bind` with
    # TLS (ALPN: HTTP/2, else HTTP/1.1) and `insecure_bind` as plain HTTP.
    if tls is None:
        hc.bind = [f"fd://{sock.detach()}"]
    else:
        hc.bind = [f"fd://{tls.sock.detach()}"]
        hc.insecure_bind = [f"fd://{sock.detach()}"]
        hc.certfile, hc.keyfile = str(tls.files.cert_file), str(tls.files.key_file)
        hc.alpn_protocols = ["h2", "http/1.1"]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")  # through our logging, not stderr twice
    # Past SHUTDOWN_GRACE_S, connections still open are dropped (see _finish) and end as
    # if the client had gone. Hypercorn must not cancel them first: cancelling an HTTP/2
    # stream fails in Hypercorn 0.18 (it spawns into the cancelled task group) and ends the
    # whole server with that error.
    hc.graceful_timeout = SHUTDOWN_GRACE_S + 0.4
    hc.include_server_header = False
    return hc


async def serve_http(app: Quart, sock: socket.socket, stop: asyncio.Event,
                     on_stop: Callable[[], None], tls: TlsSocket | None = None) -> None:
    """Run Hypercorn on `sock` (and https on `tls`) until `stop` is set (`on_stop` runs
    first), then close its connections within SHUTDOWN_GRACE_S."""
    ports = {sock.getsockname()[1]} | ({tls.sock.getsockname()[1]} if tls else set())

    async def shutdown_trigger() -> None:
        await stop.wait()
        on_stop()

    hold_up_stalled_http2_writers()  # HTTP/2 over TLS, or h2c on the plain port
    server = asyncio.create_task(
        hypercorn_serve(app, _hypercorn_config(sock, tls), shutdown_trigger=shutdown_trigger))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({server, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        stop.set()
        await _finish(server, ports)


async def _finish(server: asyncio.Task[None], ports: Collection[int]) -> None:
    """Let Hypercorn close its connections, but not for longer than SHUTDOWN_GRACE_S.

    Hypercorn waits for each connection's unsent data to drain before closing it, and a
    client that stopped reading never drains: such connections must not hold up the exit.
    """
    done, _ = await asyncio.wait({server}, timeout=SHUTDOWN_GRACE_S)
    if not done:
        dropped = drop_connections(ports)
        logger.warning("%d client(s) that stopped reading held up the shutdown: dropped",
                       dropped)
    await server


def drop_connections(ports: Collection[int]) -> int:
    """Shut down every TCP connection this process has on one of the local `ports` (Linux).

    Hypercorn keeps its client sockets to itself; the kernel lists them. A shut-down socket
    fails its pending writes at once, so the transport holding them closes.
    """
    dropped = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            probe = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # not a socket, or gone meanwhile
        with probe:
            try:
                address = probe.getsockname()
                if (probe.type != socket.SOCK_STREAM or not isinstance(address, tuple)
                        or address[1] not in ports):
                    continue
                probe.getpeername()  # the listening socket has no peer: OSError
                probe.shutdown(socket.SHUT_RDWR)
                dropped += 1
            except OSError:
                continue
    return dropped
