"""The listener page's three playback paths, in real headless Chromium against a real
broadcaster playing tone:440, and the /vendor/ route that serves the WebAssembly decoder.

1. secure context with WebCodecs Opus: AudioDecoder -> AudioWorklet
2. secure context without WebCodecs Opus: WebAssembly libopus -> AudioWorklet
3. no secure context (plain http on a LAN name): WebAssembly libopus -> ScriptProcessor
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from broadcaster.audio.sources.tone import tone_source
from broadcaster.config_file import config_from_dict
from broadcaster.server import WEB_ROOT
from broadcaster.station import Station
from broadcaster.web.app import create_app
from tests.support.browser import (
    assert_plays_the_tone,
    collect_problems,
    launch_chromium,
    new_recording_page,
)

LAN_NAME = "pi.test"  # resolves to loopback, but is no secure context over plain http
LAN_ARGS = [f"--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1"]
DECODER_JS = "/vendor/opus-decoder/opus-decoder.min.js"
# Safari before 16.4 and some Firefox builds: WebCodecs, but not for Opus.
NO_OPUS_JS = "AudioDecoder.isConfigSupported = async (config) => ({ supported: false, config });"
# Firefox for Android: no WebCodecs at all.
NO_WEBCODECS_JS = "delete window.AudioDecoder; delete window.EncodedAudioChunk;"
# Counts the WebCodecs outputs the page's main thread copies out (none where a Worker decodes).
COUNT_MAIN_THREAD_DECODING_JS = """
window.__mainThreadDecoded = 0;
if (window.AudioData) {
  const copyTo = AudioData.prototype.copyTo;
  AudioData.prototype.copyTo = function (...args) {
    window.__mainThreadDecoded += 1;
    return copyTo.apply(this, args);
  };
}
"""
DECODER_WORKER_JS = "/static/decoding/decoder_worker.js"


def vendor_requests(page: Page) -> list[str]:
    """A list that fills with the page's requests under /vendor/."""
    seen: list[str] = []

    def on_request(request: Request) -> None:
        if "/vendor/" in request.url:
            seen.append(request.url)

    page.on("request", on_request)
    return seen


@pytest.mark.browser
@pytest.mark.parametrize(("path", "host", "init_js"), [
    ("webcodecs+worklet", "127.0.0.1", None),
    ("wasm+worklet", "127.0.0.1", NO_OPUS_JS),
    ("wasm+worklet", "127.0.0.1", NO_WEBCODECS_JS),
    ("wasm+scriptprocessor", LAN_NAME, None),
], ids=["webcodecs+worklet", "wasm+worklet-no-opus", "wasm+worklet-no-webcodecs",
        "wasm+scriptprocessor"])
def test_each_path_plays_the_live_tone_and_shows_its_name(
    tone_server: str, path: str, host: str, init_js: str | None
) -> None:
    port = tone_server.rsplit(":", 1)[1]
    with launch_chromium(LAN_ARGS) as browser:
        page = new_recording_page(browser)
        if init_js is not None:
            page.add_init_script(init_js)
        page.add_init_script(COUNT_MAIN_THREAD_DECODING_JS)
        problems = collect_problems(page)
        vendor = vendor_requests(page)
        page.goto(f"http://{host}:{port}/")
        secure = host != LAN_NAME
        assert page.evaluate("window.isSecureContext") is secure
        assert page.evaluate("'audioWorklet' in BaseAudioContext.prototype") is secure

        page.locator("#listen").click()
        expect(page.locator("#status")).to_have_text("live", timeout=10_000)
        page.wait_for_function("() => window.__firstSoundMs !== undefined", timeout=5_000)
        expect(page.locator("#figures")).to_contain_text(path)
        page.wait_for_timeout(2_000)
        assert_plays_the_tone(page)
        expect(page.locator("#figures")).to_contain_text("latency ≈")
        expect(page.locator("#figures")).to_contain_text(path)
        # Only the fallback loads the WebAssembly decoder.
        assert vendor == ([f"http://{host}:{port}{DECODER_JS}"] if path.startswith("wasm") else [])
        # WebCodecs decodes in a Worker that hands the PCM to the worklet: the main thread
        # decodes nothing.
        workers = [w.url for w in page.workers if w.url.endswith(DECODER_WORKER_JS)]
        if path == "webcodecs+worklet":
            assert workers and page.evaluate("window.__mainThreadDecoded") == 0
        if not secure:
            assert workers == []

        page.locator("#listen").click()
        expect(page.locator("#status")).to_have_text("stopped")
        assert problems == []


@pytest.mark.browser
def test_a_decoder_worker_that_cannot_load_leaves_decoding_to_the_main_thread(
    tone_server: str,
) -> None:
    with launch_chromium() as browser:
        page = new_recording_page(browser)
        page.route(f"**{DECODER_WORKER_JS}", lambda route: route.abort())
        page.add_init_script(COUNT_MAIN_THREAD_DECODING_JS)
        page.goto(f"{tone_server}/")
        page.locator("#listen").click()
        expect(page.locator("#status")).to_have_text("live", timeout=10_000)
        page.wait_for_function("() => window.__firstSoundMs !== undefined", timeout=5_000)
        page.wait_for_timeout(2_000)
        assert_plays_the_tone(page)
        expect(page.locator("#figures")).to_contain_text("webcodecs+worklet")
        assert page.evaluate("window.__mainThreadDecoded") > 0
        page.context.close()


@pytest.mark.browser
def test_without_the_vendor_files_webcodecs_plays_and_the_fallback_says_why(
    tone_server: str,
) -> None:
    port = tone_server.rsplit(":", 1)[1]
    with launch_chromium(LAN_ARGS) as browser:
        for host in ("127.0.0.1", LAN_NAME):
            page = new_recording_page(browser)
            # As a server without node_modules answers (see the route's test below).
            page.route("**/vendor/**", lambda route: route.fulfill(
                status=404, content_type="application/json",
                body='{"error": "opus-decoder is not installed on this server"}'))
            problems = collect_problems(page)
            page.goto(f"http://{host}:{port}/")
            page.locator("#listen").click()
            status = page.locator("#status")
            if host == "127.0.0.1":
                expect(status).to_have_text("live", timeout=10_000)
                page.wait_for_function("() => window.__firstSoundMs !== undefined",
                                       timeout=5_000)
                expect(page.locator("#figures")).to_contain_text("webcodecs+worklet")
                assert problems == []
            else:
                expect(status).to_contain_text("not a secure context")
                expect(status).to_contain_text("fallback Opus decoder did not load")
                expect(status).to_contain_text("scripts/setup.sh")
                expect(page.locator("#listen")).to_have_text("Start listening")
                assert [p for p in problems if DECODER_JS not in p
                        and "Failed to load resource" not in p] == []
            page.context.close()


def vendor_get(path: str, vendor: list[Path] | None = None) -> tuple[int, str, bytes]:
    """GET `path` from the real app in-process: (status, content type, body)."""
    async def main() -> tuple[int, str, bytes]:
        config = config_from_dict({"server": {"autostart": False}})
        station = Station(config, tone_source(440, -12, 48000, 1))
        await station.open()
        try:
            client = create_app(station, WEB_ROOT, vendor=vendor).test_client()
            response = await client.get(path)
            return (response.status_code, response.headers.get("Content-Type", ""),
                    await response.get_data())
        finally:
            await station.close()

    return asyncio.run(main())


def test_a_checkout_serves_the_decoder_npm_installed() -> None:
    status, content_type, body = vendor_get(DECODER_JS)
    assert status == 200, "node_modules has no opus-decoder: run scripts/setup.sh"
    assert content_type.startswith("text/javascript")
    assert b"OpusDecoder" in body


def test_the_vendor_route_serves_only_the_named_package_folders(tmp_path: Path) -> None:
    dist = tmp_path / "node_modules" / "opus-decoder" / "dist"
    dist.mkdir(parents=True)
    (dist / "opus-decoder.min.js").write_text("var decoder;\n")
    (tmp_path / "node_modules" / "opus-decoder" / "package.json").write_text("{}")
    roots = [tmp_path / "elsewhere", tmp_path / "node_modules"]  # the first one found wins
    assert vendor_get(DECODER_JS, roots)[::2] == (200, b"var decoder;\n")
    assert vendor_get("/vendor/opus-decoder/../package.json", roots)[0] == 404
    assert vendor_get("/vendor/opus-decoder/nothing.js", roots)[0] == 404
    assert vendor_get("/vendor/left-pad/index.js", roots)[0] == 404


def test_missing_vendor_files_are_a_404_that_says_how_to_install_them(tmp_path: Path) -> None:
    status, _, body = vendor_get(DECODER_JS, [tmp_path / "node_modules"])
    assert status == 404
    assert b"opus-decoder is not installed" in body and b"scripts/setup.sh" in body
