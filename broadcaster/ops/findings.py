"""What `broadcaster doctor` found, in plain words: the `Finding` type, the verdicts on what
the checks measured (the level, the port) and the report's lines. Pure: the checks that
touch the machine are in doctor.py."""

from __future__ import annotations

import errno
import math
import socket
from array import array
from dataclasses import dataclass
from enum import Enum

from broadcaster.config import ServerConfig

SILENT_DBFS = -60.0  # a live microphone's own noise is louder than this
CLIPPING_DBFS = -1.0
METER_FLOOR_DBFS = -60.0


class Verdict(Enum):
    """How a check came out."""

    OK = "ok"
    INFO = "info"  # worth knowing; does not stop broadcasting
    PROBLEM = "FAIL"  # broadcasting would not work (or would broadcast silence)


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one check, in plain words, with a fix for a problem."""

    topic: str
    verdict: Verdict
    summary: str
    details: tuple[str, ...] = ()
    fix: str = ""

    def __post_init__(self) -> None:
        if self.verdict is Verdict.PROBLEM and not self.fix:
            raise ValueError(f"finding {self.topic!r} is a problem without a fix")


def peak_dbfs(pcm: bytes) -> float:
    """The highest absolute s16le sample in dB below full scale (-inf for digital silence)."""
    samples = array("h", pcm[: len(pcm) - len(pcm) % 2])
    peak = max(max(samples, default=0), -min(samples, default=0))
    return 20.0 * math.log10(peak / 32768.0) if peak else -math.inf


def level_finding(loudest_dbfs: float, seconds: float, source_name: str) -> Finding:
    """The verdict on the loudest peak heard from the microphone in `seconds`."""
    heard = ("every sample was 0 (digital silence)" if loudest_dbfs == -math.inf
             else f"the loudest peak was {loudest_dbfs:.1f} dBFS")
    if loudest_dbfs < SILENT_DBFS:
        return Finding(
            "level", Verdict.PROBLEM, "silent: is the mic muted? try `alsamixer`",
            (f"in {seconds:g} s from {source_name}, {heard}",),
            "in `alsamixer`, F6 chooses the sound card and F4 shows the capture controls: "
            "unmute the mic (M), enable capture (space) and raise its level, then make a "
            "sound near it and run `broadcaster doctor` again")
    if loudest_dbfs >= CLIPPING_DBFS:
        return Finding("level", Verdict.INFO, f"peak {loudest_dbfs:.1f} dBFS: loud sounds clip",
                       ("lower the capture level in `alsamixer` (F4) for a cleaner sound",))
    return Finding("level", Verdict.OK, f"peak {loudest_dbfs:.1f} dBFS in {seconds:g} s "
                                        f"from {source_name}")


def meter_line(block_dbfs: float, loudest_dbfs: float, width: int = 40) -> str:
    """A one-line level meter from METER_FLOOR_DBFS to 0 dBFS."""
    fill = (block_dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS if block_dbfs > -math.inf else 0.0
    bars = round(width * min(1.0, max(0.0, fill)))
    return (f"       level {block_dbfs:6.1f} dBFS [{'#' * bars}{'.' * (width - bars)}] "
            f"peak {loudest_dbfs:6.1f}")


def port_finding(server: ServerConfig, exc: OSError | None) -> Finding:
    """The verdict on binding the server's address."""
    if exc is None:
        return Finding("port", Verdict.OK, f"{server.host}:{server.port} is free")
    change = "with --port, or `port` under [server] in the config"
    host_fix = ('set `host` under [server] (or --host) to "0.0.0.0" for every address, or to '
                "one of this machine's addresses")
    details: tuple[str, ...] = ()
    if isinstance(exc, socket.gaierror):
        summary, fix = f"cannot resolve the host {server.host!r}: {exc}", host_fix
    elif exc.errno == errno.EADDRINUSE:
        summary = f"port {server.port} is taken by another program"
        details = (f"`ss -ltnp 'sport = :{server.port}'` names it; a broadcaster that is "
                   "already running counts (`systemctl status broadcaster`)",)
        fix = f"stop that program, or choose another port {change}"
    elif exc.errno == errno.EACCES:
        summary = f"port {server.port} needs root (below 1024)"
        fix = f"use a port from 1024 up (8000 is the default) {change}"
    elif exc.errno == errno.EADDRNOTAVAIL:
        summary, fix = f"{server.host} is not an address of this machine", host_fix
    else:
        summary = f"cannot listen on {server.host}:{server.port}: {exc}"
        fix = f"choose another address or port {change}"
    return Finding("port", Verdict.PROBLEM, summary, details, fix)


def format_finding(finding: Finding) -> list[str]:
    """The report lines of one finding."""
    lines = [f"[{finding.verdict.value:^4}] {finding.topic}: {finding.summary}"]
    lines += [f"       {detail}" for detail in finding.details]
    if finding.fix:
        lines.append(f"       fix: {finding.fix}")
    return lines


def format_summary(findings: list[Finding]) -> str:
    """The closing line: does broadcasting work, and what next."""
    problems = [f.topic for f in findings if f.verdict is Verdict.PROBLEM]
    if not problems:
        return "all checks passed: broadcasting would work (start it with `broadcaster`)"
    return (f"{len(problems)} problem(s) ({', '.join(problems)}): broadcasting would not work "
            "as configured; fix them (the `fix:` lines above) and run `broadcaster doctor` again")
