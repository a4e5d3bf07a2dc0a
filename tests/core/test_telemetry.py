"""Listener telemetry: report checks and the bounded store (pure), and /audio/telemetry on a
real broadcaster, in one process and with worker processes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.telemetry import (
    FIELDS,
    MAX_DETAIL,
    MAX_REPORT_BYTES,
    RateLimitedError,
    Report,
    TelemetryError,
    TelemetryStore,
    feed_detail,
    merge_detail,
)
from tests.conftest import start_broadcaster, wait_until

GOOD: dict[str, Any] = {
    "listener": "k3J9xQ2mZpA7",
    "latency_ms": 84.2,
    "output_ms": 30.0,
    "buffer_ms": 41.5,
    "target_ms": 50.0,
    "drift_ppm": -12.5,
    "underruns": 0,
    "glitches": 0,
    "reconnects": 1,
    "path": "worklet",
    "agent": "Chrome 131 on Linux",
    "latency_lower_bound": False,
}


def body(**changes: Any) -> bytes:
    return json.dumps(GOOD | changes).encode()


def report(listener: str = "listener-1") -> Report:
    return Report.parse(body(listener=listener))


# -- checking a report -------------------------------------------------------------------
def test_a_good_report_round_trips() -> None:
    parsed = Report.parse(body())
    assert parsed.serialize() == GOOD
    assert Report.parse(json.dumps(parsed.serialize()).encode()) == parsed


def test_unknowns_and_the_path_may_be_null() -> None:
    parsed = Report.parse(body(latency_ms=None, output_ms=None, glitches=None, path=None))
    assert (parsed.latency_ms, parsed.output_ms, parsed.glitches, parsed.path) == (
        None, None, None, None)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("listener", "short", "listener must be 8 to 64"),
    ("listener", "x" * 65, "listener must be 8 to 64"),
    ("listener", "has space!", "listener must be 8 to 64"),
    ("listener", 12345678, "listener must be a string"),
    ("latency_ms", "84", "latency_ms must be a number"),
    ("latency_ms", 60001, "latency_ms must be from -1000 to 60000"),
    ("latency_ms", -1001, "latency_ms must be from -1000 to 60000"),
    ("buffer_ms", None, "buffer_ms must not be null"),
    ("buffer_ms", -1, "buffer_ms must be from 0"),
    ("target_ms", True, "target_ms must be a number"),
    ("drift_ppm", 20000, "drift_ppm must be from -10000 to 10000"),
    ("underruns", 1.5, "underruns must be an integer"),
    ("underruns", -1, "underruns must be from 0"),
    ("underruns", False, "underruns must be an integer"),
    ("glitches", 0.5, "glitches must be an integer"),
    ("glitches", -2, "glitches must be from 0"),
    ("reconnects", 10**10, "reconnects must be from 0"),
    ("path", "", "path must be 1 to 32"),
    ("path", "a" * 33, "path must be 1 to 32"),
    ("path", "<script>", "path must be 1 to 32"),
    ("agent", "é", "agent must be at most 64 printable ASCII"),
    ("agent", "a\nb", "agent must be at most 64 printable ASCII"),
    ("agent", "a" * 65, "agent must be at most 64 printable ASCII"),
    ("agent", None, "agent must not be null"),
    ("latency_lower_bound", 1, "latency_lower_bound must be true or false"),
    ("latency_lower_bound", "true", "latency_lower_bound must be true or false"),
    ("latency_lower_bound", None, "latency_lower_bound must not be null"),
])
def test_each_field_is_checked_by_type_and_range(field: str, value: Any, message: str) -> None:
    with pytest.raises(TelemetryError, match=message):
        Report.parse(body(**{field: value}))


def test_a_latency_may_be_a_lower_bound_and_pages_that_do_not_say_are_heard() -> None:
    assert Report.parse(body(latency_lower_bound=True)).latency_lower_bound is True
    older = dict(GOOD)
    del older["latency_lower_bound"]
    parsed = Report.parse(json.dumps(older).encode())
    assert parsed.latency_lower_bound is False
    assert parsed.serialize() == GOOD


def test_an_unknown_field_is_refused_with_a_suggestion() -> None:
    with pytest.raises(TelemetryError, match=r"unknown field 'latncy_ms' \(did you mean "
                                             r"'latency_ms'\?\); the fields are listener, "):
        Report.parse(body(latncy_ms=3))


def test_missing_fields_are_named() -> None:
    data = dict(GOOD)
    del data["underruns"], data["agent"]
    with pytest.raises(TelemetryError, match=r"missing field\(s\): underruns, agent"):
        Report.parse(json.dumps(data).encode())


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "must be JSON"),
    (b"\xff\xfe", "must be JSON"),
    (b"[1, 2]", "must be a JSON object, got list"),
    (body().replace(b"84.2", b"NaN"), "NaN is not a number JSON allows"),
    (body().replace(b"84.2", b"Infinity"), "Infinity is not a number JSON allows"),
    (body()[:-1] + b', "underruns": 3}', "a field appears twice"),
    (body(agent="a" * 60).ljust(MAX_REPORT_BYTES + 1), "at most 1024 bytes"),
])
def test_malformed_bodies_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(TelemetryError, match=message):
        Report.parse(raw)


@given(st.fixed_dictionaries({
    name: (st.floats(lo, hi) if kind == "number" else st.integers(int(lo), int(hi)))
    for name, (kind, lo, hi, _) in FIELDS.items() if kind in ("number", "count")
}))
def test_any_value_in_range_is_accepted(values: dict[str, Any]) -> None:
    parsed = Report.parse(body(**values))
    assert Report.parse(json.dumps(parsed.serialize()).encode()) == parsed


# -- the store ----------------------------------------------------------------------------
def test_the_latest_report_of_each_listener_is_kept_newest_first() -> None:
    store = TelemetryStore(max_listeners=10, max_per_address=10)
    store.accept(report("listener-1"), "10.0.0.1", 0.0)
    store.accept(report("listener-2"), "10.0.0.2", 1.0)
    newer = Report.parse(body(listener="listener-1", underruns=4))
    store.accept(newer, "10.0.0.1", 5.0)
    detail = store.detail(6.0)
    assert [(d["listener"], d["underruns"], d["age_s"]) for d in detail] == [
        ("listener-1", 4, 1.0), ("listener-2", 0, 5.0)]


def test_a_listener_is_forgotten_30_s_after_its_last_report() -> None:
    store = TelemetryStore(max_listeners=10, max_per_address=10)
    store.accept(report("listener-1"), "10.0.0.1", 0.0)
    store.accept(report("listener-2"), "10.0.0.1", 20.0)
    assert len(store.detail(30.0)) == 2
    assert [d["listener"] for d in store.detail(30.1)] == ["listener-2"]
    assert store.detail(50.1) == []


def test_at_most_max_listeners_are_kept_the_stalest_goes_first() -> None:
    store = TelemetryStore(max_listeners=3, max_per_address=100)
    for n in range(5):
        store.accept(report(f"listener-{n}"), "10.0.0.1", float(n))
    assert len(store) == 3
    assert [d["listener"] for d in store.detail(5.0)] == [
        "listener-4", "listener-3", "listener-2"]


def test_one_listener_may_report_once_a_second() -> None:
    store = TelemetryStore(max_listeners=10, max_per_address=10)
    store.accept(report(), "10.0.0.1", 10.0)
    with pytest.raises(RateLimitedError, match="reports too often") as caught:
        store.accept(report(), "10.0.0.1", 10.4)
    assert caught.value.retry_after_s == pytest.approx(0.6)
    assert store.refused == 1
    assert store.detail(10.5)[0]["age_s"] == 0.5  # the refused report changed nothing
    store.accept(report(), "10.0.0.1", 11.0)


def test_one_address_gets_a_bucket_of_max_per_address_reports() -> None:
    store = TelemetryStore(max_listeners=100, max_per_address=4)
    for n in range(4):
        store.accept(report(f"listener-{n}"), "10.0.0.1", 0.0)
    with pytest.raises(RateLimitedError, match=r"too many reports from 10\.0\.0\.1") as caught:
        store.accept(report("listener-9"), "10.0.0.1", 0.0)
    assert caught.value.retry_after_s == pytest.approx(0.5)  # 4 per 2 s
    store.accept(report("listener-9"), "10.0.0.2", 0.0)  # another address is not held up
    store.accept(report("listener-9"), "10.0.0.1", 2.0)  # refilled


def test_the_address_buckets_are_bounded() -> None:
    store = TelemetryStore(max_listeners=5, max_per_address=1)
    for n in range(50):
        store.accept(report(f"listener-{n}"), f"10.0.0.{n}", float(n))
    assert len(store._buckets) == 5
    assert len(store) == 5


def test_merging_workers_lists_each_listener_once_with_its_newest_report() -> None:
    worker_a = [{"listener": "listener-1", "age_s": 4.0}, {"listener": "listener-2", "age_s": 9.0}]
    worker_b = [{"listener": "listener-1", "age_s": 0.5}]
    assert merge_detail(worker_a, worker_b) == [
        {"listener": "listener-1", "age_s": 0.5}, {"listener": "listener-2", "age_s": 9.0}]
    many = [{"listener": f"listener-{n}", "age_s": n / 100} for n in range(MAX_DETAIL + 5)]
    assert len(merge_detail(many)) == MAX_DETAIL


def test_what_a_worker_sends_is_taken_as_a_list_of_objects() -> None:
    assert feed_detail(None) == []
    assert feed_detail({"listener": "x"}) == []
    assert feed_detail([{"listener": "x"}, 3, "y"]) == [{"listener": "x"}]


# -- the endpoint ---------------------------------------------------------------------------
def post(url: str, content: bytes, content_type: str = "application/json",
         **kwargs: Any) -> httpx.Response:
    return httpx.post(url + "/audio/telemetry", content=content,
                      headers={"Content-Type": content_type}, timeout=5, **kwargs)


def detail_of(url: str, listener: str, **kwargs: Any) -> dict[str, Any] | None:
    response = httpx.get(url + "/status", timeout=5, **kwargs)
    assert response.status_code == 200
    found = [d for d in response.json()["listeners_detail"] if d["listener"] == listener]
    return found[0] if found else None


def test_a_report_is_listed_in_status(tone_server: str) -> None:
    assert detail_of(tone_server, "endpoint-1") is None
    response = post(tone_server, body(listener="endpoint-1"))
    assert response.status_code == 204, response.text
    listed = detail_of(tone_server, "endpoint-1")
    assert listed is not None
    assert {k: v for k, v in listed.items() if k != "age_s"} == GOOD | {"listener": "endpoint-1"}
    assert 0 <= listed["age_s"] < 5


@pytest.mark.parametrize(("content", "content_type", "status", "message"), [
    (body(listener="endpoint-2", colour="red"), "application/json", 400,
     "unknown field 'colour'"),
    (body(listener="endpoint-2", underruns=-3), "application/json", 400,
     "underruns must be from 0"),
    (b"{", "application/json", 400, "must be JSON"),
    (body(listener="endpoint-2"), "text/plain", 415, "application/json"),
    (b" " * (MAX_REPORT_BYTES + 1), "application/json", 413, "at most 1024 bytes"),
])
def test_bad_reports_are_refused_with_a_clear_message(
    tone_server: str, content: bytes, content_type: str, status: int, message: str
) -> None:
    response = post(tone_server, content, content_type)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert detail_of(tone_server, "endpoint-2") is None


def test_a_listener_reporting_too_often_is_told_when_to_come_back(tone_server: str) -> None:
    assert post(tone_server, body(listener="endpoint-3")).status_code == 204
    response = post(tone_server, body(listener="endpoint-3"))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert "reports too often" in response.json()["error"]


def test_reports_need_the_listening_key_like_the_stream(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone",
                             config='[access]\nlisten_key = "listen-key-1"\n')
    try:
        assert post(proc.url, body()).status_code == 401
        assert post(proc.url, body(), params={"key": "wrong-key-1"}).status_code == 403
        assert post(proc.url, body(), params={"key": "listen-key-1"}).status_code == 204
        assert detail_of(proc.url, GOOD["listener"], params={"key": "listen-key-1"})
    finally:
        assert proc.stop() == 0, proc.log()


def test_with_workers_every_report_reaches_the_status_of_every_worker(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone",
                             config="[server]\nworkers = 2\nmax_listeners = 6\n")
    try:
        wait_until(lambda: len(httpx.get(proc.url + "/status").json()["workers"]) == 2, 10,
                   "both workers up")
        # Fresh connections, so that the workers share them out between them.
        for n in range(4):
            assert post(proc.url, body(listener=f"worker-listener-{n}")).status_code == 204

        def all_listed() -> bool:
            # A few answers: each may come from either worker.
            return all(len(httpx.get(proc.url + "/status").json()["listeners_detail"]) == 4
                       for _ in range(4))

        wait_until(all_listed, 5, "every report in /status")
        # Again: each listener is listed once, with its newest report, whichever worker
        # has the older one.
        time.sleep(1.1)
        for n in range(4):
            assert post(proc.url, body(listener=f"worker-listener-{n}", underruns=7)
                        ).status_code == 204

        def updated() -> bool:
            detail = httpx.get(proc.url + "/status").json()["listeners_detail"]
            return len(detail) == 4 and all(d["underruns"] == 7 for d in detail)

        wait_until(updated, 10, "the newer reports in /status")
    finally:
        assert proc.stop() == 0, proc.log()
