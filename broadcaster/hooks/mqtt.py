"""MQTT for home automation: the broadcaster as a sound sensor on a broker, announced to
Home Assistant by MQTT discovery so that it appears by itself.

Topics, under `<mqtt_topic>/<node>` (the node is the machine's name):
- `availability`: `online`, or `offline` (the broker says it for us when we vanish);
- `sound`: `ON` while an episode of sound is under way, `OFF` after (retained);
- `episode`: each episode's start and end, as the webhook gets them (JSON).
and, unless discovery is off, `<discovery prefix>/binary_sensor/<node>/sound/config`.

One task keeps the connection (reconnecting with back-off) and publishes what is queued;
the queue is bounded, so a broker that is down costs the broadcast nothing: the outage is
logged once and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiomqtt

logger = logging.getLogger(__name__)

MAX_QUEUE = 100
CONNECT_TIMEOUT_S = 10.0
RECONNECT_S = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where the broker is and how the sensor is named there."""

    host: str
    port: int = 1883
    username: str = ""
    password: str = ""  # read from a file by the caller: never logged
    topic: str = "broadcaster"
    discovery_prefix: str = "homeassistant"  # empty: no discovery


def node_id(hostname: str | None = None) -> str:
    """The machine's name as MQTT discovery allows it (letters, digits, `_`, `-`)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", hostname or socket.gethostname()).strip("_")
    return name[:64] or "broadcaster"


class MqttSensor:
    """Publishes the sound sensor's state and episodes; `run()` keeps the connection."""

    def __init__(self, settings: MqttSettings, node: str | None = None,
                 reconnect_s: tuple[float, ...] = RECONNECT_S) -> None:
        self.settings = settings
        self.node = node or node_id()
        self.base = f"{settings.topic}/{self.node}"
        self._reconnect_s = reconnect_s
        self._queue: deque[tuple[str, str, bool]] = deque()
        self._ready = asyncio.Event()
        self._sound = "OFF"
        self._failures = 0  # connections in a row that failed: how long to wait
        self.published = 0
        self.dropped = 0  # messages given up on while the broker was away (queue full)
        self.connected = False
        self.down: str | None = None  # why the broker cannot be reached now

    def submit(self, payload: dict[str, Any]) -> None:
        """An episode began or ended, as the webhook is told it (never blocks)."""
        self._sound = "ON" if payload.get("ongoing") else "OFF"
        self._put(f"{self.base}/episode", json.dumps(payload), retain=False)
        self._put(f"{self.base}/sound", self._sound, retain=True)

    def _put(self, topic: str, payload: str, retain: bool) -> None:
        if len(self._queue) >= MAX_QUEUE:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append((topic, payload, retain))
        self._ready.set()

    def counters(self) -> dict[str, Any]:
        """For /status and /metrics."""
        return {"mqtt_connected": int(self.connected), "mqtt_published": self.published,
                "mqtt_dropped": self.dropped, "mqtt_down": self.down}

    def discovery(self) -> tuple[str, str] | None:
        """Home Assistant's discovery message for the sensor: (topic, JSON), or None."""
        prefix = self.settings.discovery_prefix
        if not prefix:
            return None
        config = {
            "name": "Sound", "unique_id": f"{self.node}_sound", "device_class": "sound",
            "state_topic": f"{self.base}/sound", "payload_on": "ON", "payload_off": "OFF",
            "availability_topic": f"{self.base}/availability",
            "json_attributes_topic": f"{self.base}/episode",
            "device": {"identifiers": [f"broadcaster_{self.node}"],
                       "name": f"Broadcaster {self.node}", "manufacturer": "broadcaster",
                       "model": "live microphone"},
        }
        return f"{prefix}/binary_sensor/{self.node}/sound/config", json.dumps(config)

    async def run(self) -> None:
        """Connect, announce, publish what comes; reconnect with back-off (until cancelled)."""
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                self.connected = False
                problem = str(exc) or type(exc).__name__
                if self.down is None:
                    logger.warning("the MQTT broker %s:%d is not reachable (%s): retrying, "
                                   "and counting in /status", self.settings.host,
                                   self.settings.port, problem)
                self.down = problem
            await asyncio.sleep(self._reconnect_s[min(self._failures,
                                                      len(self._reconnect_s) - 1)])
            self._failures += 1

    async def _session(self) -> None:
        settings = self.settings
        will = aiomqtt.Will(f"{self.base}/availability", "offline", qos=1, retain=True)
        async with aiomqtt.Client(settings.host, settings.port,
                                  username=settings.username or None,
                                  password=settings.password or None,
                                  identifier=f"broadcaster-{self.node}", will=will,
                                  timeout=CONNECT_TIMEOUT_S) as client:
            if (discovery := self.discovery()) is not None:
                await client.publish(discovery[0], discovery[1], qos=1, retain=True)
            await client.publish(f"{self.base}/availability", "online", qos=1, retain=True)
            await client.publish(f"{self.base}/sound", self._sound, qos=1, retain=True)
            self.connected, self._failures = True, 0
            if self.down is not None:
                logger.info("connected to the MQTT broker again")
                self.down = None
            try:
                await self._publish_queued(client)
            except asyncio.CancelledError:  # shutting down: say so, then go on ending
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    await asyncio.wait_for(client.publish(
                        f"{self.base}/availability", "offline", qos=1, retain=True), 1.0)
                raise

    async def _publish_queued(self, client: aiomqtt.Client) -> None:
        while True:
            while self._queue:
                topic, payload, retain = self._queue[0]
                await client.publish(topic, payload, qos=1, retain=retain)
                self._queue.popleft()
                self.published += 1
            await self._ready.wait()
            self._ready.clear()
