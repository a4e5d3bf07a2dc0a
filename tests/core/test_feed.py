"""The feed between the capture process and the workers: pure framing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.feed import (
    HEADER,
    MAX_MESSAGE_BYTES,
    FeedDecoder,
    FeedError,
    Kind,
    Message,
    encode_frame,
    encode_json,
)


def test_a_frame_carries_its_sequence_number_and_bytes_unchanged() -> None:
    wire = b"id: 1795000000000\ndata: AAAA\n\n"
    [message] = FeedDecoder().feed(encode_frame(1795000000000, wire))
    assert message == Message(Kind.FRAME, seq=1795000000000, wire=wire)


def test_json_messages_round_trip() -> None:
    data = {"state": "running", "source": "mic:USB", "status": {"listeners": 3}}
    assert FeedDecoder().feed(encode_json(Kind.STATE, data)) == [Message(Kind.STATE, data)]


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20), st.data())
def test_messages_survive_any_cutting_of_the_stream(wires: list[bytes], data: st.DataObject,
                                                    ) -> None:
    stream = b"".join(encode_frame(seq, wire) for seq, wire in enumerate(wires))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder, got = FeedDecoder(), []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += decoder.feed(stream[start:end])
    assert [(m.seq, m.wire) for m in got] == list(enumerate(wires))
    assert decoder.pending_bytes == 0


def test_an_oversized_length_is_refused_before_buffering_it() -> None:
    with pytest.raises(FeedError, match="claims"):
        FeedDecoder().feed(HEADER.pack(MAX_MESSAGE_BYTES + 1, Kind.FRAME))


@pytest.mark.parametrize(("raw", "match"), [
    (HEADER.pack(2, 99) + b"{}", "unknown feed message kind 99"),
    (HEADER.pack(3, Kind.FRAME) + b"abc", "without its sequence number"),
    (HEADER.pack(3, Kind.STATE) + b"{{{", "not JSON"),
    (HEADER.pack(2, Kind.STATE) + b"[]", "not a JSON object"),
])
def test_garbage_is_named(raw: bytes, match: str) -> None:
    with pytest.raises(FeedError, match=match):
        FeedDecoder().feed(raw)


def test_frames_are_not_json_encoded() -> None:
    with pytest.raises(ValueError, match="encode_frame"):
        encode_json(Kind.FRAME, {})
