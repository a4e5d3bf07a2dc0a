"""What the listener page tests do again and again: read a figure, press Start and wait for
sound."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def figure(page: Page, name: str) -> str:
    """The bare value of one figure of the page's figures line ('' when unknown)."""
    return page.locator(f'#figures [data-figure="{name}"]').get_attribute("data-value") or ""


def listen_and_wait_for_sound(page: Page) -> None:
    """Press Start listening and wait until the page plays audible sound."""
    page.locator("#listen").click()
    expect(page.locator("#status")).to_have_text("live", timeout=10_000)
    page.wait_for_function("() => window.__firstSoundMs !== undefined", timeout=5_000)
