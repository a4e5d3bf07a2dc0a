"""The webhook against real HTTP servers on 127.0.0.1: one that takes the changes, one that
hangs, one that refuses, one that answers errors and then recovers; and the real
broadcaster posting its episodes while its listeners notice nothing."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from broadcaster.hooks.webhook import Webhook
from tests.conftest import free_port, start_broadcaster, wait_until
from tests.support.sse_client import BackgroundListener
from tests.web.test_activity_api import ALERTS, looped_sound


class Hook:
    """A real HTTP server that keeps what it is POSTed and answers `status` (settable)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 204
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                if hook.status < 300:
                    hook.bodies.append(body)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


@pytest.fixture
def hanging() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


async def deliver(webhook: Webhook, payloads: list[dict[str, Any]], until: Any,
                  timeout_s: float = 10.0) -> None:
    task = asyncio.create_task(webhook.run())
    for payload in payloads:
        webhook.submit(payload)
    for _ in range(int(timeout_s / 0.02)):
        if until():
            break
        await asyncio.sleep(0.02)
    task.cancel()


def test_changes_arrive_in_order(hook: Hook) -> None:
    webhook = Webhook(hook.url, 2.0)
    asyncio.run(deliver(webhook, [{"n": n} for n in range(5)], lambda: webhook.sent == 5))
    assert hook.bodies == [{"n": n} for n in range(5)]
    assert webhook.counters() == {"webhook_sent": 5, "webhook_failures": 0,
                                  "webhook_dropped": 0, "webhook_down": None}


def test_a_hook_that_hangs_times_out_and_the_change_is_dropped_after_retries(
        hanging: str, caplog: pytest.LogCaptureFixture) -> None:
    webhook = Webhook(hanging, 0.5, retry_delays_s=(0.05, 0.05))
    asyncio.run(deliver(webhook, [{"n": 1}], lambda: webhook.dropped == 1))
    assert (webhook.failures, webhook.dropped) == (3, 1)
    assert webhook.down == "no answer within 0.5 s"
    assert caplog.text.count("the webhook") == 1  # once per outage, not per try


def test_a_refused_hook_is_counted() -> None:
    webhook = Webhook(f"http://127.0.0.1:{free_port()}/hook", 1.0, retry_delays_s=(0.05,))
    asyncio.run(deliver(webhook, [{"n": 1}, {"n": 2}], lambda: webhook.dropped == 2))
    assert (webhook.sent, webhook.failures) == (0, 4)
    assert webhook.down is not None and "Connect" in webhook.down


def test_a_hook_that_answers_errors_then_recovers(hook: Hook,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="broadcaster.hooks.webhook")
    hook.status = 500
    webhook = Webhook(hook.url, 1.0, retry_delays_s=(0.2, 0.2, 0.2))

    def recover() -> bool:
        if webhook.failures >= 2:
            hook.status = 200
        return webhook.sent == 1

    asyncio.run(deliver(webhook, [{"n": 1}], recover))
    assert hook.bodies == [{"n": 1}] and webhook.down is None
    assert "it answered 500" in caplog.text and "answers again" in caplog.text


@pytest.mark.parametrize("works", [True, False])
def test_the_broadcaster_posts_its_episodes_and_a_hanging_hook_costs_listeners_nothing(
        tmp_path: Path, hook: Hook, hanging: str, works: bool) -> None:
    wav = looped_sound(tmp_path / "sound.wav")
    proc = start_broadcaster(tmp_path, "--source", f"file:{wav}", config=(
        ALERTS + f'webhook_url = "{hook.url if works else hanging}"\nwebhook_timeout_s = 1.0\n'))
    try:
        listener = BackgroundListener(proc.url + "/audio/stream")
        if works:
            wait_until(lambda: len(hook.bodies) >= 2, 15, "an episode's start and end")
            start, end = hook.bodies[:2]
            assert (start["event"], start["change"], end["change"]) == (
                "activity", "start", "end")
            assert start["episode"] == end["episode"] and start["source"].startswith("file:")
        else:
            wait_until(lambda: httpx.get(proc.url + "/status", timeout=5).json()[
                "webhook_failures"] >= 2, 15, "the hook's failures counted")
        time.sleep(1.0)
        listener.stop()
        arrivals = [at for at, event in listener.events if event.event == "message"]
        gaps = [b - a for a, b in itertools.pairwise(arrivals[10:])]
        # Never stalled: a hook that held up the loop would hold it for its 1 s timeout.
        assert len(arrivals) > 100 and max(gaps) < 0.8
        metrics = httpx.get(proc.url + "/metrics", timeout=5).text
        assert "broadcaster_webhook_failures_total" in metrics
    finally:
        assert proc.stop() == 0, proc.log()
