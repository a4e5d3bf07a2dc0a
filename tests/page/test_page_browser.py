"""The listener page in real headless Chromium, against a real broadcaster playing tone:440:
listening and stopping, the volume, meter and graph, plain http, the capture buttons, and
what the page says when the broadcaster stops, restarts or loses its source. The audio
output's own troubles (a frozen context, a glitching device, blocked sound) are
test_page_output.py's."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import free_port, no_device_env, start_broadcaster
from tests.page.listening import figure, listen_and_wait_for_sound
from tests.support.browser import (
    assert_plays_the_tone,
    collect_problems,
    launch_chromium,
    new_recording_page,
    recorded_frames,
    recorded_samples,
)
from tests.support.signal_tools import dominant_frequency, rms_dbfs
from tests.support.vmic import VirtualMic

pytestmark = pytest.mark.browser


def expect_plausible_latency(page: Page) -> None:
    """The page shows a latency figure, and it is what a fresh start shows (20 to 300 ms
    here), not the outage added to it."""
    page.wait_for_function(
        "() => document.querySelector('#figures [data-figure=latency]')?.dataset.value",
        timeout=5_000)
    latency_ms = float(figure(page, "latency"))
    assert 20 < latency_ms < 300, page.locator("#figures").inner_text()


def test_listen_plays_the_live_tone_and_stop_silences_it(tone_server: str) -> None:
    with launch_chromium() as browser:
        page = new_recording_page(browser)
        problems = collect_problems(page)
        page.goto(f"{tone_server}/")
        status = page.locator("#status")
        button = page.locator("#listen")
        expect(status).to_have_text("stopped")
        expect(button).to_have_text("Start listening")
        expect(page.locator("#secure-note")).to_be_hidden()  # 127.0.0.1 is a secure context

        listen_and_wait_for_sound(page)
        first_sound_ms = page.evaluate("window.__firstSoundMs - window.__pressedMs")
        assert first_sound_ms < 1000, f"first sound {first_sound_ms:.0f} ms after Start"
        expect(page.locator("#source")).to_contain_text("tone")
        expect(button).to_have_text("Stop listening")
        page.wait_for_timeout(2_000)

        assert_plays_the_tone(page)
        expect(page.locator("#figures")).to_contain_text("latency ≈")
        expect(page.locator("#unlock")).to_be_hidden()  # sound was never blocked

        button.click()
        expect(status).to_have_text("stopped")
        expect(button).to_have_text("Start listening")
        page.wait_for_timeout(300)  # let the context finish closing
        frames = recorded_frames(page)
        page.wait_for_timeout(500)
        assert recorded_frames(page) == frames, "audio kept playing after Stop"
        assert problems == []


def set_volume(page: Page, percent: int) -> None:
    """Move the volume slider as a listener's drag does (an `input` event)."""
    page.evaluate("""(percent) => {
        const input = document.getElementById('volume');
        input.value = String(percent);
        input.dispatchEvent(new Event('input', { bubbles: true }));
    }""", percent)


def test_volume_lowers_what_plays_and_the_meter_and_graph_follow(tone_server: str) -> None:
    with launch_chromium() as browser:
        page = new_recording_page(browser)
        problems = collect_problems(page)
        page.goto(f"{tone_server}/")
        meter = page.locator("#meter")
        graph = page.locator("#graph")
        expect(page.locator("#volume")).to_have_value("100")
        expect(meter).to_have_attribute("data-rms", "0.000")
        expect(graph).to_have_attribute("data-points", "0")
        listen_and_wait_for_sound(page)
        page.wait_for_timeout(1_500)
        full = rms_dbfs(recorded_samples(page, 0.5), full_scale=1.0)
        full_meter = float(meter.get_attribute("data-rms") or 0)
        assert full_meter > 0.5, "the meter shows the tone"
        points = int(graph.get_attribute("data-points") or 0)
        assert points >= 3, "the graph has a point for every few figures"

        set_volume(page, 50)
        expect(page.locator("#volume-value")).to_have_text("50 %")
        page.wait_for_timeout(1_000)  # the gain glides; the recorder is a block behind
        half = rms_dbfs(recorded_samples(page, 0.5), full_scale=1.0)
        assert full - half == pytest.approx(6.02, abs=0.5), (full, half)
        assert float(meter.get_attribute("data-rms") or 0) < full_meter - 0.05
        assert int(graph.get_attribute("data-points") or 0) > points, "the graph moves on"

        page.locator("#listen").click()
        expect(meter).to_have_attribute("data-rms", "0.000")
        expect(graph).to_have_attribute("data-points", "0")
        page.reload()  # the volume is remembered
        expect(page.locator("#volume")).to_have_value("50")
        expect(page.locator("#volume-value")).to_have_text("50 %")
        assert problems == []


def test_insecure_origin_explains_the_fallback(tone_server: str) -> None:
    # Plain http on a LAN name is not a secure context: no WebCodecs, no AudioWorklet. The
    # page plays there through its fallback (tests/test_page_paths.py), and says so.
    port = tone_server.rsplit(":", 1)[1]
    with launch_chromium(["--host-resolver-rules=MAP pi.test 127.0.0.1"]) as browser:
        page = new_recording_page(browser)
        problems = collect_problems(page)
        page.goto(f"http://pi.test:{port}/")
        assert page.evaluate("window.isSecureContext") is False
        # Said at once, before any press; with no TLS on the server there is no link.
        note = page.locator("#secure-note")
        expect(note).to_be_visible()
        expect(note).to_contain_text("WebCodecs and AudioWorklet")
        expect(note).to_contain_text("fallback")
        page.wait_for_timeout(500)  # the stream's config has come: still no https page
        expect(page.locator("#secure-link")).to_be_hidden()
        assert problems == []


def test_capture_buttons_appear_with_the_token_or_on_this_machine(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone",
                             config='[access]\ncontrol_token = "page-token-1"\n')
    port = proc.url.rsplit(":", 1)[1]
    try:
        with launch_chromium(["--host-resolver-rules=MAP pi.test 127.0.0.1"]) as browser:
            page = new_recording_page(browser)
            problems = collect_problems(page)
            page.goto(f"http://pi.test:{port}/")  # another machine, no token: no buttons
            expect(page.locator("#controls")).to_be_hidden()
            page.goto(f"http://pi.test:{port}/#token=page-token-1")
            page.reload()
            expect(page.locator("#controls")).to_be_visible()
            page.locator("#capture-stop").click()
            expect(page.locator("#status")).to_have_text("capture stopped")
            page.locator("#capture-start").click()
            expect(page.locator("#status")).to_have_text("capture running")
            assert problems == []
    finally:
        assert proc.stop() == 0, proc.log()


def test_insecure_origin_links_to_the_https_page_the_server_serves(tmp_path: Path) -> None:
    tls_port = free_port()
    proc = start_broadcaster(tmp_path, "--source", "tone", config=(
        f'[tls]\nport = {tls_port}\nstate_dir = "{tmp_path / "tls"}"\n'
        '[access]\nlisten_key = "listen-key-1"\n'))
    port = proc.url.rsplit(":", 1)[1]
    try:
        with launch_chromium(["--host-resolver-rules=MAP pi.test 127.0.0.1"]) as browser:
            page = new_recording_page(browser)
            problems = collect_problems(page)
            page.goto(f"http://pi.test:{port}/?key=listen-key-1")
            link = page.locator("#secure-link")
            expect(link).to_be_visible()
            expect(link).to_have_text(f"https://pi.test:{tls_port}/")
            # The link keeps the listening key: the https page needs it too.
            expect(link).to_have_attribute("href",
                                           f"https://pi.test:{tls_port}/?key=listen-key-1")
            expect(page.locator("#secure-note")).to_contain_text("lowest latency")
            assert problems == []
    finally:
        assert proc.stop() == 0, proc.log()


def test_stopped_by_the_broadcaster_and_server_restarts_are_explained_and_resumed(
    tmp_path: Path,
) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone")
    port = proc.url.rsplit(":", 1)[1]
    restarted = again = None
    try:
        with launch_chromium() as browser:
            page = new_recording_page(browser)
            problems = collect_problems(page)
            page.goto(f"{proc.url}/")
            listen_and_wait_for_sound(page)
            status = page.locator("#status")

            assert httpx.post(proc.url + "/audio/stop", timeout=5).status_code == 200
            expect(status).to_have_text(
                "the broadcaster stopped the stream: it plays again here when they restart it")
            expect(page.locator("#listen")).to_have_text("Stop listening")  # still connected
            assert httpx.post(proc.url + "/audio/start", timeout=5).status_code == 200
            expect(status).to_have_text("live", timeout=10_000)

            assert proc.stop() == 0, proc.log()  # a clean shutdown says so on the stream
            expect(status).to_have_text("the broadcaster has shut down: reconnecting…")
            page.wait_for_timeout(1_500)  # a few refused reconnections change nothing
            expect(status).to_have_text("the broadcaster has shut down: reconnecting…")

            # The same address comes back: the page plays again by itself.
            restarted = start_broadcaster(tmp_path, "--source", "tone", "--port", port,
                                          wait=False)
            expect(status).to_have_text("live", timeout=15_000)
            reconnects = page.locator('#figures [data-figure="reconnects"]')
            expect(reconnects).to_have_attribute("data-value", "1")
            expect_plausible_latency(page)  # the new process's stream started afresh

            restarted.process.kill()  # gone without a word: a crash, or the network
            expect(status).to_have_text("cannot reach the broadcaster: reconnecting…")
            expect(page.locator("#listen")).to_have_text("Stop listening")

            # It comes back on the same port: playback resumes by itself.
            again = start_broadcaster(tmp_path, "--source", "tone:440", "--port", port,
                                      wait=False)
            expect(status).to_have_text("live", timeout=15_000)
            expect(reconnects).to_have_attribute("data-value", "2")
            page.wait_for_timeout(1_000)
            samples = recorded_samples(page, 0.5)
            assert dominant_frequency(samples, 48_000) == pytest.approx(440, abs=5)
            expect_plausible_latency(page)
            # The stream cut off by the kill, and the refused reconnections (and a report or
            # a status check caught by it) while the server was away, are the browser's
            # reports, not the page's.
            expected = ("ERR_CONNECTION_REFUSED", "ERR_INCOMPLETE_CHUNKED_ENCODING",
                        "ERR_EMPTY_RESPONSE", "ERR_CONNECTION_RESET")
            paths = ("/audio/stream", "/audio/telemetry", "/status")
            assert [p for p in problems if not any(path in p for path in paths)
                    or not any(e in p for e in expected)] == []
    finally:
        proc.stop()
        if restarted is not None:
            restarted.stop()
        if again is not None:
            assert again.stop() == 0, again.log()


@pytest.mark.vmic
def test_an_unplugged_source_is_shown_offline_with_its_reason(tmp_path: Path) -> None:
    with VirtualMic(tmp_path / "vmic") as mic:
        proc = start_broadcaster(tmp_path, "--source", "mic", env=no_device_env() | mic.env)
        try:
            with launch_chromium() as browser:
                page = new_recording_page(browser)
                problems = collect_problems(page)
                page.goto(f"{proc.url}/")
                page.locator("#listen").click()
                status = page.locator("#status")
                expect(status).to_have_text("live", timeout=10_000)
                mic.remove_source()  # the USB mic is pulled out
                expect(status).to_contain_text("the source is offline (", timeout=10_000)
                expect(status).to_contain_text("mic:default")
                expect(status).to_contain_text("waiting for it to come back")
                mic.restore_source()
                expect(status).to_have_text("live", timeout=15_000)
                assert problems == []
        finally:
            assert proc.stop() == 0, proc.log()
