"""`broadcaster doctor`: the port, config and ALSA checks, and the whole command against the
virtual microphone, a machine with no device and a broken ALSA set-up (the verdicts and
the report's lines are in test_findings.py)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster.config import ArchiveConfig, Config, ServerConfig
from broadcaster.config_file import config_from_dict, load_config
from broadcaster.ops.doctor import (
    check_alsa,
    check_archive,
    check_config,
    check_engine,
    check_port,
    pulse_sockets,
)
from broadcaster.ops.findings import Finding, Verdict
from tests.conftest import ROOT, free_port, no_device_env
from tests.ops.test_urls import read_terminal
from tests.support.signal_tools import sine_s16le
from tests.support.vmic import VirtualMic


def test_the_port_check_binds_like_the_server() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = check_port(ServerConfig(host="127.0.0.1", port=port))
    assert busy.verdict is Verdict.PROBLEM and busy.summary == f"port {port} is taken by " \
                                                                 "another program"
    free = check_port(ServerConfig(host="127.0.0.1", port=free_port()))
    assert free.verdict is Verdict.OK


def test_a_bad_config_is_a_problem_and_the_rest_uses_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[audio]\nframe_size = 20\n")
    finding, config = check_config(lambda: load_config(path), str(path))
    assert finding.verdict is Verdict.PROBLEM
    assert finding.summary == "unknown key audio.frame_size (did you mean 'frame_ms'?)"
    assert config == Config()


def test_pulse_sockets() -> None:
    assert pulse_sockets({"PULSE_SERVER": "unix:/tmp/p/native"}, 1000) == ["/tmp/p/native"]
    assert pulse_sockets({"PULSE_SERVER": "{abc}unix:/a tcp:host:4713 /b"}, 0) == ["/a", "/b"]
    assert pulse_sockets({"XDG_RUNTIME_DIR": "/run/user/7"}, 7) == [
        "/run/user/7/pulse/native", "/var/run/pulse/native"]
    assert pulse_sockets({}, 1000)[0] == "/run/user/1000/pulse/native"


# ---------------------------------------------------------------- the command

def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`broadcaster doctor` on a free port on loopback (the port check is not the point)."""
    return subprocess.run(
        [sys.executable, "-m", "broadcaster", "doctor", "--host", "127.0.0.1",
         "--port", str(free_port()), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_with_no_device_doctor_fails_and_says_why() -> None:
    result = doctor(no_device_env(), "--seconds", "0.5")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "[ ok ] PortAudio: loads" in out
    assert "[info] PulseAudio: no server reachable" in out
    assert "[FAIL] input devices: none found\n" in out
    assert ("`auto` uses the test tone (440 Hz), because PortAudio finds no input device: is "
            "a microphone plugged in? `arecord -l` lists what ALSA sees") in out
    assert "[FAIL] source: `auto` would broadcast the test tone instead of a microphone" in out
    assert "[ ok ] libopus: libopus " in out and "[ ok ] port: 127.0.0.1:" in out
    assert out.rstrip().endswith("2 problem(s) (input devices, source): broadcasting would not "
                                 "work as configured; fix them (the `fix:` lines above) and run "
                                 "`broadcaster doctor` again")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("source", ["auto", "mic"])
def test_with_a_broken_alsa_configuration_doctor_says_so_and_ends(source: str) -> None:
    env = no_device_env() | {"ALSA_CONFIG_PATH": "/dev/null"}  # PortAudio aborts on it
    result = doctor(env, "--source", source, "--seconds", "0.5")
    assert result.returncode == 1, result.stdout + result.stderr  # not -6: no SIGABRT
    out = result.stdout
    assert ("[FAIL] PortAudio: PortAudio crashed (SIGABRT) while looking for sound devices: "
            "the ALSA configuration is broken\n       it said: ") in out
    assert "BuildDeviceList: Assertion" in out
    assert ("       fix: ALSA_CONFIG_PATH is set to '/dev/null': unset it, or point it at a "
            "valid ALSA configuration") in out
    summary = ("`auto` would broadcast the test tone instead of a microphone" if source == "auto"
               else "mic cannot be opened")
    assert f"[FAIL] source: {summary}\n       because PortAudio does not start" in out
    assert "[ ok ] libopus" in out and "[ ok ] port: 127.0.0.1:" in out  # the rest still ran
    assert "2 problem(s) (PortAudio, source)" in out
    assert "Traceback" not in result.stderr


def test_with_no_device_the_test_tone_would_work() -> None:
    result = doctor(no_device_env(), "--source", "tone")
    assert result.returncode == 0, result.stdout
    assert "[info] input devices: none found (not needed for tone:440)" in result.stdout
    assert "all checks passed" in result.stdout


def test_a_bad_config_and_a_taken_port_fail_with_the_other_checks_still_run(
    tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[source]\nspec = \"tone\"\n[server]\nprot = 8000\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "broadcaster", "doctor", "--config", str(path),
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=no_device_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "[FAIL] config: unknown key server.prot (did you mean 'port'?)" in result.stdout
    assert "[ ok ] libopus" in result.stdout
    assert f"[FAIL] port: port {port} is taken" in result.stdout  # the flags still apply


@pytest.fixture(scope="module")
def vmic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualMic]:
    with VirtualMic(tmp_path_factory.mktemp("vmic")) as mic:
        yield mic


@pytest.mark.vmic
def test_with_the_virtual_mic_playing_a_tone_doctor_passes_and_measures_it(
    vmic: VirtualMic
) -> None:
    vmic.play(sine_s16le(440, 12.0))  # amplitude 0.5: a -6 dBFS peak
    try:
        result = doctor(no_device_env() | vmic.env, "--seconds", "2")
    finally:
        vmic.clear()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "[ ok ] PulseAudio: a server answers at " in out
    assert "[ ok ] input devices: 1 found\n       [0] default (default): " in out
    assert "`auto` uses [0] default (default)" in out
    assert "[ ok ] source: mic:default opens at 48000 Hz, 1 channel(s)" in out
    match = re.search(r"\[ ok \] level: peak (-?\d+\.\d) dBFS in 2 s from mic:default", out)
    assert match, out
    assert float(match[1]) == pytest.approx(-6.0, abs=0.5)
    assert out.rstrip().endswith("all checks passed: broadcasting would work (start it with "
                                 "`broadcaster`)")


@pytest.mark.vmic
def test_with_the_virtual_mic_silent_doctor_says_it_is_silent(vmic: VirtualMic) -> None:
    vmic.clear()
    result = doctor(no_device_env() | vmic.env, "--seconds", "0.5")
    assert result.returncode == 1, result.stdout
    assert "[FAIL] level: silent: is the mic muted? try `alsamixer`" in result.stdout
    assert "every sample was 0 (digital silence)" in result.stdout


@pytest.mark.vmic
def test_on_a_terminal_the_level_is_a_live_meter(vmic: VirtualMic) -> None:
    vmic.play(sine_s16le(440, 12.0))
    try:
        process, output = read_terminal(
            [sys.executable, "-m", "broadcaster", "doctor", "--host", "127.0.0.1",
             "--port", str(free_port()), "--seconds", "1"],
            no_device_env() | vmic.env, "all checks passed", timeout_s=30)
        assert process.wait(10) == 0, output
    finally:
        vmic.clear()
    meters = re.findall(r"\r +level +(-?\d+\.\d) dBFS \[(#*)\.*\]", output)
    assert len(meters) >= 10, output  # one per 50 ms block
    assert all(float(level) == pytest.approx(-6.0, abs=0.5) for level, _ in meters[3:])
    assert "\r\033[K[ ok ] level: peak" in output  # the meter line is cleared for the result


@pytest.mark.vmic
def test_a_wedged_mic_is_reported_as_stuck_and_doctor_still_ends(vmic: VirtualMic) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "broadcaster", "doctor", "--host", "127.0.0.1",
         "--port", str(free_port()), "--seconds", "5"],
        cwd=ROOT, env=no_device_env() | vmic.env, stdout=subprocess.PIPE, text=True,
    ) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if line.startswith("       listening for 5 s"):
                    break
            vmic.pause_writer()  # reads now block, as with a wedged device
            rest = process.stdout.read()
            assert process.wait(10) == 1
        finally:
            vmic.resume_writer()
            if process.poll() is None:
                process.kill()
    assert "[FAIL] level: no audio arrived from mic:default for 2 s: it is stuck" in rest
    assert "1 problem(s) (level)" in rest

@pytest.mark.parametrize(("cards", "verdict", "details"), [
    (" 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n"
     "                      HDA Intel PCH at 0xf7f10000 irq 32\n"
     " 1 [Device         ]: USB-Audio - USB PnP Sound Device\n"
     "                      C-Media Electronics Inc. USB PnP Sound Device at usb-0000:00:14\n",
     Verdict.OK, ("0 [PCH            ]: HDA-Intel - HDA Intel PCH",
                  "1 [Device         ]: USB-Audio - USB PnP Sound Device")),
    ("--- no soundcards ---\n", Verdict.INFO, None),
    (None, Verdict.INFO, None),
])
def test_alsa_lists_the_sound_cards(
    tmp_path: Path, cards: str | None, verdict: Verdict, details: tuple[str, ...] | None
) -> None:
    path = tmp_path / "cards"
    if cards is not None:
        path.write_text(cards)
    finding = check_alsa(path)
    assert finding.verdict is verdict
    assert finding.summary.startswith("libasound ")
    if details is not None:
        assert finding.details == details
    else:
        assert finding.summary.endswith("ALSA sees no sound card")


def test_the_archive_check_says_where_it_records_or_why_it_cannot(tmp_path: Path) -> None:
    def finding(**keys: object) -> Finding:
        return check_archive(Config(archive=ArchiveConfig(**keys)))  # type: ignore[arg-type]

    ok = finding(dir=str(tmp_path))
    assert ok.verdict is Verdict.OK and str(tmp_path) in ok.summary and "24 h" in ok.summary
    gone = finding(dir=str(tmp_path / "usb"))
    assert gone.verdict is Verdict.INFO and "live only" in gone.summary
    assert "archive.dir" in gone.summary
    off = finding(enabled=False)
    assert off.verdict is Verdict.INFO and "archive.enabled = false" in off.summary


def test_an_edge_is_checked_for_its_engine_not_for_a_microphone() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        config = config_from_dict({"source": {"spec": f"nats://127.0.0.1:{port}/ward"}})
        assert check_engine(config).verdict is Verdict.OK
    finding = check_engine(config)  # nothing listens there any more
    assert finding.verdict is Verdict.PROBLEM and "answers" in finding.summary
    unreadable = config_from_dict({"source": {"spec": f"nats://127.0.0.1:{port}/ward"},
                                   "engine": {"user": "edge",
                                              "password_file": "/nonexistent/pw"}})
    assert "engine.password_file" in check_engine(unreadable).summary
