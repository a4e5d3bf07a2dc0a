"""The page's rewind panel, in real headless Chromium on a phone-sized screen, against a real
broadcaster that loops a tone stepping through frequencies and archives it: a tap on the
timeline plays what was captured then (the earlier frequency, at the page's output), "-10 s"
goes further back, "Live" returns to the current one; on each playback path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.page.listening import listen_and_wait_for_sound
from tests.page.test_page_paths import LAN_ARGS, LAN_NAME, NO_WEBCODECS_JS
from tests.support.browser import (
    RECORDER_JS,
    collect_problems,
    launch_chromium,
    recorded_samples,
)
from tests.support.rewind import (
    Run,
    first_sound_of,
    latency_ms,
    now_ms,
    start_stepped_broadcaster,
    tap_timeline_at,
)
from tests.support.server import start_broadcaster, wait_until
from tests.support.stepped_tone import played_step, step_at

PHONE: ViewportSize = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def stepped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Run]]:
    """A broadcaster looping the stepped tone, with 12 s archived."""
    proc = start_stepped_broadcaster(tmp_path_factory.mktemp("rewind"))
    try:
        yield proc.url, Run.of(proc.url, held_s=12)
    finally:
        proc.stop()


def assert_plays_what_was_captured(page: Page, run: Run) -> int:
    """What the page plays now is the step captured as long ago as its latency says."""
    latency = latency_ms(page)
    assert latency is not None
    heard = played_step(recorded_samples(page, 0.2))
    expected = run.steps_for(now_ms() - latency - 100)  # the 0.2 s heard, ending now
    assert heard in expected, f"heard {heard} Hz, expected {expected} ({latency:.0f} ms behind)"
    return heard


@pytest.mark.browser
@pytest.mark.parametrize(("host", "init_js"), [
    ("127.0.0.1", None), ("127.0.0.1", NO_WEBCODECS_JS), (LAN_NAME, None),
], ids=["webcodecs+worklet", "wasm+worklet", "wasm+scriptprocessor"])
def test_a_tap_on_the_timeline_replays_that_moment_and_live_comes_back(
    stepped: tuple[str, Run], host: str, init_js: str | None,
) -> None:
    url, run = stepped
    port = url.rsplit(":", 1)[1]
    with launch_chromium(LAN_ARGS) as browser:
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
        context.add_init_script(RECORDER_JS)
        if init_js:
            context.add_init_script(init_js)
        page = context.new_page()
        problems = collect_problems(page)
        page.goto(f"http://{host}:{port}/")
        listen_and_wait_for_sound(page)
        expect(page.locator("#archive")).to_be_visible()
        expect(page.locator("#behind")).to_have_text("live")
        page.wait_for_function("() => document.querySelector('#timeline').dataset.toMs")
        # The timeline and its buttons fit a phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.wait_for_timeout(1500)
        live = assert_plays_what_was_captured(page, run)

        # A tap in the middle of a step at least 6 s back: that step, from its middle on.
        moment = run.mid_step_before(now_ms() - 6000)
        replayed = step_at(run.offset_ms(moment))
        assert replayed != live or abs(now_ms() - moment) > 14_000
        tapped_ms = now_ms()
        tap_timeline_at(page, moment)
        expect(page.locator("#status")).to_have_text("replay", timeout=5_000)
        page.wait_for_timeout(600)
        tap_to_sound = first_sound_of(page, replayed)
        assert tap_to_sound is not None, f"the replay never played {replayed} Hz"
        print(f"\ntap on the timeline to first sound ({host}): {tap_to_sound:.0f} ms")
        expect(page.locator('#figures [data-figure="latency"]')).to_contain_text(
            "behind live", timeout=5_000)
        expect(page.locator("#behind")).to_contain_text("behind live")
        wait_until(lambda: latency_ms(page) is not None, 5, "the replay's latency")
        behind = latency_ms(page) or 0.0
        # As far behind as the moment tapped was: within the start burst the buffer skips,
        # and the second by which the timeline's right edge (now) may move between the test
        # reading the axis and tapping.
        assert abs(behind - (tapped_ms - moment)) < 1300, (behind, tapped_ms - moment)
        assert_plays_what_was_captured(page, run)

        # -10 s: ten seconds further back (the archive holds them).
        page.locator("#back-10").tap()
        wait_until(lambda: (latency_ms(page) or 0) > behind + 8_000, 5, "10 s further back")
        page.wait_for_timeout(1000)
        assert_plays_what_was_captured(page, run)

        # Live: the current step again.
        page.locator("#go-live").tap()
        expect(page.locator("#status")).to_have_text("live", timeout=5_000)
        expect(page.locator("#behind")).to_have_text("live")
        expect(page.locator("#go-live")).to_have_attribute("aria-pressed", "true")
        page.wait_for_timeout(1500)
        assert (latency_ms(page) or 1e9) < 1000
        assert "replay" not in (page.locator("#figures").text_content() or "")
        assert_plays_what_was_captured(page, run)
        assert problems == []


@pytest.mark.browser
def test_the_downloads_are_ogg_opus_of_the_span_asked_and_a_tap_starts_a_replay(
    stepped: tuple[str, Run],
) -> None:
    url, _ = stepped
    with launch_chromium() as browser:
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
        page = context.new_page()
        problems = collect_problems(page)
        page.goto(f"{url}/")
        expect(page.locator("#archive")).to_be_visible()
        page.wait_for_function("() => document.querySelector('#timeline').dataset.toMs")
        last = page.locator("#download-last").get_attribute("href")
        assert last == "/archive/download?last_s=300"
        # A sideways drag selects a span; its link downloads just that.
        box = page.locator("#timeline").bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + 0.2 * box["width"], y)
        page.mouse.down()
        page.mouse.move(box["x"] + 0.6 * box["width"], y, steps=5)
        page.mouse.up()
        link = page.locator("#download-span")
        expect(link).to_be_visible()
        expect(link).to_contain_text("Download the selection")
        href = link.get_attribute("href") or ""
        assert href.startswith("/archive/download?from_ms=")
        with page.expect_download() as download:
            link.click()
        saved = download.value.path()
        data = Path(saved).read_bytes()
        assert data[:4] == b"OggS" and b"OpusHead" in data[:100]
        whole = httpx.get(f"{url}{last}", timeout=10).content
        assert len(data) < len(whole)
        # The browser itself plays what it downloads: Chromium's own decoder reads it whole.
        query = dict(part.split("=") for part in href.split("?", 1)[1].split("&"))
        span_s = (int(query["to_ms"]) - int(query["from_ms"])) / 1000
        decoded_s = page.evaluate("""async (href) => {
          const data = await (await fetch(href)).arrayBuffer();
          const audio = await new OfflineAudioContext(1, 48000, 48000).decodeAudioData(data);
          return audio.duration;
        }""", href)
        assert decoded_s == pytest.approx(span_s, abs=0.15)
        page.locator("#clear-span").click()
        expect(link).to_be_hidden()
        # A tap before listening starts listening there.
        tap_timeline_at(page, now_ms() - 5000)
        expect(page.locator("#status")).to_have_text("replay", timeout=10_000)
        expect(page.locator("#behind")).to_contain_text("behind live")
        assert problems == []


@pytest.mark.browser
def test_no_timeline_when_the_broadcaster_keeps_no_archive(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone:440",
                             config="[archive]\nenabled = false\n")
    try:
        with launch_chromium() as browser:
            page = browser.new_context(viewport=PHONE).new_page()
            problems = collect_problems(page)
            with page.expect_response(lambda r: r.url.endswith("/archive")) as answer:
                page.goto(f"{proc.url}/")
            assert answer.value.json() == {"enabled": False, "reason": "archive.enabled is false"}
            page.wait_for_timeout(200)
            expect(page.locator("#archive")).to_be_hidden()
            assert problems == []
    finally:
        proc.stop()
