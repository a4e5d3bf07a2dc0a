"""Real-time pacing for sources that have no sound card clock (pure deadline arithmetic)."""

from __future__ import annotations


class Pacer:
    """Hands out block deadlines on an absolute schedule, so pacing never drifts.

    A caller that falls more than `max_late_s` behind (a suspended process, say) skips the
    blocks it missed instead of bursting them out; the skipped count is returned.
    """

    __slots__ = ("_deadline", "max_late_s", "period_s")

    def __init__(self, period_s: float, max_late_s: float = 0.25) -> None:
        if period_s <= 0:
            raise ValueError(f"pacing period must be > 0 s, got {period_s}")
        self.period_s = period_s
        self.max_late_s = max_late_s
        self._deadline: float | None = None

    def reset(self) -> None:
        """Start a new schedule at the next call."""
        self._deadline = None

    def next_deadline(self, now: float) -> tuple[float, int]:
        """Return (when the next block is complete, blocks skipped) for monotonic time `now`."""
        if self._deadline is None:
            self._deadline = now + self.period_s
            return self._deadline, 0
        self._deadline += self.period_s
        late_s = now - self._deadline
        if late_s <= self.max_late_s:
            return self._deadline, 0
        skipped = int(late_s // self.period_s)
        self._deadline += skipped * self.period_s
        return self._deadline, skipped
