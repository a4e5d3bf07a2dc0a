"""A live listener back after a long outage starts again at live, in real headless
Chromium, against a broadcaster that archives (so it could serve the whole outage after
`Last-Event-ID`): the network silently drops everything for 12 s (the page's own reopen,
resuming, hangs meanwhile); once it flows again that resume's `config` says it would start
12 s behind live, so the page opens the stream at the live edge instead, counts the outage
as lost frames and plays live again, not 12 s behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import start_broadcaster
from tests.page.listening import figure, listen_and_wait_for_sound
from tests.page.test_page_alerts import FreezableProxy
from tests.support.browser import assert_plays_the_tone, launch_chromium, new_recording_page

pytestmark = pytest.mark.browser

OUTAGE_S = 12.0  # more than link/resume.js's RESUME_MAX_BEHIND_MS


def test_a_live_listener_back_after_a_long_outage_starts_at_live(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    proc = start_broadcaster(tmp_path, "--source", "tone:440",
                             config=f'[archive]\ndir = "{archive}"\nmin_free_mb = 0\n')
    proxy = FreezableProxy(int(proc.url.rsplit(":", 1)[1]))
    try:
        with launch_chromium() as browser:
            page = new_recording_page(browser)
            streams: list[str] = []
            page.on("request",
                    lambda r: streams.append(r.url) if "/audio/stream" in r.url else None)
            page.goto(f"http://127.0.0.1:{proxy.port}/")
            listen_and_wait_for_sound(page)
            page.wait_for_timeout(1_000)
            opened = len(streams)
            proxy.freeze()
            page.wait_for_timeout(1000 * OUTAGE_S)  # (events come in while Playwright waits)
            # The page reopened the stream while frozen (it stalled), resuming.
            reopened = streams[opened:]
            assert any("last_id=" in url for url in reopened), reopened
            proxy.thaw()
            expect(page.locator("#status")).to_have_text("live", timeout=10_000)

            def settled() -> bool:
                latency = figure(page, "latency")
                return bool(latency) and float(latency) < 1_000 and bool(figure(page, "lost"))

            for _ in range(40):  # (Playwright's events come in while it waits)
                if settled():
                    break
                page.wait_for_timeout(200)
            print(f"\nstreams opened: {[url.split('?')[-1] for url in streams]}; after a "
                  f"{OUTAGE_S:.0f} s outage: latency {figure(page, 'latency')} ms, "
                  f"lost {figure(page, 'lost')} frames")
            # Live again, the outage counted as lost: either the page saw its resume would
            # be too far behind and started at the live edge (backlog_ms), or the server
            # answered its resume at the live edge with a gap (the archive had not written
            # the frames asked for yet). A resume from the archive would have played on.
            assert settled()
            assert int(figure(page, "lost")) >= 0.8 * OUTAGE_S * 50
            page.wait_for_timeout(1_000)
            assert_plays_the_tone(page, 1.0)
    finally:
        proxy.close()
        proc.stop()
