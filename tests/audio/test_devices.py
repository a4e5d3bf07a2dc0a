"""Choosing an input device and its rate (pure selection logic; PortAudio itself is
exercised through the virtual microphone in test_mic.py and test_sources.py)."""

from __future__ import annotations

import pytest

from broadcaster.audio.devices import InputDevice, find_device, pick_rate
from broadcaster.audio.sources import SourceError

DEVICES = [
    InputDevice(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 44100.0),
    InputDevice(3, "USB PnP Sound Device: Audio (hw:1,0)", 1, 48000.0),
    InputDevice(7, "default", 32, 44100.0, is_default=True),
    InputDevice(8, "usb", 1, 48000.0),
]


@pytest.mark.parametrize(("wanted", "index"), [
    ("", 7), ("3", 3), ("USB PnP", 3), ("pnp", 3), ("usb", 8), ("alc3246", 0),
])
def test_find_device(wanted: str, index: int) -> None:
    assert find_device(DEVICES, wanted).index == index


@pytest.mark.parametrize(("devices", "wanted", "message"), [
    ([], "", "no input device found"),
    (DEVICES, "5", "no input device has index 5; the inputs are: [0] HDA"),
    (DEVICES, "blue yeti", "no input device name contains 'blue yeti'; the inputs are: [0]"),
    (DEVICES[:2], "", "there is no default input device; choose one of: [0] HDA"),
])
def test_find_device_errors_list_the_inputs(
    devices: list[InputDevice], wanted: str, message: str
) -> None:
    with pytest.raises(SourceError) as info:
        find_device(devices, wanted)
    assert message in str(info.value)


def test_48k_is_preferred() -> None:
    assert pick_rate(DEVICES[0], lambda rate: rate in (16000, 48000, 44100)) == 48000


def test_an_opus_native_rate_is_used_when_48k_is_not_offered() -> None:
    assert pick_rate(DEVICES[0], lambda rate: rate in (16000, 8000, 44100)) == 16000


def test_no_usable_rate_lists_what_the_device_supports() -> None:
    with pytest.raises(SourceError) as info:
        pick_rate(DEVICES[0], lambda rate: rate in (44100, 22050))
    assert "it offers 22050, 44100 (default 44100 Hz)" in str(info.value)
    assert "Opus takes (48000, 24000, 16000, 12000, 8000 Hz)" in str(info.value)
