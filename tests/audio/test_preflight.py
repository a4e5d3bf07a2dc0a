"""PortAudio's trial start in a child process: the verdicts on how the child ended (pure),
and real children on a broken ALSA set-up, a working one and one that hangs."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from broadcaster.audio.preflight import (
    PortAudioBroken,
    config_fix,
    ended,
    hung,
    judge,
    run_child,
    said_lines,
)
from tests.conftest import no_device_env

ASSERTION = ("python: src/hostapi/alsa/pa_linux_alsa.c:1454: BuildDeviceList: Assertion "
             "`devIdx < numDeviceNames' failed.")
PARSE_ERROR = """\
ALSA lib conf.c:2007:(_snd_config_load_with_include) _toplevel_:2:0:Unexpected char
ALSA lib conf.c:4615:(snd_config_update_r) /tmp/bad.conf may be old or corrupted
ALSA lib conf.c:4615:(snd_config_update_r) /tmp/bad.conf may be old or corrupted
Expression 'BuildDeviceList( alsaHostApi )' failed in 'src/hostapi/alsa/pa_linux_alsa.c'
Traceback (most recent call last):
  File "/venv/pyaudio/__init__.py", line 591, in __init__
    pa.initialize()
OSError: [Errno -9999] Unanticipated host error
"""


def test_what_the_libraries_said_keeps_libasounds_first_lines_and_the_last() -> None:
    assert said_lines(PARSE_ERROR) == (
        "ALSA lib conf.c:2007:(_snd_config_load_with_include) _toplevel_:2:0:Unexpected char",
        "ALSA lib conf.c:4615:(snd_config_update_r) /tmp/bad.conf may be old or corrupted",
        "OSError: [Errno -9999] Unanticipated host error")
    assert said_lines(ASSERTION + "\n") == (ASSERTION,)
    assert said_lines("") == ()


def test_a_crash_is_named_and_the_fix_points_at_the_alsa_configuration() -> None:
    broken = ended(-signal.SIGABRT, ASSERTION, {"ALSA_CONFIG_PATH": "/dev/null"})
    assert broken is not None
    assert broken.problem == ("PortAudio crashed (SIGABRT) while looking for sound devices: "
                              "the ALSA configuration is broken")
    assert broken.said == (ASSERTION,)
    assert broken.fix.startswith("ALSA_CONFIG_PATH is set to '/dev/null': unset it")
    assert str(broken) == f"{broken.problem}; fix: {broken.fix}"
    assert "\n" not in str(broken)  # one log line
    plain = ended(-signal.SIGSEGV, "", {})
    assert plain is not None and "(SIGSEGV)" in plain.problem
    assert "/etc/asound.conf" in plain.fix and "`audio` group" in plain.fix
    assert config_fix({}) == plain.fix


def test_a_failed_start_says_what_libasound_said_and_a_clean_end_is_fine() -> None:
    failed = ended(1, PARSE_ERROR, {})
    assert failed is not None
    assert failed.problem == ("PortAudio failed to start: ALSA lib conf.c:2007:"
                              "(_snd_config_load_with_include) _toplevel_:2:0:Unexpected char")
    assert ended(0, "ALSA lib pcm.c:2664: Unknown PCM cards.pcm.rear\n", {}) is None


def test_a_hang_says_how_long_and_what_to_restart() -> None:
    broken = hung("", 10.0)
    assert broken.problem == ("PortAudio did not finish looking for sound devices in 10 s: a "
                              "sound server or device hangs")
    assert "restart the sound server" in broken.fix


# ---------------------------------------------------------------- real children

@pytest.mark.parametrize(("config", "problem"), [
    ("/dev/null", "PortAudio crashed (SIGABRT) while looking for sound devices"),
    ("/nonexistent", "PortAudio crashed (SIGABRT) while looking for sound devices"),
    ("unparseable", "PortAudio failed to start: ALSA lib conf.c:"),
])
def test_a_broken_alsa_configuration_kills_the_child_not_this_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: str, problem: str
) -> None:
    if config == "unparseable":
        config = str(tmp_path / "asound.conf")
        Path(config).write_text("pcm.!default {\n")
    for name, value in no_device_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ALSA_CONFIG_PATH", config)
    with pytest.raises(PortAudioBroken) as info:
        run_child()
    assert info.value.problem.startswith(problem)
    assert info.value.fix.startswith(f"ALSA_CONFIG_PATH is set to {config!r}")
    assert info.value.said  # what libasound or PortAudio printed, for the report


def test_with_a_sound_set_up_portaudio_can_start_on_the_child_ends_well(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALSA_CONFIG_PATH", raising=False)
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent")  # no device: still a clean start
    run_child()


def test_a_child_that_hangs_is_killed_after_the_timeout() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with pytest.raises(PortAudioBroken, match=r"did not finish .* in 0.3 s"):
        judge(child, timeout_s=0.3)
    assert child.returncode == -signal.SIGKILL
