from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.core.sse import SSEError, encode_comment, encode_event
from tests.support.sse import Event, SSEDecoder


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
