"""The broadcast's state: one value, its event, and its trip through the workers' feed."""

from __future__ import annotations

import json

import pytest

from broadcaster.core.state import BroadcastState
from tests.support.sse import SSEDecoder


def test_the_event_says_the_state_the_source_and_why() -> None:
    state = BroadcastState("offline", "mic:USB", "the device is gone")
    [event] = SSEDecoder().feed(state.event())
    assert event.event == "state"
    assert json.loads(event.data) == {"state": "offline", "source": "mic:USB",
                                      "reason": "the device is gone"}


def test_it_survives_the_trip_through_json() -> None:
    state = BroadcastState("running", "tone:440")
    assert BroadcastState.parse(json.loads(json.dumps(state.serialize()))) == state


@pytest.mark.parametrize("data", [None, [], {"state": "running"}, {"state": 1, "source": "x"},
                                  {"state": "running", "source": "x", "reason": 3},
                                  {"state": "dancing", "source": "x"}])
def test_garbage_is_refused_by_name(data: object) -> None:
    with pytest.raises(ValueError, match="state"):
        BroadcastState.parse(data)
