"""HTTPS with HTTP/2 beside plain http, served for real: a broadcaster with a self-signed
certificate, in one process and with worker processes, to httpx, a raw HTTP/2 client that
stalls, and Chromium. The certificate itself is tested in test_tls.py."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from hypercorn.asyncio.worker_context import EventWrapper
from hypercorn.protocol.h2 import BUFFER_HIGH_WATER, BUFFER_LOW_WATER, StreamBuffer

from broadcaster.ops.tls import CERT_NAME
from broadcaster.web.hypercorn_internals import hold_up_stalled_http2_writers
from tests.conftest import Broadcaster, free_port, start_broadcaster, wait_until
from tests.support.browser import launch_chromium
from tests.support.signal_tools import decode_packets, dominant_frequency
from tests.support.sse import Event, SSEDecoder
from tests.support.sse_client import stream_events


@dataclass
class Served:
    """A running broadcaster with https on, and how to reach it."""

    proc: Broadcaster
    https_port: int
    state_dir: Path

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def trust(self) -> ssl.SSLContext:
        """Trusts exactly the certificate the server made."""
        return ssl.create_default_context(cafile=self.state_dir / CERT_NAME)

    def client(self, http2: bool = True) -> httpx.Client:
        return httpx.Client(http2=http2, verify=self.trust(), timeout=10)


def serve_tls(tmp: Path, state_dir: Path, extra: str = "", ring_s: float = 3.0) -> Served:
    https_port = free_port()
    config = (f'[tls]\nport = {https_port}\nstate_dir = "{state_dir}"\n'
              f"[ring]\ncapacity_s = {ring_s}\n" + extra)
    proc = start_broadcaster(tmp, "--source", "tone:440", config=config)
    return Served(proc, https_port, state_dir)


@contextmanager
def serving_tls(tmp: Path, state_dir: Path, extra: str = "", ring_s: float = 3.0,
                ) -> Iterator[Served]:
    """`serve_tls`, stopped in the end whatever happens."""
    server = serve_tls(tmp, state_dir, extra, ring_s)
    try:
        yield server
    finally:
        server.proc.stop()


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, state_dir: Path) -> Iterator[Served]:
    server = serve_tls(tmp_path_factory.mktemp("tls"), state_dir)
    yield server
    assert server.proc.stop() == 0, server.proc.log()


@dataclass
class Timed:
    """Audio frames with their arrival times, and the other events, of one connection."""

    config: dict[str, object] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)
    packets: list[bytes] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    reads: int = 0
    http_version: str = ""


def receive_timed(client: httpx.Client, url: str, frames: int) -> Timed:
    got = Timed()
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        got.http_version = response.http_version
        decoder = SSEDecoder()
        for chunk in response.iter_raw():
            got.reads += 1
            now = time.monotonic()
            for event in decoder.feed(chunk):
                if event.event == "config":
                    got.config = json.loads(event.data)
                elif event.event == "message":
                    got.ids.append(int(event.id or -1))
                    got.packets.append(base64.b64decode(event.data))
                    got.arrivals.append(now)
            if len(got.ids) >= frames:
                return got
    raise AssertionError("the stream ended early")


def test_the_page_loads_over_https_with_http2(served: Served) -> None:
    with served.client() as client:
        page = client.get(served.https + "/")
        assert (page.status_code, page.http_version) == (200, "HTTP/2")
        assert "<html" in page.text.lower()
        assert page.headers["content-security-policy"]
        assert client.get(served.https + "/healthz").json()["ok"] is True
    with served.client(http2=False) as client:  # ALPN falls back to HTTP/1.1
        page = client.get(served.https + "/")
        assert (page.status_code, page.http_version) == (200, "HTTP/1.1")


def test_the_stream_flows_over_http2_frame_by_frame(served: Served) -> None:
    with served.client() as client:
        got = receive_timed(client, served.https + "/audio/stream", frames=100)
    assert got.http_version == "HTTP/2"
    assert got.config["https_port"] == served.https_port
    assert got.ids == list(range(got.ids[0], got.ids[0] + 100))
    pcm = decode_packets(got.packets)
    assert abs(dominant_frequency(pcm[48000 // 5:]) - 440) < 5
    # Live, not buffered: each frame arrives about when it is made (20 ms apart), mostly in
    # its own read, rather than in bursts (loose bounds: other tests may load the machine).
    start = got.arrivals[10]
    late = [got.arrivals[i] - start - (i - 10) * 0.020 for i in range(10, 100)]
    assert max(abs(x) for x in late) < 0.5, f"frames off their schedule by {late}"
    assert got.reads >= 40


def test_an_https_stream_over_http11_is_written_straight_to_its_connection(
        served: Served) -> None:
    ids: list[int] = []
    packets: list[bytes] = []
    checked = False
    with served.client(http2=False) as client, \
            client.stream("GET", served.https + "/audio/stream") as response:
        assert response.http_version == "HTTP/1.1"
        decoder = SSEDecoder()
        for chunk in response.iter_raw():
            for event in decoder.feed(chunk):
                if event.event == "message":
                    ids.append(int(event.id or -1))
                    packets.append(base64.b64decode(event.data))
            if len(ids) >= 5 and not checked:  # through the TLS transport, past HTTP's layers
                status = httpx.get(served.proc.url + "/status", timeout=5).json()
                assert status["direct_listeners"] == 1
                checked = True
            if len(ids) >= 60:
                break
    assert checked and ids == list(range(ids[0], ids[0] + len(ids)))
    assert abs(dominant_frequency(decode_packets(packets)[48000 // 5:]) - 440) < 5


def test_plain_http_is_served_alongside(served: Served) -> None:
    with httpx.Client(timeout=10) as client:
        page = client.get(served.proc.url + "/")
        assert (page.status_code, page.http_version) == (200, "HTTP/1.1")
        got = receive_timed(client, served.proc.url + "/audio/stream", frames=20)
    assert got.http_version == "HTTP/1.1"
    assert got.ids == list(range(got.ids[0], got.ids[0] + 20))
    assert got.config["https_port"] == served.https_port  # so the page can offer https


class StalledH2:
    """An HTTP/2 listener that reads a little, then neither reads nor acknowledges: the
    server may send no more than the flow-control window (64 KiB) it has not granted back,
    as with a browser whose page is frozen."""

    def __init__(self, port: int, trust: ssl.SSLContext) -> None:
        trust.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock = trust.wrap_socket(raw, server_hostname="127.0.0.1")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.conn.send_headers(1, [(":method", "GET"), (":scheme", "https"),
                                   (":authority", f"127.0.0.1:{port}"),
                                   (":path", "/audio/stream")], end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        self.decoder = SSEDecoder()

    def read(self, acknowledge: bool = True) -> list[Event]:
        """One read off the socket: the SSE events it completed."""
        events: list[Event] = []
        for h2_event in self.conn.receive_data(self.sock.recv(65536)):
            if isinstance(h2_event, h2.events.DataReceived):
                events += self.decoder.feed(h2_event.data)
                if acknowledge:
                    self.conn.acknowledge_received_data(h2_event.flow_controlled_length,
                                                        h2_event.stream_id)
        self.sock.sendall(self.conn.data_to_send())
        return events

    def close(self) -> None:
        self.sock.close()


class H2Listener:
    """A healthy HTTP/2 listener on its own thread."""

    def __init__(self, served: Served) -> None:
        self.events: list[Event] = []
        self._client = served.client()
        self._thread = threading.Thread(target=self._run, args=(served.https,), daemon=True)
        self._thread.start()

    def _run(self, base: str) -> None:
        with self._client:
            for event in stream_events(self._client, base + "/audio/stream"):
                self.events.append(event)

    def join(self) -> None:
        self._thread.join(10)
        assert not self._thread.is_alive()

    @property
    def ids(self) -> list[int]:
        return [int(e.id or -1) for e in self.events if e.event == "message"]


FAST = "[audio]\nbitrate_bps = 510000\n[server]\nmax_listeners_per_ip = 50\n"


def test_a_stalled_http2_listener_costs_the_others_nothing_and_sigterm_exits_in_2_s(
        tmp_path: Path, state_dir: Path, served: Served) -> None:
    kept = (state_dir / CERT_NAME).read_bytes()
    with serving_tls(tmp_path, state_dir, FAST, ring_s=1.0) as server:
        assert (state_dir / CERT_NAME).read_bytes() == kept  # reused, not made again
        assert "making a self-signed certificate" not in server.proc.log()
        took = stall_and_stop(server)
    assert took < 2.0, f"took {took:.2f} s to exit"


def stall_and_stop(server: Served) -> float:
    """Stall HTTP/2 listeners beside healthy ones, check the healthy ones, then SIGTERM:
    returns how long the exit took."""
    stalled = StalledH2(server.https_port, server.trust())
    stalled.read()
    healthy = [H2Listener(server) for _ in range(3)]
    time.sleep(4)  # 510 kb/s: the stalled one's window and buffers fill within a second
    for listener in healthy:
        ids = listener.ids
        assert len(ids) > 150 and ids == list(range(ids[0], ids[0] + len(ids)))
    # The stalled one is moved to the live edge when it reads again.
    kinds: list[str] = []
    deadline = time.monotonic() + 5
    while "gap" not in kinds and time.monotonic() < deadline:
        kinds += [event.event for event in stalled.read()]
    assert "gap" in kinds
    # Stall it again, then shut down: the exit must not wait for it.
    second = StalledH2(server.https_port, server.trust())
    second.read()
    time.sleep(2)
    started = time.monotonic()
    assert server.proc.stop() == 0, server.proc.log()
    took = time.monotonic() - started
    for listener in healthy:
        listener.join()
        states = [json.loads(e.data)["state"] for e in listener.events if e.event == "state"]
        assert states[-1:] == ["shutdown"]
    stalled.close()
    second.close()
    return took


def test_workers_serve_https_and_http(tmp_path: Path, state_dir: Path) -> None:
    with serving_tls(tmp_path, state_dir, "[server]\nworkers = 2\n") as server:
        wait_until(lambda: len(httpx.get(server.proc.url + "/status", timeout=5)
                               .json()["workers"]) == 2, 5, "both workers up")
        with server.client() as client:
            for _ in range(4):  # connections land on either worker
                got = receive_timed(client, server.https + "/audio/stream", frames=30)
                assert got.http_version == "HTTP/2"
                assert got.ids == list(range(got.ids[0], got.ids[0] + 30))
                assert got.config["https_port"] == server.https_port
            page = client.get(server.https + "/")
            assert (page.status_code, page.http_version) == (200, "HTTP/2")
        with httpx.Client(timeout=10) as client:
            got = receive_timed(client, server.proc.url + "/audio/stream", frames=10)
            assert got.ids == list(range(got.ids[0], got.ids[0] + 10))
        listeners = [H2Listener(server) for _ in range(2)]
        wait_until(lambda: all(len(lst.ids) > 5 for lst in listeners), 5, "h2 listeners")
        started = time.monotonic()
        assert server.proc.stop() == 0, server.proc.log()
        assert time.monotonic() - started < 4
    for listener in listeners:
        listener.join()
        states = [json.loads(e.data)["state"] for e in listener.events if e.event == "state"]
        assert states[-1:] == ["shutdown"]


def test_a_taken_https_port_fails_before_capture_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start_broadcaster(tmp_path, "--source", "tone", wait=False,
                                 config=f'[tls]\nport = {port}\nstate_dir = "{tmp_path}"\n')
        assert proc.process.wait(20) == 1
    log = proc.log()
    assert f"cannot serve https on 127.0.0.1:{port} (tls.port)" in log
    assert "capture started" not in log


def test_an_http2_writer_is_held_up_while_the_peer_grants_no_window() -> None:
    hold_up_stalled_http2_writers()

    async def main() -> list[bool]:
        buffer = StreamBuffer(EventWrapper)
        writer = asyncio.create_task(buffer.push(b"x" * (BUFFER_HIGH_WATER + 1)))
        held = []
        for take in (0, 1000, int(BUFFER_HIGH_WATER - BUFFER_LOW_WATER) + 2000):
            await asyncio.sleep(0.01)
            await buffer.pop(take)  # what the peer's window lets through
            await asyncio.sleep(0.01)
            held.append(not writer.done())
        await writer
        return held

    # an empty pop (window shut) and a small one leave it held; draining below the mark frees it
    assert asyncio.run(main()) == [True, True, False]


STREAM_OVER_EVENTSOURCE_JS = """async () => {
  const got = await new Promise((resolve) => {
    const source = new EventSource('/audio/stream');
    let frames = 0;
    let httpsPort;
    source.addEventListener('config', (e) => { httpsPort = JSON.parse(e.data).https_port; });
    source.onmessage = () => {
      if (++frames === 25) { source.close(); resolve({frames, httpsPort}); }
    };
    setTimeout(() => { source.close(); resolve({frames, httpsPort}); }, 5000);
  });
  return {...got, secure: isSecureContext, decoder: typeof AudioDecoder,
          worklet: typeof AudioWorkletNode,
          protocol: performance.getEntriesByType('navigation')[0].nextHopProtocol};
}"""


@pytest.mark.browser
def test_chromium_on_another_host_gets_a_secure_context_and_the_stream_over_http2(
        served: Served) -> None:
    with launch_chromium(["--host-resolver-rules=MAP pi.test 127.0.0.1"]) as browser:
        # as after accepting the self-signed certificate's warning once
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        assert page.goto(f"https://pi.test:{served.https_port}/").status == 200  # type: ignore[union-attr]
        assert page.evaluate(STREAM_OVER_EVENTSOURCE_JS) == {
            "frames": 25, "httpsPort": served.https_port, "secure": True,
            "decoder": "function", "worklet": "function", "protocol": "h2"}
        plain_port = served.proc.url.rsplit(":", 1)[1]
        page.goto(f"http://pi.test:{plain_port}/")
        assert page.evaluate("isSecureContext") is False  # why https is needed
        context.close()
