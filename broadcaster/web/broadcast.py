"""What the app serves, as one seam: the capturing process's Station, or the Relay that
stands for it in a worker process; and who decides whether one more listener may join."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from broadcaster.config import Config
from broadcaster.core.limits import Admission
from broadcaster.core.state import BroadcastState
from broadcaster.stream.fanout import Sink


class Broadcast(Protocol):
    """The broadcast as the app sees it."""

    config: Config

    @property
    def state(self) -> BroadcastState:
        """The state listeners are told."""

    async def start(self) -> None:
        """Start capture; raises CaptureBusyError."""

    async def stop(self) -> None:
        """Stop capture; raises CaptureBusyError."""

    def listen(self, last_id: int | None, on_end: Callable[[], None] | None = None,
               backlog_ms: float = 0.0, sink: Sink | None = None,
               bundle_ms: float = 0.0) -> AsyncIterator[bytes]:
        """One listener's stream (see stream/hello.py's `open_stream`)."""

    def ring_span(self) -> tuple[int, int, int]:
        """The live ring: (this run's first id, the oldest id it holds, the next id)."""

    async def status(self) -> dict[str, Any]:
        """The broadcast's counters for /status and /metrics."""

    def health(self) -> tuple[bool, str]:
        """(healthy, reason) for /healthz."""

    async def episodes(self, before: int | None, limit: int) -> dict[str, Any]:
        """A page of sound episodes for /activity/episodes (see docs/protocol.md)."""


class Admitter(Protocol):
    """Decides whether one more listener may join, and hears when one leaves."""

    async def admit(self, address: str) -> str | None:
        """Admit one more listener from `address`; why not, or None."""

    def release(self, address: str) -> None:
        """A listener admitted by `admit` has gone."""

    def counters(self) -> dict[str, Any]:
        """What /status shows of it (none, where the broadcast's status has them already)."""


class LocalAdmission:
    """An Admitter for a process that counts its own listeners."""

    def __init__(self, config: Config) -> None:
        self.admission = Admission(config.server.max_listeners,
                                   config.server.max_listeners_per_ip)

    async def admit(self, address: str) -> str | None:
        """See Admitter."""
        return self.admission.admit(address)

    def release(self, address: str) -> None:
        """See Admitter."""
        self.admission.release(address)

    def counters(self) -> dict[str, Any]:
        """See Admitter."""
        return {"refused_listeners": self.admission.refused}
