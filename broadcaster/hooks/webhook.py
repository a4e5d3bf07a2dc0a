"""A webhook for home automation: each sound episode's start and end POSTed as JSON to a
URL the user gives, off the capture path.

Changes wait in a bounded queue (the oldest go first when it is full, counted) and one task
sends them in order, each with a timeout and a few retries with back-off. A hook that is
slow, refuses or answers garbage costs the broadcast nothing; its outage is logged once,
when it begins, and once when it ends, and counted in /status and /metrics.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import httpx

logger = logging.getLogger(__name__)

MAX_QUEUE = 100
RETRY_DELAYS_S = (1.0, 2.0, 4.0)  # after the first try fails; then the change is dropped


class Webhook:
    """POSTs JSON payloads to `url`, one at a time, in the order they came."""

    def __init__(self, url: str, timeout_s: float,
                 retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._retry_delays_s = retry_delays_s
        self._queue: deque[dict[str, Any]] = deque()
        self._ready = asyncio.Event()
        self.sent = 0  # changes the hook took (a 2xx answer)
        self.failures = 0  # tries that failed: no answer in time, refused, not a 2xx
        self.dropped = 0  # changes given up on: retries exhausted, or the queue was full
        self.down: str | None = None  # why the hook is failing now, or None

    def submit(self, payload: dict[str, Any]) -> None:
        """Queue a payload (never blocks)."""
        if len(self._queue) >= MAX_QUEUE:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(payload)
        self._ready.set()

    def counters(self) -> dict[str, Any]:
        """For /status and /metrics."""
        return {"webhook_sent": self.sent, "webhook_failures": self.failures,
                "webhook_dropped": self.dropped, "webhook_down": self.down}

    async def run(self) -> None:
        """Send what is queued, as it comes (runs until cancelled)."""
        async with httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False) as client:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._queue:
                    await self._deliver(client, self._queue.popleft())

    async def _deliver(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
        for delay_s in (*self._retry_delays_s, None):
            problem = await self._try(client, payload)
            if problem is None:
                self.sent += 1
                if self.down is not None:
                    logger.info("the webhook answers again")
                    self.down = None
                return
            self.failures += 1
            if self.down is None:
                logger.warning("the webhook %s fails (%s): retrying, and counting in /status",
                               self.url, problem)
            self.down = problem
            if delay_s is None:
                break
            await asyncio.sleep(delay_s)
        self.dropped += 1

    async def _try(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> str | None:
        """None when the hook took the payload; else what went wrong, in a few words."""
        try:
            response = await client.post(self.url, json=payload)
        except httpx.TimeoutException:
            return f"no answer within {self._timeout_s:g} s"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:200]
        if not response.is_success:
            return f"it answered {response.status_code}"
        return None
