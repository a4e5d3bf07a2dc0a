"""Hypercorn's internals as web/hypercorn_internals.py relies on them: the version pinned,
the private classes where it expects them, and which requests a real Hypercorn lets us
write to directly (the fan-out's side of direct writes: tests/stream/test_direct_listeners.py)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h11
import httpx
import pytest
from hypercorn.asyncio import serve
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import EventWrapper
from hypercorn.config import Config as HypercornConfig
from hypercorn.protocol import h2 as hypercorn_h2
from hypercorn.protocol.h2 import StreamBuffer
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import HTTPStream
from quart import Quart, request

from broadcaster.web.hypercorn_internals import http_chunk, sink_from, with_transports
from tests.conftest import Broadcaster, free_port, start_broadcaster, wait_until
from tests.support.sse_client import BackgroundListener, receive

PINNED_MINOR = "0.18"  # as pyproject.toml pins it


def test_hypercorn_is_the_minor_version_the_internals_were_written_against() -> None:
    version = importlib.metadata.version("hypercorn")
    assert version.startswith(f"{PINNED_MINOR}."), (
        f"Hypercorn {version} is installed, but web/hypercorn_internals.py was written "
        f"against {PINNED_MINOR}: check every private name it uses, then move the pin")


@pytest.mark.parametrize(("owner", "name"), [
    (StreamBuffer, "pop"),
    (hypercorn_h2, "BUFFER_LOW_WATER"), (hypercorn_h2, "StreamBuffer"),
])
def test_the_private_names_the_internals_use_are_still_there(owner: object, name: str) -> None:
    assert hasattr(owner, name), f"Hypercorn moved {owner!r}.{name}: see hypercorn_internals.py"


def test_the_private_attributes_the_internals_use_are_still_set() -> None:
    """What `transport_for` follows and the HTTP/2 buffer patch reads, on live objects."""
    buffer = StreamBuffer(EventWrapper)
    assert {"buffer", "_paused", "_is_empty"} <= set(vars(buffer))
    init = inspect.getsource(TCPServer.__init__)
    assert "self.writer" in init and "self.protocol" in init
    assert "self.connection" in inspect.getsource(H11Protocol.__init__)
    for cls in (HTTPStream, H11Protocol):  # each keeps the `send` it was built with
        assert "self.send = send" in inspect.getsource(cls.__init__), cls


def test_a_chunk_is_what_an_http_client_reads_back() -> None:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    client.receive_data(head + http_chunk(b"id: 1\ndata: AAAA\n\n") + http_chunk(b"x" * 300))
    assert isinstance(client.next_event(), h11.Response)
    got = b""
    while isinstance(event := client.next_event(), h11.Data):
        got += event.data
    assert got == b"id: 1\ndata: AAAA\n\n" + b"x" * 300


# -- which requests Hypercorn lets us write to ------------------------------------------

@pytest.fixture(scope="module")
def probe_server() -> Iterator[tuple[int, list[bool]]]:
    """A real Hypercorn serving a Quart app that notes, per request to /probe, whether it
    found a transport to write to."""
    app = Quart(__name__)
    found: list[bool] = []

    @app.route("/probe", methods=["GET", "HEAD"])
    async def probe() -> Any:
        found.append(sink_from(request.scope) is not None)
        return "ok"

    app.asgi_app = with_transports(app.asgi_app, frozenset({"/probe"}))  # type: ignore[method-assign]
    port = free_port()
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        loop.run_until_complete(serve(app, config, shutdown_trigger=stop.wait))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: _answers(port), 10, "the probe server answers")
    found.clear()
    yield port, found
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/probe", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def raw_request(port: int, text: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(text.encode())
        return sock.recv(4096)


def test_a_get_over_http11_is_written_to_directly(probe_server: tuple[int, list[bool]]
                                                   ) -> None:
    port, found = probe_server
    found.clear()
    assert httpx.get(f"http://127.0.0.1:{port}/probe", timeout=5).text == "ok"
    assert found == [True]


@pytest.mark.parametrize("head", [
    "GET /probe HTTP/1.0\r\n\r\n",  # no chunked coding: the body ends with the connection
    "HEAD /probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # no body at all
])
def test_other_requests_go_through_asgi(probe_server: tuple[int, list[bool]],
                                        head: str) -> None:
    port, found = probe_server
    found.clear()
    assert raw_request(port, head).startswith(b"HTTP/1.")
    assert found == [False]


def test_http2_goes_through_asgi(probe_server: tuple[int, list[bool]]) -> None:
    port, found = probe_server
    found.clear()
    with httpx.Client(http1=False, http2=True, timeout=5) as client:  # h2c, prior knowledge
        response = client.get(f"http://127.0.0.1:{port}/probe")
    assert (response.http_version, response.text) == ("HTTP/2", "ok")
    assert found == [False]


# -- the real broadcaster -----------------------------------------------------------------

@pytest.mark.parametrize("workers", [0, 2])
def test_the_broadcaster_writes_its_http11_listeners_directly(tmp_path: Path,
                                                             workers: int) -> None:
    proc: Broadcaster = start_broadcaster(tmp_path, "--source", "tone:440",
                                          config=f"[server]\nworkers = {workers}\n")
    try:
        def status() -> dict[str, Any]:
            result: dict[str, Any] = httpx.get(proc.url + "/status", timeout=5).json()
            return result

        listeners = [BackgroundListener(proc.url + "/audio/stream") for _ in range(3)]
        try:
            wait_until(lambda: status()["direct_listeners"] == 3, 5, "3 direct listeners")
            got = receive(proc.url + "/audio/stream", frames=50)
            assert got.ids == list(range(got.ids[0], got.ids[0] + 50))
            wait_until(lambda: "broadcaster_direct_listeners 3\n" in httpx.get(
                proc.url + "/metrics", timeout=5).text, 5, "the metric")
        finally:
            for listener in listeners:
                listener.stop()
        wait_until(lambda: status()["direct_listeners"] == 0, 5, "all gone")
    finally:
        assert proc.stop() == 0, proc.log()
