"""What doctor found, in plain words: the level, meter and port verdicts and the report."""

from __future__ import annotations

import errno
import math
import socket

import pytest

from broadcaster.config import ServerConfig
from broadcaster.ops.findings import (
    Finding,
    Verdict,
    format_finding,
    format_summary,
    level_finding,
    meter_line,
    peak_dbfs,
    port_finding,
)
from tests.support.signal_tools import sine_s16le


def test_peak_dbfs() -> None:
    assert peak_dbfs(b"") == -math.inf
    assert peak_dbfs(bytes(960)) == -math.inf
    assert peak_dbfs((-32768).to_bytes(2, "little", signed=True) * 3) == 0.0
    assert peak_dbfs(sine_s16le(440, 0.1)) == pytest.approx(-6.02, abs=0.01)
    assert peak_dbfs(b"\x01\x00\x00") == pytest.approx(-90.3, abs=0.1)  # odd byte ignored


def test_a_silent_mic_is_a_problem_that_points_at_alsamixer() -> None:
    for loudest in (-math.inf, -75.0):
        finding = level_finding(loudest, 3, "mic:USB")
        assert finding.verdict is Verdict.PROBLEM
        assert finding.summary == "silent: is the mic muted? try `alsamixer`"
        assert "F4" in finding.fix
    assert "digital silence" in level_finding(-math.inf, 3, "mic:USB").details[0]
    assert level_finding(-20.0, 3, "mic:USB") == Finding(
        "level", Verdict.OK, "peak -20.0 dBFS in 3 s from mic:USB")
    assert level_finding(-0.1, 3, "mic:USB").verdict is Verdict.INFO  # clipping


def test_meter_line() -> None:
    assert meter_line(-30.0, -12.0, width=10) == \
        "       level  -30.0 dBFS [#####.....] peak  -12.0"
    assert "[..........]" in meter_line(-math.inf, -math.inf, width=10)
    assert "[##########]" in meter_line(0.0, 0.0, width=10)


@pytest.mark.parametrize(("exc", "summary", "fix"), [
    (None, "0.0.0.0:8000 is free", ""),
    (OSError(errno.EADDRINUSE, "in use"), "port 8000 is taken by another program",
     "stop that program, or choose another port with --port"),
    (OSError(errno.EACCES, "denied"), "port 8000 needs root (below 1024)", "from 1024 up"),
    (OSError(errno.EADDRNOTAVAIL, "no"), "0.0.0.0 is not an address of this machine",
     '"0.0.0.0"'),
    (socket.gaierror(-2, "Name or service not known"), "cannot resolve the host '0.0.0.0'",
     "--host"),
])
def test_port_verdicts(exc: OSError | None, summary: str, fix: str) -> None:
    finding = port_finding(ServerConfig(), exc)
    assert finding.summary.startswith(summary) and fix in finding.fix
    assert (finding.verdict is Verdict.OK) == (exc is None)


def test_a_problem_needs_a_fix() -> None:
    with pytest.raises(ValueError, match="without a fix"):
        Finding("port", Verdict.PROBLEM, "taken")


def test_report_formatting() -> None:
    problem = Finding("level", Verdict.PROBLEM, "silent", ("details",), "unmute it")
    assert format_finding(problem) == ["[FAIL] level: silent", "       details",
                                       "       fix: unmute it"]
    assert format_finding(Finding("port", Verdict.OK, "free")) == ["[ ok ] port: free"]
    assert format_summary([Finding("port", Verdict.OK, "free")]).startswith("all checks passed")
    assert format_summary([problem, Finding("x", Verdict.INFO, "y")]).startswith(
        "1 problem(s) (level): broadcasting would not work")
