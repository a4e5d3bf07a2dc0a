"""A real streaming HTTP client for the broadcaster's SSE stream, for the tests."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.sse import Event, SSEDecoder


@dataclass
class Received:
    """What one connection got: the config, audio frames by id, and every other event."""

    config: dict[str, Any] = field(default_factory=dict)
    frames: list[tuple[int, bytes]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    comments: int = 0

    @property
    def ids(self) -> list[int]:
        return [seq for seq, _ in self.frames]

    @property
    def packets(self) -> list[bytes]:
        return [packet for _, packet in self.frames]

    def named(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.events if e.event == name]

    def keep(self, event: Event) -> None:
        """File one event: the first config, an audio frame, or any other event."""
        if event.event == "config" and not self.config:
            self.config = json.loads(event.data)
        elif event.event == "message":
            self.frames.append((int(event.id or -1), base64.b64decode(event.data)))
        else:
            self.events.append(event)


def stream_events(client: httpx.Client, url: str, headers: dict[str, str] | None = None,
                  ) -> Iterator[Event]:
    """Yield events from the stream as they arrive (the connection closes when you stop)."""
    with client.stream("GET", url, headers=headers or {}) as response:
        response.raise_for_status()
        assert response.headers["content-type"].startswith("text/event-stream")
        decoder = SSEDecoder()
        for chunk in response.iter_raw():
            yield from decoder.feed(chunk)


def receive(url: str, frames: int, headers: dict[str, str] | None = None,
            until: str | None = None, timeout_s: float = 10.0) -> Received:
    """Connect, collect `frames` audio frames (or stop at the first `until` event), close."""
    got = Received()
    with httpx.Client(timeout=httpx.Timeout(timeout_s)) as client:
        for event in stream_events(client, url, headers):
            got.keep(event)
            if len(got.frames) >= frames or (until is not None and event.event == until):
                break
    return got


class BackgroundListener:
    """A listener on its own thread, keeping every event with its arrival time."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[float, Event]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        with httpx.Client(timeout=10) as client:
            for event in stream_events(client, url):
                self.events.append((time.monotonic(), event))
                if self._stop.is_set():
                    return

    def stop(self) -> None:
        """Disconnect (at the next event) and wait for the thread."""
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive(), "the listener thread did not finish"

    def named(self, name: str) -> list[Event]:
        """The events of one kind, in order."""
        return [event for _, event in self.events if event.event == name]

    @property
    def ids(self) -> list[int]:
        """The audio ids received, in order."""
        return [int(event.id or -1) for event in self.named("message")]


def collect(url: str, seconds: float, headers: dict[str, str] | None = None) -> Received:
    """Everything one connection gets in `seconds` (then it closes)."""
    got = Received()
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=10) as client:
        for event in stream_events(client, url, headers):
            got.keep(event)
            if time.monotonic() > deadline:
                break
    return got


class TolerantListener(BackgroundListener):
    """A listener whose connection may be cut (its server or worker is killed)."""

    def _run(self, url: str) -> None:
        with contextlib.suppress(httpx.TransportError):
            super()._run(url)

    def arrivals(self) -> list[tuple[float, int]]:
        """(arrival time, id) of each audio frame, in order."""
        return [(at, int(e.id or -1)) for at, e in self.events if e.event == "message"]
