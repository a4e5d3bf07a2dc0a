from __future__ import annotations

import base64
import json

from broadcaster.core.wire import Packetizer, audio_event, config_event, gap_event, state_event
from tests.support.sse import SSEDecoder


def decode(wire: bytes) -> list[tuple[str, str, str | None]]:
    return [(e.event, e.data, e.id) for e in SSEDecoder().feed(wire)]


def test_audio_event_carries_the_packet_and_id() -> None:
    [(kind, data, id_)] = decode(audio_event(42, b"\x00\xffopus"))
    assert (kind, id_) == ("message", "42")
    assert base64.b64decode(data) == b"\x00\xffopus"


def test_packetizer_numbers_frames_and_stamps_a_clock_every_second() -> None:
    packetizer = Packetizer(frame_ms=20.0)
    clocks, ids = [], []
    for i in range(120):
        seq, wire = packetizer.frame(b"p%d" % i, capture_ms=1000.0 + 20 * i, server_ms=5.0)
        for kind, data, id_ in decode(wire):
            if kind == "clock":
                clocks.append(json.loads(data))
            else:
                ids.append(int(id_ or -1))
        assert seq == i
    assert ids == list(range(120))
    assert [c["id"] for c in clocks] == [0, 50, 100]
    assert clocks[1] == {"id": 50, "capture_ms": 2000.0, "server_ms": 5.0}


def test_resync_sends_a_clock_with_the_next_frame() -> None:
    packetizer = Packetizer(frame_ms=20.0)
    packetizer.frame(b"a", 0.0, 0.0)
    packetizer.resync_clock()
    _, wire = packetizer.frame(b"b", 20.0, 20.0)
    assert [kind for kind, _, _ in decode(wire)] == ["clock", "message"]


def test_control_events() -> None:
    assert decode(state_event("stopped", "tone:440")) == [
        ("state", '{"state":"stopped","source":"tone:440"}', None)]
    assert decode(gap_event(5, 10, "behind")) == [
        ("gap", '{"lost":5,"next_id":10,"reason":"behind"}', None)]
    assert decode(state_event("offline", "mic", "unplugged")) == [
        ("state", '{"state":"offline","source":"mic","reason":"unplugged"}', None)]
    events = SSEDecoder().feed(config_event({"codec": "opus"}, retry_ms=1000))
    assert (events[0].event, events[0].retry_ms) == ("config", 1000)
