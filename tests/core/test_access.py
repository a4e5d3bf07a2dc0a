"""Who may listen and who may control: credentials, caps and headers."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from broadcaster.audio.sources.tone import tone_source
from broadcaster.config_file import config_from_dict
from broadcaster.core.access import basic_password, bearer_token, is_loopback, matches
from broadcaster.core.backoff import BackoffPolicy, FailureBackoff
from broadcaster.core.limits import Admission
from broadcaster.server import WEB_ROOT
from broadcaster.station import Station
from broadcaster.web.app import create_app
from tests.conftest import start_broadcaster
from tests.support.sse_client import receive, stream_events


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("192.168.1.20", False), ("::ffff:10.0.0.1", False), ("fe80::1%eth0", False),
    ("", False), (None, False), ("not-an-ip", False),
])
def test_is_loopback(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_credentials_parsing() -> None:
    assert bearer_token("Bearer abc123") == "abc123"
    assert bearer_token("bearer  abc123 ") == "abc123"
    assert bearer_token("Basic abc") is None and bearer_token(None) is None
    basic = "Basic " + base64.b64encode(b"anyone:s3cret:with:colons").decode()
    assert basic_password(basic) == "s3cret:with:colons"
    assert basic_password("Basic !!!notbase64") is None
    assert basic_password("Basic " + base64.b64encode(b"nocolon").decode()) is None
    assert matches("s3cret", "s3cret") and not matches("s3cre", "s3cret")
    assert not matches("", "") and not matches(None, "x")


def test_admission_caps_and_releases() -> None:
    admission = Admission(max_total=3, max_per_address=2)
    assert admission.admit("a") is None and admission.admit("a") is None
    assert "too many listeners from a" in (admission.admit("a") or "")
    assert admission.admit("b") is None
    assert "full (3 listeners)" in (admission.admit("c") or "")
    admission.release("a")
    assert admission.admit("c") is None
    assert (admission.total, admission.refused, admission.from_address("a")) == (3, 2, 1)
    with pytest.raises(ValueError):
        admission.release("zzz")


def in_process(access: dict[str, str], client: str, method: str, path: str,
               **kwargs: object) -> tuple[int, dict[str, str], bytes]:
    """One request to the real app, with the peer address we choose (no socket needed)."""
    async def main() -> tuple[int, dict[str, str], bytes]:
        config = config_from_dict({"access": access, "server": {"autostart": False}})
        station = Station(config, tone_source(440, -12, 48000, 1))
        await station.open()
        try:
            app = create_app(station, WEB_ROOT)
            test = app.test_client()
            response = await test.open(path, method=method,
                                       scope_base={"client": (client, 40000)},
                                       **kwargs)  # type: ignore[arg-type]
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status_code, headers, await response.get_data()
        finally:
            await station.close()

    return asyncio.run(main())


def test_without_a_token_control_is_for_this_machine_only() -> None:
    assert in_process({}, "127.0.0.1", "POST", "/audio/start")[0] == 200
    status, _, body = in_process({}, "192.168.1.20", "POST", "/audio/start")
    assert status == 403 and b"only from this machine" in body


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, 401),
    ({"headers": {"Authorization": "Bearer wrong-token"}}, 403),
    ({"headers": {"Authorization": "Bearer right-token"}}, 200),
    ({"form": {"token": "right-token"}}, 200),
    ({"form": {"token": "nope"}}, 403),
])
def test_with_a_token_control_needs_it_from_anywhere(
    kwargs: dict[str, object], expected: int
) -> None:
    for client in ("192.168.1.20", "127.0.0.1"):
        status, headers, _ = in_process({"control_token": "right-token"}, client, "POST",
                                        "/audio/stop", **kwargs)
        assert status == expected
        if expected == 401:
            assert headers["www-authenticate"].startswith("Bearer")


def test_request_bodies_over_the_limit_are_refused() -> None:
    status, _, body = in_process({"control_token": "right-token"}, "127.0.0.1", "POST",
                                 "/audio/start", form={"token": "x" * 20000})
    assert status == 413 and b"error" in body


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("keyed")
    proc = start_broadcaster(tmp, "--source", "tone", config=(
        '[access]\nlisten_key = "family-2026"\ncors_origin = "https://example.org"\n'
        "[server]\nmax_listeners = 3\nmax_listeners_per_ip = 2\n"))
    yield proc.url
    assert proc.stop() == 0, proc.log()


def test_a_listen_key_protects_the_page_the_stream_and_status(keyed_server: str) -> None:
    for path in ("/", "/audio/stream", "/status"):
        missing = httpx.get(keyed_server + path, timeout=5)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Basic")
        assert httpx.get(keyed_server + path, params={"key": "wrong-key"},
                         timeout=5).status_code == 403
    assert httpx.get(keyed_server + "/?key=family-2026", timeout=5).status_code == 200
    assert httpx.get(keyed_server + "/status", auth=("me", "family-2026"),
                     timeout=5).status_code == 200
    assert httpx.get(keyed_server + "/healthz", timeout=5).status_code == 200
    got = receive(keyed_server + "/audio/stream?key=family-2026", frames=3)
    assert len(got.packets) == 3


def test_security_and_cors_headers(keyed_server: str) -> None:
    page = httpx.get(keyed_server + "/?key=family-2026", timeout=5)
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Access-Control-Allow-Origin" not in page.headers
    status = httpx.get(keyed_server + "/status?key=family-2026", timeout=5)
    assert status.headers["Access-Control-Allow-Origin"] == "https://example.org"
    missing = httpx.get(keyed_server + "/no/such/page", timeout=5)
    assert missing.status_code == 404 and "error" in missing.json()


def test_listener_caps_answer_503_and_leave_existing_listeners_alone(keyed_server: str) -> None:
    url = keyed_server + "/audio/stream?key=family-2026"
    counts = [0, 0]
    stop = threading.Event()

    def listen(i: int, source_ip: str) -> None:
        transport = httpx.HTTPTransport(local_address=source_ip)
        with httpx.Client(timeout=10, transport=transport) as client:
            for event in stream_events(client, url):
                counts[i] += event.event == "message"
                if stop.is_set():
                    return

    threads = [threading.Thread(target=listen, args=(0, "127.0.0.1")),
               threading.Thread(target=listen, args=(1, "127.0.0.1"))]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    try:
        per_ip = httpx.get(url, timeout=5)
        assert per_ip.status_code == 503
        assert per_ip.headers["Retry-After"] == "10"
        assert "too many listeners from 127.0.0.1" in per_ip.json()["error"]
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        with other, other.stream("GET", url, timeout=5) as third:
            assert third.status_code == 200  # another address: admitted (3 of 3)
            with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3")) as c:
                full = c.get(url, timeout=5)
            assert full.status_code == 503 and "full (3 listeners)" in full.json()["error"]
        before = list(counts)
        time.sleep(0.5)
        assert all(after - b >= 15 for after, b in zip(counts, before, strict=True))
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    time.sleep(0.3)  # the server sees the disconnects: room again
    assert receive(url, frames=1).packets


def test_wrong_keys_from_one_address_are_slowed_and_the_key_never_is() -> None:
    policy = BackoffPolicy(free_failures=3, first_delay_s=0.2, max_delay_s=0.8)

    async def main() -> None:
        config = config_from_dict({"access": {"listen_key": "family-2026",
                                              "control_token": "right-token"},
                                   "server": {"autostart": False}})
        station = Station(config, tone_source(440, -12, 48000, 1))
        await station.open()
        try:
            test = create_app(station, WEB_ROOT, backoff=FailureBackoff(policy)).test_client()

            async def get(path: str, client: str, key: str) -> tuple[int, float]:
                started = time.monotonic()
                response = await test.get(path, query_string={"key": key},
                                          scope_base={"client": (client, 40000)})
                return response.status_code, time.monotonic() - started

            in_a_row = [await get("/", "192.0.2.7", f"guess-{i}") for i in range(6)]
            assert [status for status, _ in in_a_row] == [403] * 6
            for (_, took_s), delay_s in zip(in_a_row[3:], (0.2, 0.4, 0.8), strict=True):
                # (the count decays a little in between: a half-life of 60 s)
                assert took_s >= 0.97 * delay_s  # the first three were answered at once
            guesses = [asyncio.create_task(get("/status", "192.0.2.7", f"guess-{i}"))
                       for i in range(6, 30)]
            await asyncio.sleep(0.05)  # the 24 guesses are in, each waiting 0.8 s
            for client in ("192.0.2.7", "198.51.100.2"):  # the same address, and another
                status, took_s = await get("/status", client, "family-2026")
                assert status == 200 and took_s < 0.8
                assert not any(guess.done() for guess in guesses)  # they still wait
            assert [status for status, _ in await asyncio.gather(*guesses)] == [403] * 24
            refused = await test.post("/audio/stop", headers={"Authorization": "Bearer nope"},
                                      scope_base={"client": ("198.51.100.3", 40000)})
            assert refused.status_code == 403  # a wrong control token counts too
            metrics = await test.get("/metrics", query_string={"key": "family-2026"})
            text = (await metrics.get_data()).decode()
            assert "broadcaster_wrong_keys_total 31\n" in text
            assert "broadcaster_slowed_wrong_keys_total 27\n" in text
            status_json = await (await test.get("/status?key=family-2026")).get_json()
            assert (status_json["wrong_keys"], status_json["slowed_wrong_keys"]) == (31, 27)
        finally:
            await station.close()

    asyncio.run(main())
