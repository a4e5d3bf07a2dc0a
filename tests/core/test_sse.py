from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.sse import Event, SSEDecoder, SSEError, encode_comment, encode_event


def test_encode_event_fields_in_order() -> None:
    wire = encode_event('{"a":1}', event="config", id=7, retry_ms=1000)
    assert wire == b'retry: 1000\nevent: config\nid: 7\ndata: {"a":1}\n\n'


def test_multiline_data_becomes_several_data_lines() -> None:
    assert encode_event("a\nb\r\nc") == b"data: a\ndata: b\ndata: c\n\n"


@pytest.mark.parametrize("kwargs", [{"event": "a\nb"}, {"id": "1\r"}, {"id": "1\0"},
                                    {"retry_ms": -1}])
def test_unframeable_fields_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(SSEError):
        encode_event("x", **kwargs)  # type: ignore[arg-type]


def test_decoder_handles_comments_crlf_and_split_chunks() -> None:
    decoder = SSEDecoder()
    wire = b": hb\r\n\r\nevent: state\r\ndata: {}\r\n\r\nid: 3\rdata:x\r\r\n"
    events = []
    for i in range(len(wire)):
        events += decoder.feed(wire[i:i + 1])
    assert events == [Event("{}", "state", None), Event("x", "message", "3")]
    assert decoder.comments == 1


def test_decoder_keeps_last_id_and_retry() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"retry: 500\nid: 9\ndata: a\n\ndata: b\n\n")
    assert [(e.data, e.id, e.retry_ms) for e in events] == [("a", "9", 500), ("b", "9", 500)]


def test_event_without_data_is_not_dispatched() -> None:
    assert SSEDecoder().feed(b"event: x\n\n") == []


def test_comment_framing() -> None:
    assert encode_comment("hb") == b": hb\n\n"


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=50)
names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=10)


@given(st.lists(st.tuples(texts, names, st.integers(0, 10**12)), max_size=8),
       st.integers(1, 17))
def test_round_trip_through_any_chunking(
    items: list[tuple[str, str, int]], chunk: int
) -> None:
    wire = b"".join(encode_event(data, event=name, id=i) for data, name, i in items)
    decoder = SSEDecoder()
    events: list[Event] = []
    for start in range(0, len(wire), chunk):
        events += decoder.feed(wire[start:start + chunk])
    expected = [data.replace("\r\n", "\n").replace("\r", "\n") for data, _, _ in items]
    assert [e.data for e in events] == expected
    assert [e.event for e in events] == [name for _, name, _ in items]
    assert [e.id for e in events] == [str(i) for _, _, i in items]
