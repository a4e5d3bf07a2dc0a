"""How many frames each listener's writes bundle, from how busy the event loop is (pure).

Every write to a listener costs about the same whatever it carries (a system call and the
HTTP layers), so when one process serves many listeners, listeners are woken every
`stride` frames instead of every frame, in `stride` staggered groups: the writes per second
drop by that factor and spread evenly over the frames, and a listener's audio waits at most
`stride - 1` frames more. With few listeners the stride stays 1: every frame goes out at once.
"""

from __future__ import annotations

from dataclasses import dataclass

BUSY_HIGH = 0.6  # above this share of wall time the loop risks falling behind: bundle more
HEADROOM = 0.8  # bundle less only if the loop would then stay under HEADROOM * BUSY_HIGH


def max_stride(frame_ms: float, max_wait_ms: float) -> int:
    """The largest stride whose extra wait stays within `max_wait_ms`."""
    return max(1, int(max_wait_ms // frame_ms) + 1)


@dataclass(slots=True)
class StrideController:
    """Raises the stride when the loop is busy, lowers it when it would stay comfortable.

    Lowering from k to k-1 multiplies the write load by k/(k-1): the controller lowers only
    when the busy share, scaled so, stays below HEADROOM * BUSY_HIGH, so it does not swing.
    """

    limit: int
    stride: int = 1

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"the stride limit must be at least 1, got {self.limit}")

    def update(self, busy: float) -> int:
        """Take the loop's busy share of the last period (0..1); return the stride to use."""
        if busy > BUSY_HIGH and self.stride < self.limit:
            self.stride += 1
        elif self.stride > 1 and busy * self.stride / (self.stride - 1) < HEADROOM * BUSY_HIGH:
            self.stride -= 1
        return self.stride
