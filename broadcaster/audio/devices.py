"""Input devices through PortAudio: listing, choosing by index or name, and the sample rate."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from broadcaster.audio.preflight import ensure_portaudio_starts
from broadcaster.audio.sources import SourceError
from broadcaster.core import opus
from broadcaster.core.source_spec import DEFAULT_TONE_HZ


@dataclass(frozen=True, slots=True)
class InputDevice:
    """One PortAudio device that can record."""

    index: int
    name: str
    max_input_channels: int
    default_rate_hz: float
    is_default: bool = False

    def describe(self) -> str:
        """A one-line description for logs and --list-devices."""
        mark = " (default)" if self.is_default else ""
        return (f"[{self.index}] {self.name}{mark}: {self.max_input_channels} input channel(s), "
                f"default {self.default_rate_hz:g} Hz")


def find_device(devices: list[InputDevice], wanted: str) -> InputDevice:
    """Choose by index ("2"), by part of the name ("usb", case-insensitive), or "" = default."""
    if not devices:
        raise SourceError("no input device found (is a microphone plugged in? `arecord -l` "
                          "lists what ALSA sees)")
    names = "; ".join(d.describe() for d in devices)
    if not wanted:
        for device in devices:
            if device.is_default:
                return device
        raise SourceError(f"there is no default input device; choose one of: {names}")
    if wanted.isdigit():
        for device in devices:
            if device.index == int(wanted):
                return device
        raise SourceError(f"no input device has index {wanted}; the inputs are: {names}")
    matches = [d for d in devices if wanted.lower() in d.name.lower()]
    exact = [d for d in matches if d.name.lower() == wanted.lower()]
    if exact or matches:
        return (exact or matches)[0]
    raise SourceError(f"no input device name contains {wanted!r}; the inputs are: {names}")


def auto_choice(devices: list[InputDevice]) -> tuple[InputDevice | None, str]:
    """What `--source auto` resolves to (the device, or None for the test tone) and why;
    the same rule as the source factory: the default input device if there is one."""
    for device in devices:
        if device.is_default:
            return device, ("it is PortAudio's default input (normally ALSA's `default`, "
                            "which goes through PulseAudio or PipeWire when one runs); choose "
                            "another with --source mic:NAME or mic:INDEX")
    if devices:
        return None, (f"none of the {len(devices)} input device(s) is the default input; "
                      f"choose one with --source mic:NAME or mic:INDEX")
    return None, ("PortAudio finds no input device: is a microphone plugged in? `arecord -l` "
                  "lists what ALSA sees")


def describe_auto(devices: list[InputDevice]) -> str:
    """One line saying which device `auto` would pick and why."""
    device, reason = auto_choice(devices)
    chosen = device.describe() if device else f"the test tone ({DEFAULT_TONE_HZ:g} Hz)"
    return f"`auto` uses {chosen}, because {reason}"


COMMON_RATES_HZ = (8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 192000)


def pick_rate(device: InputDevice, supports: Callable[[int], bool]) -> int:
    """48 kHz if the device can, else the highest Opus-native rate it can; else an error
    that lists the rates the device does support."""
    for rate in opus.RATES_HZ:
        if supports(rate):
            return rate
    offered = [rate for rate in COMMON_RATES_HZ if supports(rate)]
    offered_text = ", ".join(map(str, offered)) if offered else "none of the common rates"
    raise SourceError(
        f"input device {device.name!r} supports none of the rates Opus takes "
        f"({', '.join(map(str, opus.RATES_HZ))} Hz); it offers {offered_text} "
        f"(default {device.default_rate_hz:g} Hz). Use an ALSA `plug` device or PulseAudio "
        f"to resample."
    )


_alsa_handler: Any = None


def _silence_alsa() -> None:
    """Stop libasound printing its probing chatter to stderr (errors are still raised)."""
    global _alsa_handler  # one handler for the process, kept alive
    if _alsa_handler is not None:
        return
    name = ctypes.util.find_library("asound")
    if not name:
        return
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                    ctypes.c_int, ctypes.c_char_p)
    _alsa_handler = handler_type(lambda *args: None)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.cdll.LoadLibrary(name).snd_lib_error_set_handler(_alsa_handler)


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """JACK and others print at PortAudio start-up; hide fd 2 for that moment only."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class PortAudio:
    """A PortAudio session (PyAudio); PortAudio sees devices as they were when it started.

    Raises SourceError if PyAudio does not load, and PortAudioBroken if PortAudio cannot
    start (found out in a child process first: some broken set-ups abort the process).
    """

    def __init__(self) -> None:
        try:
            import pyaudio  # import late: needs libportaudio
        except ImportError as exc:
            raise SourceError(f"cannot load PyAudio/PortAudio: {exc}") from exc
        self.pyaudio: Any = pyaudio
        ensure_portaudio_starts()
        _silence_alsa()
        try:
            with _stderr_silenced():
                self.pa: Any = pyaudio.PyAudio()
        except OSError as exc:  # the child started it, so the set-up changed since
            raise SourceError(f"PortAudio failed to start: {exc}") from exc

    def close(self) -> None:
        """End the PortAudio session."""
        self.pa.terminate()

    def __enter__(self) -> PortAudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def input_devices(self) -> list[InputDevice]:
        """Every device that has input channels."""
        try:
            default = int(self.pa.get_default_input_device_info()["index"])
        except OSError:
            default = -1
        devices = []
        for index in range(self.pa.get_device_count()):
            info = self.pa.get_device_info_by_index(index)
            if int(info["maxInputChannels"]) > 0:
                devices.append(InputDevice(index, str(info["name"]),
                                           int(info["maxInputChannels"]),
                                           float(info["defaultSampleRate"]), index == default))
        return devices

    def supports(self, device: InputDevice, rate_hz: int, channels: int) -> bool:
        """Whether the device can record s16 at this rate and channel count."""
        try:
            return bool(self.pa.is_format_supported(
                rate_hz, input_device=device.index, input_channels=channels,
                input_format=self.pyaudio.paInt16))
        except ValueError:
            return False


def missing_default_input() -> str | None:
    """None if PortAudio finds a default input device (what `auto` uses), else why not."""
    try:
        with PortAudio() as pa:
            if any(d.is_default for d in pa.input_devices()):
                return None
    except SourceError as exc:  # PyAudio missing, or PortAudio does not start
        return str(exc)
    return "no input device found"
