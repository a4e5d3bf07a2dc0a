from __future__ import annotations

import pytest

from broadcaster.core.source_spec import SourceSpec, SourceSpecError


@pytest.mark.parametrize(("text", "expected"), [
    ("auto", SourceSpec("auto")),
    ("mic", SourceSpec("mic")),
    ("mic:USB Audio", SourceSpec("mic", device="USB Audio")),
    ("mic:2", SourceSpec("mic", device="2")),
    ("tone", SourceSpec("tone")),
    ("tone:1000", SourceSpec("tone", tone_hz=1000.0)),
    ("file:/tmp/a:b.wav", SourceSpec("file", path="/tmp/a:b.wav")),
])
def test_parse(text: str, expected: SourceSpec) -> None:
    assert SourceSpec.parse(text) == expected


@pytest.mark.parametrize("text", ["", "radio", "mic:", "tone:abc", "tone:10", "tone:30000",
                                  "file:", "auto:x"])
def test_bad_specs_say_why(text: str) -> None:
    with pytest.raises(SourceSpecError):
        SourceSpec.parse(text)


@pytest.mark.parametrize("text", ["auto", "mic", "mic:USB", "tone:440", "file:a.wav"])
def test_str_round_trips(text: str) -> None:
    assert str(SourceSpec.parse(text)) == text
