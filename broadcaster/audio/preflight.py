"""PortAudio's first start in a process happens in a child process first.

PortAudio reads the ALSA configuration when it starts, and some broken set-ups make it
abort the whole process (with `ALSA_CONFIG_PATH=/dev/null` an assertion in its ALSA host
fails: SIGABRT, no Python exception). Started in a child, the crash kills only the child,
and the broadcaster says what is wrong in plain words. The child costs one Python start
and one PortAudio start, once per process and only for sources that use a device.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping

from broadcaster.audio.sources import SourceError

TIMEOUT_S = 10.0  # PortAudio normally starts in well under a second
ALSA_LINES = 2  # libasound lines a report keeps

_ALSA_FIX = ("check the ALSA configuration: `arecord -l` should list the sound cards; move "
             "/etc/asound.conf and ~/.asoundrc aside to test them, "
             "`sudo apt-get install --reinstall libasound2 libasound2-plugins` restores the "
             "system's files, and a service user must be in the `audio` group")
_HANG_FIX = ("restart the sound server (`systemctl --user restart pipewire pulseaudio`) or "
             "unplug and replug the USB microphone, then try again")


class PortAudioBroken(SourceError):
    """PortAudio cannot start here: it crashed, hung or failed in the child process."""

    def __init__(self, problem: str, said: tuple[str, ...], fix: str) -> None:
        super().__init__(f"{problem}; fix: {fix}")
        self.problem = problem
        self.said = said  # the last lines libasound and PortAudio printed
        self.fix = fix


def said_lines(stderr: str) -> tuple[str, ...]:
    """What the audio libraries said that tells why: libasound's first complaints (its
    later lines repeat them) and the last line (PortAudio's assertion, or the exception)."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.startswith((" ", "Traceback"))]
    alsa = [line for line in lines if line.startswith("ALSA lib")][:ALSA_LINES]
    return tuple(dict.fromkeys([*alsa, *lines[-1:]]))


def config_fix(env: Mapping[str, str]) -> str:
    """How to mend the ALSA configuration PortAudio read, given the environment it ran in."""
    path = env.get("ALSA_CONFIG_PATH")
    if path is None:
        return _ALSA_FIX
    return (f"ALSA_CONFIG_PATH is set to {path!r}: unset it, or point it at a valid ALSA "
            "configuration (normally /usr/share/alsa/alsa.conf)")


def hung(stderr: str, timeout_s: float) -> PortAudioBroken:
    """The verdict on a child that did not end within `timeout_s`."""
    return PortAudioBroken(f"PortAudio did not finish looking for sound devices in "
                           f"{timeout_s:g} s: a sound server or device hangs",
                           said_lines(stderr), _HANG_FIX)


def ended(returncode: int, stderr: str, env: Mapping[str, str]) -> PortAudioBroken | None:
    """The verdict on a child that ended with `returncode`: None if PortAudio started."""
    said = said_lines(stderr)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return PortAudioBroken(f"PortAudio crashed ({name}) while looking for sound devices: "
                               "the ALSA configuration is broken", said, config_fix(env))
    if returncode > 0:
        reason = f": {said[0]}" if said else ""
        return PortAudioBroken(f"PortAudio failed to start{reason}", said, config_fix(env))
    return None


def run_child(timeout_s: float = TIMEOUT_S) -> None:
    """Start PortAudio in a child process as this process would; raise PortAudioBroken if
    that crashes, hangs or fails."""
    judge(_spawn(), timeout_s)


def judge(child: subprocess.Popen[bytes], timeout_s: float = TIMEOUT_S) -> None:
    """Wait for the child (killing it after `timeout_s`); raise PortAudioBroken unless it
    ended well."""
    try:
        _, stderr = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        child.kill()
        _, stderr = child.communicate()
        raise hung(stderr.decode(errors="replace"), timeout_s) from exc
    broken = ended(child.returncode, stderr.decode(errors="replace"), os.environ)
    if broken is not None:
        raise broken


def _spawn() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "broadcaster.audio.preflight"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


_lock = threading.Lock()
_started_safely = False  # once PortAudio started in a child, this process may start it
_early: subprocess.Popen[bytes] | None = None  # a child begun before it was needed


def begin() -> None:
    """Start the child now, so that it runs while this process loads the rest; the first
    PortAudio start takes its verdict."""
    global _early
    with _lock:
        if not _started_safely and _early is None:
            _early = _spawn()


def ensure_portaudio_starts() -> None:
    """Before this process first starts PortAudio, start it in a child (once: a success is
    kept; a failure is tried again next time, the sound set-up may have been mended)."""
    global _started_safely, _early
    with _lock:
        if _started_safely:
            return
        child, _early = _early or _spawn(), None
        judge(child)
        _started_safely = True


def main() -> int:
    """The child: start PortAudio and walk its devices as the broadcaster does, then stop."""
    import pyaudio

    pa = pyaudio.PyAudio()
    try:
        for index in range(pa.get_device_count()):
            pa.get_device_info_by_index(index)
        with contextlib.suppress(OSError):  # no default input is not a failure
            pa.get_default_input_device_info()
    finally:
        pa.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
