"""The tests' SSE parser follows the WHATWG rules (the round trip with the server's framing
is in tests/core/test_sse.py)."""

from __future__ import annotations

from tests.support.sse import Event, SSEDecoder


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
