"""Fixtures that run the real broadcaster (a subprocess serving on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# The helpers live in tests.support (the benchmarks use them too); tests import them from here.
from tests.support.server import (
    ROOT,
    Broadcaster,
    free_port,
    no_device_env,
    start_broadcaster,
    wait_until,
)

__all__ = ["ROOT", "Broadcaster", "free_port", "no_device_env", "start_broadcaster", "wait_until"]


@pytest.fixture(scope="module")
def tone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real broadcaster playing tone:440 with a 1-second ring and no archive (what the
    ring alone does; tests/archive/ has the archive); yields its base URL."""
    tmp = tmp_path_factory.mktemp("tone")
    proc = start_broadcaster(tmp, "--source", "tone:440",
                             config="[ring]\ncapacity_s = 1.0\n[archive]\nenabled = false\n")
    yield proc.url
    assert proc.stop() == 0, proc.log()
