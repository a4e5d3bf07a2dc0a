"""The sound sensor on a real Mosquitto broker: announced to Home Assistant, ON and OFF with
each episode, `offline` when it goes; and a broker that is away costs the broadcast
nothing, and is found again when it comes back."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_broadcaster, wait_until
from tests.support.mosquitto import Mosquitto, Subscriber
from tests.support.sse_client import BackgroundListener
from tests.web.test_activity_api import ALERTS, looped_sound

NODE_TOPICS = ["broadcaster/#", "homeassistant/#"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path) as running:
        yield running


def mqtt_config(port: int) -> str:
    return ALERTS + f'mqtt_host = "127.0.0.1"\nmqtt_port = {port}\n'


def test_the_sensor_is_announced_and_follows_the_episodes(tmp_path: Path,
                                                          broker: Mosquitto) -> None:
    subscriber = Subscriber(broker.port, NODE_TOPICS)
    wav = looped_sound(tmp_path / "sound.wav")
    proc = start_broadcaster(tmp_path, "--source", f"file:{wav}",
                             config=mqtt_config(broker.port))
    try:
        def config_topic() -> list[str]:
            return [t for t, _, _ in subscriber.messages if t.endswith("/sound/config")]

        wait_until(lambda: bool(config_topic()), 10, "the discovery message")
        [topic] = set(config_topic())
        node = topic.split("/")[2]
        discovery = json.loads(subscriber.on(topic)[-1])
        assert discovery["device_class"] == "sound"
        assert discovery["state_topic"] == f"broadcaster/{node}/sound"
        assert discovery["availability_topic"] == f"broadcaster/{node}/availability"
        wait_until(lambda: subscriber.on(f"broadcaster/{node}/sound")[-2:] == ["ON", "OFF"],
                   15, "a sound's ON then OFF")
        episodes = [json.loads(p) for p in subscriber.on(f"broadcaster/{node}/episode")]
        assert [e["change"] for e in episodes[:2]] == ["start", "end"]
        assert subscriber.on(f"broadcaster/{node}/availability")[-1] == "online"
        status = httpx.get(proc.url + "/status", timeout=5).json()
        assert status["mqtt_connected"] == 1 and status["mqtt_published"] >= 4
    finally:
        assert proc.stop() == 0, proc.log()
    wait_until(lambda: subscriber.on(f"broadcaster/{node}/availability")[-1] == "offline",
               5, "offline when the broadcaster goes")
    subscriber.close()


def test_a_broker_that_is_away_costs_nothing_and_is_found_again(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)  # not started yet
    wav = looped_sound(tmp_path / "sound.wav")
    proc = start_broadcaster(tmp_path, "--source", f"file:{wav}",
                             config=mqtt_config(broker.port))
    try:
        listener = BackgroundListener(proc.url + "/audio/stream")
        wait_until(lambda: httpx.get(proc.url + "/status", timeout=5).json()["mqtt_down"]
                   is not None, 10, "the broker counted as away")
        time.sleep(2.0)
        assert proc.log().count("MQTT broker") == 1  # logged once, not per try
        with broker:
            subscriber = Subscriber(broker.port, NODE_TOPICS)
            wait_until(lambda: httpx.get(proc.url + "/status", timeout=5).json()[
                "mqtt_connected"] == 1, 15, "connected once the broker is up")
            wait_until(lambda: any(t.endswith("/sound") for t, _, _ in subscriber.messages),
                       10, "the sensor's state")
            subscriber.close()
        listener.stop()
        arrivals = [at for at, event in listener.events if event.event == "message"]
        assert len(arrivals) > 100
        assert max(b - a for a, b in itertools.pairwise(arrivals[10:])) < 0.8  # never stalled
    finally:
        assert proc.stop() == 0, proc.log()
