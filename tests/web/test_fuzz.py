"""Bad input never crashes anything: property tests of the parsers, and a fuzz run of the
HTTP surface of a real server while a healthy listener keeps streaming."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcaster.config import Config, ConfigError
from broadcaster.config_file import config_from_dict
from broadcaster.web.app import BadRequestError, parse_backlog_ms, parse_last_id
from tests.conftest import Broadcaster, start_broadcaster
from tests.support.sse_client import BackgroundListener

junk = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@given(header=st.none() | junk, query=st.none() | junk)
def test_last_event_id_parsing_is_total(header: str | None, query: str | None) -> None:
    try:
        value = parse_last_id(header, query)
    except BadRequestError as exc:
        assert "must be a non-negative integer" in str(exc)
    else:
        assert value is None or 0 <= value < 10**18


@given(query=st.none() | junk)
def test_backlog_parsing_is_total(query: str | None) -> None:
    try:
        value = parse_backlog_ms(query)
    except BadRequestError as exc:
        assert "backlog_ms must be a whole number" in str(exc)
    else:
        assert 0 <= value <= 1000


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats() | junk,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(junk, inner, max_size=3),
    max_leaves=6)
sections = st.sampled_from(["source", "audio", "ring", "server", "access", "logging", "x"])
keys = st.sampled_from(["spec", "channels", "frame_ms", "bitrate_bps", "application", "port",
                        "host", "capacity_s", "level", "listen_key", "max_listeners", "zz"])


@given(st.dictionaries(sections, st.dictionaries(keys, toml_values, max_size=4) | toml_values,
                       max_size=4))
def test_any_config_is_either_valid_or_a_config_error(data: dict[str, object]) -> None:
    try:
        config = config_from_dict(data)  # type: ignore[arg-type]
    except ConfigError as exc:
        assert str(exc)
    else:
        assert isinstance(config, Config)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broadcaster]:
    proc = start_broadcaster(tmp_path_factory.mktemp("fuzz"), "--source", "tone",
                             config='[access]\ncontrol_token = "fuzz-token-1"\n')
    yield proc
    assert proc.stop() == 0, proc.log()
    assert "Traceback" not in proc.log(), proc.log()


@pytest.fixture(scope="module")
def listener(server: Broadcaster) -> Iterator[BackgroundListener]:
    listening = BackgroundListener(server.url + "/audio/stream")
    yield listening
    listening.stop()
    ids = listening.ids
    assert len(ids) > 50
    assert ids == list(range(ids[0], ids[0] + len(ids))), "the healthy listener lost frames"
    assert not listening.named("gap")


paths = st.sampled_from(["/", "/audio/stream", "/audio/start", "/audio/stop", "/status",
                         "/healthz", "/static/ui/app.js", "/static/../../etc/passwd",
                         "/static/%2e%2e/x", "/%00", "/audio/stream/"]) | \
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30).map(
        lambda p: "/" + p)
headers = st.dictionaries(
    st.sampled_from(["Last-Event-ID", "Authorization", "Content-Type", "Range", "Accept",
                     "Cookie", "X-Forwarded-For", "Transfer-Encoding"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
    max_size=3)
params = st.dictionaries(st.sampled_from(["last_id", "key", "token", "x"]), junk, max_size=3)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
       path=paths, headers=headers, params=params, body=st.binary(max_size=300) |
       st.sampled_from([b"", b"token=fuzz-token-1", b"x" * 20000]))
def test_http_fuzz_never_errors_and_the_listener_keeps_streaming(
    server: Broadcaster, listener: BackgroundListener, method: str, path: str,
    headers: dict[str, str], params: dict[str, str], body: bytes,
) -> None:
    with httpx.Client(timeout=5) as client:
        try:
            request = client.build_request(method, server.url + path, headers=headers,
                                           params=params, content=body)
        except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
            return  # the client refuses to send it: nothing reaches the server
        try:
            response = client.send(request, stream=True)
        except httpx.LocalProtocolError:
            return
        try:
            assert response.status_code < 500 or response.status_code == 503, (
                f"{method} {path} {headers} {params}: {response.status_code}")
        finally:
            response.close()


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            return sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            return b""


def test_malformed_http_is_refused_and_the_listener_keeps_streaming(
    server: Broadcaster, listener: BackgroundListener
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    rng = random.Random(2026)
    garbage = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /audio/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + b"9" * 100000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-Flood: y\r\n" * 5000 + b"\r\n",
        b"POST /audio/start HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\nabc",
        b"POST /audio/stop HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200),  # a TLS hello
        b"GET /\x00\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    ] + [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))) for _ in range(40)]
    for data in garbage:
        answer = raw_exchange(port, data)
        assert not answer.startswith(b"HTTP/1.1 5") or answer.startswith(b"HTTP/1.1 503"), answer
    time.sleep(0.5)
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


def test_many_connections_that_send_nothing_do_not_stop_the_stream(
    server: Broadcaster, listener: BackgroundListener, tmp_path: Path
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]
    try:
        time.sleep(1.0)
        assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200
    finally:
        for sock in idle:
            sock.close()
