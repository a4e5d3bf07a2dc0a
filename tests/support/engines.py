"""The three browser engines behind one small interface: `launch(engine, ...)` gives a
browser whose `new_page()` has goto, add_init_script, click, evaluate, screenshot and close,
whatever drives it underneath.

- chromium: Debian's Chromium through Playwright (tests/support/browser.py).
- firefox: Debian's Firefox ESR through puppeteer-core over WebDriver BiDi (firefox.py);
  it plays into the PulseAudio daemon given (it plays nothing without one).
- webkit: WebKitGTK's MiniBrowser through WebKitWebDriver on a private Xvfb (webkit.py);
  it plays into the PulseAudio daemon given too. There is no BiDi there, so an init script
  runs after the page's load, before the test touches the page.

`LAN_NAME` reaches loopback in every engine (a name that is no secure context over plain
http, as a Raspberry Pi's name on a LAN): Chromium's resolver rules, Firefox's forced DNS
answer, and a private hosts file for WebKit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from playwright.sync_api import Page, ViewportSize

from tests.support.browser import RECORDER_JS, launch_chromium
from tests.support.firefox import FirefoxBridge
from tests.support.pulse import PulseDaemon
from tests.support.webkit import WebKitDriver

ENGINES = ("chromium", "firefox", "webkit")
LAN_NAME = "pi.test"


class EnginePage(Protocol):
    """A page in any engine (a Playwright Page has the same methods)."""

    def goto(self, url: str) -> object:
        """Load `url` and wait for its load event."""

    def add_init_script(self, script: str) -> object:
        """Run `script` in every document this page loads, before the test touches it."""

    def click(self, selector: str) -> None:
        """A real click (a user gesture) on the element `selector` matches."""

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        """The value of a JS expression; a function expression is called with `arg`."""

    def screenshot(self, *, path: str) -> object:
        """Save what the page shows as a PNG."""

    def set_viewport_size(self, viewport_size: ViewportSize) -> None:
        """Make the page's viewport this many CSS px (a phone's screen, say)."""

    def close(self) -> None:
        """Close the page."""


class EngineBrowser(Protocol):
    """A running browser of one engine."""

    def new_page(self) -> EnginePage:
        """A new page (tab) whose audio output is recorded (browser.py's recorder)."""


def wait_for(page: EnginePage, condition: str, timeout_s: float) -> None:
    """Poll a JS condition on `page` until it holds; fail naming it after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {condition}")
        time.sleep(0.1)


def call_js(expression: str, arg: Any) -> str:
    """An expression for `evaluate`: the value of `expression`, or of its call with `arg`."""
    return (f"(async () => {{ const v = ({expression}); "
            f"return typeof v === 'function' ? await v({json.dumps(arg)}) : await v; }})()")


class _Chromium:
    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_page(self) -> EnginePage:
        context = self._browser.new_context()
        context.add_init_script(RECORDER_JS)
        page: Page = context.new_page()
        return page


class _FirefoxPage:
    def __init__(self, bridge: FirefoxBridge) -> None:
        self._bridge = bridge
        self._id = bridge.call("newPage")

    def goto(self, url: str) -> object:
        return self._bridge.call("goto", page=self._id, url=url, timeoutMs=20_000)

    def add_init_script(self, script: str) -> None:
        self._bridge.call("initScript", page=self._id, js=script)

    def click(self, selector: str) -> None:
        self._bridge.call("click", page=self._id, selector=selector)

    def evaluate(self, expression: str, arg: Any = None, timeout_s: float = 30.0) -> Any:
        return self._bridge.call("evaluate", timeout_s, page=self._id,
                                 js=call_js(expression, arg))

    def screenshot(self, *, path: str) -> object:
        return self._bridge.call("screenshot", page=self._id, path=path)

    def set_viewport_size(self, viewport_size: ViewportSize) -> None:
        self._bridge.call("viewport", page=self._id, width=viewport_size["width"],
                          height=viewport_size["height"])

    def activate(self) -> None:
        """Its tab to the front of the window (BiDi browsingContext.activate)."""
        self._bridge.call("activate", page=self._id)

    def close(self) -> None:
        self._bridge.call("closePage", page=self._id)


class _Firefox:
    def __init__(self, bridge: FirefoxBridge) -> None:
        self._bridge = bridge

    def new_page(self) -> EnginePage:
        page = _FirefoxPage(self._bridge)
        page.add_init_script(RECORDER_JS)
        return page


class _WebKitPage:
    """The one MiniBrowser window (WebDriver drives one at a time)."""

    def __init__(self, driver: WebKitDriver) -> None:
        self._driver = driver
        self._scripts: list[str] = []

    def goto(self, url: str) -> object:
        self._driver.command("POST", "/url", {"url": url})
        # The driver may answer before the page's module scripts have run.
        deadline = time.monotonic() + 10
        while self._driver.execute("return document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not finish loading")
            time.sleep(0.05)
        for script in self._scripts:
            self._driver.execute(script)
        return None

    def add_init_script(self, script: str) -> None:
        self._scripts.append(script)

    def click(self, selector: str) -> None:
        self._driver.click(selector)

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        return self._driver.execute(f"return {call_js(expression, arg)};")

    def screenshot(self, *, path: str) -> object:
        self._driver.screenshot(Path(path))
        return None

    def set_viewport_size(self, viewport_size: ViewportSize) -> None:
        self._driver.set_viewport(viewport_size["width"], viewport_size["height"])

    def close(self) -> None:
        self._driver.command("POST", "/url", {"url": "about:blank"})


class _WebKit:
    def __init__(self, driver: WebKitDriver) -> None:
        self._driver = driver

    def new_page(self) -> EnginePage:
        page = _WebKitPage(self._driver)
        page.add_init_script(RECORDER_JS)
        return page


def bring_to_front(page: EnginePage) -> bool:
    """Put `page`'s tab in front of the others of its window, so that they are hidden
    (`document.visibilityState` "hidden"): Firefox only, through BiDi. False where the
    engine cannot: Playwright's Chromium never hides a page, and the one MiniBrowser window
    WebKitWebDriver drives has no other tab."""
    if isinstance(page, _FirefoxPage):
        page.activate()
        return True
    return False


@contextmanager
def launch(engine: str, workdir: Path, sound_env: dict[str, str]) -> Iterator[EngineBrowser]:
    """Start a browser of `engine`; Firefox and WebKit play into `sound_env`'s PulseAudio."""
    workdir.mkdir(parents=True, exist_ok=True)
    if engine == "chromium":
        with launch_chromium([f"--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1"]) as browser:
            yield _Chromium(browser)
    elif engine == "firefox":
        # Overlay scrollbars, as on a phone: none takes width from the page.
        bridge = FirefoxBridge(workdir, sound_env, {"network.dns.forceResolve": "127.0.0.1",
                                                    "ui.useOverlayScrollbars": 1})
        try:
            yield _Firefox(bridge)
        finally:
            bridge.close()
    elif engine == "webkit":
        driver = WebKitDriver(workdir, sound_env, {LAN_NAME: "127.0.0.1"})
        try:
            yield _WebKit(driver)
        finally:
            driver.close()
    else:
        raise ValueError(f"unknown engine {engine!r}")


@contextmanager
def speakers(workdir: Path) -> Iterator[dict[str, str]]:
    """A private PulseAudio daemon whose default sink is a null sink (a sound card that
    plays in real time into nothing), where Firefox and WebKit play; yields its client env."""
    daemon = PulseDaemon(workdir, 48_000, 1)
    daemon.start()
    try:
        daemon.pactl("load-module", "module-null-sink", "sink_name=speakers", "rate=48000")
        daemon.pactl("set-default-sink", "speakers")
        yield daemon.env
    finally:
        daemon.stop()
