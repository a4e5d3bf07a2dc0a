"""The broadcast's state, one value that the capturing process and every copy of its stream
(worker processes, edges) hold and tell their listeners (see docs/protocol.md, `state`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from broadcaster.core.wire import state_event

STATES = ("starting", "running", "stopped", "offline", "shutdown")


class CaptureBusyError(RuntimeError):
    """Capture cannot be started or stopped now: the device has not let go of the previous
    capture thread, or the capturing process does not answer."""


@dataclass(frozen=True, slots=True)
class BroadcastState:
    """`state` is `running`, `stopped` (by control), `offline` (the source fails: `reason`
    says why), `shutdown`, or `starting` (a copy that has not heard from the capture yet)."""

    state: str
    source: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {self.state!r}")

    def event(self) -> bytes:
        """The `state` event listeners are sent when this becomes the state."""
        return state_event(self.state, self.source, self.reason)

    def serialize(self) -> dict[str, Any]:
        """As JSON-ready data (the inverse of `parse`)."""
        return asdict(self)

    @classmethod
    def parse(cls, data: object) -> BroadcastState:
        """From `serialize()`'s data; raises ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a state is a JSON object, not {type(data).__name__}")
        state, source, reason = data.get("state"), data.get("source"), data.get("reason")
        if not isinstance(state, str) or not isinstance(source, str):
            raise ValueError("a state needs `state` and `source` strings")
        if reason is not None and not isinstance(reason, str):
            raise ValueError("a state's `reason` is a string or null")
        return cls(state, source, reason)


STARTING = BroadcastState("starting", "")  # a copy that has not heard from the capture yet
