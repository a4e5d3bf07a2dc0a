"""The README's screenshot: the listener page playing a real broadcaster's tone, in real
headless Chromium at a phone's width.

Every run takes the screenshot into pytest's tmp dir. It replaces docs/screenshot.png only
with UPDATE_SCREENSHOT=1 (its figures differ on every run, so it is regenerated on purpose):

    UPDATE_SCREENSHOT=1 .venv/bin/python -m pytest tests/test_screenshot.py
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import ViewportSize, expect

from tests.conftest import ROOT, start_broadcaster
from tests.support.browser import (
    RECORDER_JS,
    collect_problems,
    launch_chromium,
    recorded_rate,
    recorded_samples,
)
from tests.support.signal_tools import dominant_frequency

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "screenshot.png"
# A phone's width in CSS pixels, and just the height the page's card needs.
VIEWPORT: ViewportSize = {"width": 390, "height": 560}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Colour type -> samples per pixel (grey, RGB, palette, grey+alpha, RGBA).
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG after checking it whole: signature, chunk CRCs, IHDR first,
    IEND last, and image data that inflates to exactly the rows IHDR announces."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG signature"
    at = len(PNG_SIGNATURE)
    kinds: list[bytes] = []
    idat = b""
    header = b""
    while at < len(data):
        assert at + 12 <= len(data), "a chunk is cut short"
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind = data[at + 4:at + 8]
        assert at + 12 + length <= len(data), f"chunk {kind!r} is cut short"
        body = data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"chunk {kind!r} has a bad CRC"
        kinds.append(kind)
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND", kinds
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in PNG_CHANNELS and interlace == 0, header
    rows = zlib.decompress(idat)
    assert len(rows) == height * (1 + width * PNG_CHANNELS[colour]), "image data size"
    return width, height


def test_png_size_rejects_a_damaged_file() -> None:
    good = SCREENSHOT.read_bytes()
    damaged = bytearray(good)
    damaged[good.index(b"IDAT") + 100] ^= 0xFF  # a byte of the image data
    with pytest.raises(AssertionError, match="CRC"):
        png_size(bytes(damaged))
    with pytest.raises(AssertionError, match="cut short"):
        png_size(good[: len(good) // 2])
    with pytest.raises(AssertionError, match="signature"):
        png_size(b"GIF89a" + good[6:])


def test_readme_screenshot_shows_the_page_playing(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone:440")
    shot = tmp_path / "screenshot.png"
    try:
        with launch_chromium() as browser:
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1,
                                          color_scheme="light")
            context.add_init_script(RECORDER_JS)
            page = context.new_page()
            problems = collect_problems(page)
            page.goto(f"{proc.url}/")
            page.locator("#listen").click()
            expect(page.locator("#status")).to_have_text("live", timeout=10_000)
            page.wait_for_function("() => window.__firstSoundMs !== undefined", timeout=5_000)
            expect(page.locator("#figures")).to_contain_text("latency ≈")
            page.wait_for_timeout(1_500)  # figures settle; a second of tone is recorded
            # It really plays: what reached the speakers is the broadcaster's tone.
            rate = recorded_rate(page)
            assert dominant_frequency(recorded_samples(page, 1.0), rate) == pytest.approx(
                440, abs=5)
            page.screenshot(path=str(shot))
            assert problems == []
    finally:
        assert proc.stop() == 0, proc.log()

    expected = (VIEWPORT["width"], VIEWPORT["height"])
    assert png_size(shot.read_bytes()) == expected
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.write_bytes(shot.read_bytes())
    assert SCREENSHOT.is_file(), "docs/screenshot.png is missing: run with UPDATE_SCREENSHOT=1"
    assert png_size(SCREENSHOT.read_bytes()) == expected
