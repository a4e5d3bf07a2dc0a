"""The engine's messages: addresses, subjects, packets taken apart and framed again."""

from __future__ import annotations

import pytest

from broadcaster.core.engine import (
    Announcement,
    EngineAddress,
    EngineError,
    EnginePacket,
    WireSplitter,
)
from broadcaster.core.wire import Packetizer, activity_event


def test_an_address_names_its_servers_and_station() -> None:
    address = EngineAddress.parse("nats://a:4222,b/ward-3")
    assert address.servers == ("nats://a:4222", "nats://b:4222")
    assert address.station == "ward-3" and not address.tls
    assert address.subjects.frames == "broadcaster.ward-3.frames"
    assert address.subjects.stream == "BROADCASTER_ward_3"
    assert EngineAddress.parse("tls://a:4443/S").tls


@pytest.mark.parametrize(("text", "says"), [
    ("http://a/S", "nats://"), ("nats://a:4222", "station"), ("nats://a/bad.name", "station"),
    ("nats://user:secret@a/S", "credentials"), ("nats://a:99999/S", "HOST:PORT")])
def test_a_bad_address_says_what_is_wrong_and_never_echoes_a_password(text: str,
                                                                      says: str) -> None:
    with pytest.raises(EngineError, match=says) as caught:
        EngineAddress.parse(text)
    assert "secret" not in str(caught.value)


def test_a_framed_frame_travels_as_its_packet_and_is_framed_again_byte_for_byte() -> None:
    packetizer = Packetizer(20.0, next_seq=1000)
    splitter = WireSplitter(1000, 20.0)
    activity = activity_event({"change": "start", "episode": 1})
    for n in range(3):
        seq, wire = packetizer.frame(bytes([n]) * 5, 5000.0 + 20 * n, 6000.0)
        if n == 2:
            wire = activity + wire
        packet = splitter.split(seq, wire)
        assert packet.capture_ms == 5000.0 + 20 * n
        again = EnginePacket.parse(packet.headers(), packet.packet)
        assert again == packet
        assert again.wire(6000.0) == wire  # the same clock stamp: the very same bytes


def test_a_packet_missing_a_header_is_refused_naming_it() -> None:
    with pytest.raises(EngineError, match="Bc-Epoch"):
        EnginePacket.parse({"Bc-Id": "5", "Bc-Capture-Ms": "1.0"}, b"x")


def test_an_announcement_round_trips_and_a_bad_one_is_refused() -> None:
    sent = Announcement(1, 5, {"state": "running", "source": "tone"}, (True, "running"),
                        {"frame_ms": 20.0}, 123.0)
    assert Announcement.parse(sent.serialize()) == sent
    with pytest.raises(EngineError):
        Announcement.parse(b'{"epoch": 1}')
