"""The `--source` spec: which PCM source to broadcast (auto, mic, tone, file), or the engine
an edge relays (nats://HOST:PORT/STATION)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from broadcaster.core.engine import EngineAddress, EngineError

SourceKind = Literal["auto", "mic", "tone", "file", "engine"]
DEFAULT_TONE_HZ = 440.0
TONE_RANGE_HZ = (20.0, 20000.0)


class SourceSpecError(ValueError):
    """A source spec that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed source spec.

    `device` is the mic's index or part of its name ("" = the default input device),
    `tone_hz` the tone's frequency, `path` the WAV file or the engine's address (an edge).
    """

    kind: SourceKind
    device: str = ""
    tone_hz: float = DEFAULT_TONE_HZ
    path: str = ""

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        """Parse `auto`, `mic`, `mic:NAME|INDEX`, `tone`, `tone:HZ`, `file:PATH` or
        `nats://HOST:PORT/STATION`."""
        if text.strip().startswith(("nats://", "tls://")):
            try:
                EngineAddress.parse(text)
            except EngineError as exc:
                raise SourceSpecError(f"engine address: {exc}") from None
            return cls("engine", path=text.strip())
        kind, sep, arg = text.strip().partition(":")
        if kind == "auto" and not sep:
            return cls("auto")
        if kind == "mic":
            if sep and not arg.strip():
                raise SourceSpecError("mic: needs a device index or part of its name after ':'")
            return cls("mic", device=arg.strip())
        if kind == "tone":
            if not sep:
                return cls("tone")
            try:
                hz = float(arg)
            except ValueError:
                raise SourceSpecError(f"tone frequency {arg!r} is not a number") from None
            lo, hi = TONE_RANGE_HZ
            if not lo <= hz <= hi:
                raise SourceSpecError(f"tone frequency {hz:g} Hz is outside {lo:g}-{hi:g} Hz")
            return cls("tone", tone_hz=hz)
        if kind == "file":
            if not arg:
                raise SourceSpecError("file: needs a path to a WAV file after ':'")
            return cls("file", path=arg)
        raise SourceSpecError(
            f"unknown source {text!r}: use auto, mic, mic:NAME, tone, tone:HZ, file:PATH or "
            "nats://HOST:PORT/STATION"
        )

    def __str__(self) -> str:
        if self.kind == "mic":
            return f"mic:{self.device}" if self.device else "mic"
        if self.kind == "tone":
            return f"tone:{self.tone_hz:g}"
        if self.kind == "file":
            return f"file:{self.path}"
        if self.kind == "engine":
            return self.path
        return "auto"
