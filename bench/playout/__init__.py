"""Mouth to ear in Chromium, a click at a time: `python -m bench.playout`."""
