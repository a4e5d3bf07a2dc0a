"""The `broadcaster` command: start-up, errors, sources and shutdown, as a user runs it."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from broadcaster.audio.devices import InputDevice, auto_choice, describe_auto
from tests.conftest import ROOT, no_device_env, start_broadcaster
from tests.support.signal_tools import decode_packets, dominant_frequency, sine_s16le, write_wav
from tests.support.sse_client import receive, stream_events
from tests.support.vmic import VirtualMic


def run_cli(tmp_path: Path, *args: str, timeout: float = 20,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=ROOT,
                          env=env or no_device_env(), capture_output=True, text=True,
                          timeout=timeout)


BROKEN_ALSA = no_device_env() | {"ALSA_CONFIG_PATH": "/dev/null"}  # PortAudio aborts on it
CRASH = ("PortAudio crashed (SIGABRT) while looking for sound devices: the ALSA configuration "
         "is broken; fix: ALSA_CONFIG_PATH is set to '/dev/null': unset it, or point it at a "
         "valid ALSA configuration")


def test_with_no_microphone_auto_says_so_and_broadcasts_the_test_tone(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path)  # default source: auto
    try:
        got = receive(proc.url + "/audio/stream", frames=50)
        assert got.config["source"] == "tone:440"
        pcm = decode_packets(got.packets)
        assert dominant_frequency(pcm[4800:]) == pytest.approx(440, abs=1)
        assert "no input device found" in proc.log()
    finally:
        assert proc.stop() == 0


def test_with_a_broken_alsa_configuration_auto_says_why_and_broadcasts_the_tone(
    tmp_path: Path
) -> None:
    proc = start_broadcaster(tmp_path, env=BROKEN_ALSA)  # `auto`: the tone, as with no device
    try:
        assert receive(proc.url + "/audio/stream", frames=5).config["source"] == "tone:440"
        assert ("broadcasting the built-in test signal (a 440 Hz tone) instead of a "
                f"microphone: {CRASH}") in proc.log()
    finally:
        assert proc.stop() == 0


@pytest.mark.parametrize("args", [["--source", "mic"], ["--source", "mic:USB"],
                                  ["--list-devices"]])
def test_with_a_broken_alsa_configuration_a_mic_is_one_clear_error(
    tmp_path: Path, args: list[str]
) -> None:
    result = run_cli(tmp_path, *args, env=BROKEN_ALSA)
    assert result.returncode == 1, result.stderr  # not -6: PortAudio's abort stayed in a child
    [line] = result.stderr.strip().splitlines()
    assert line.endswith(" ERROR broadcaster: " + CRASH + " (normally /usr/share/alsa/alsa.conf)")
    assert result.stdout == ""


def test_sigterm_ends_listener_streams_and_exits_cleanly(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone:300")
    ended = threading.Event()

    def listen() -> None:
        with httpx.Client(timeout=10) as client:
            for _ in stream_events(client, proc.url + "/audio/stream"):
                pass
        ended.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    assert proc.stop(timeout_s=5) == 0, proc.log()
    assert time.monotonic() - started < 3
    assert ended.wait(3), "the listener's stream was not ended by the shutdown"


def test_sigint_exits_cleanly(tmp_path: Path) -> None:
    proc = start_broadcaster(tmp_path, "--source", "tone")
    proc.process.send_signal(2)
    assert proc.process.wait(5) == 0, proc.log()


def test_wav_file_source_is_looped(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", sine_s16le(1000, 0.25))
    proc = start_broadcaster(tmp_path, "--source", f"file:{path}")
    try:
        got = receive(proc.url + "/audio/stream", frames=50)  # 1 s: four loops of the file
        assert got.config["source"] == "file:a.wav"
        pcm = decode_packets(got.packets)
        assert dominant_frequency(pcm[4800:]) == pytest.approx(1000, abs=2)
    finally:
        assert proc.stop() == 0


@pytest.mark.parametrize(("config", "args", "message"), [
    ("[audio]\nframe_size = 20\n", [], "unknown key audio.frame_size (did you mean 'frame_ms'?)"),
    ("[audio]\nframe_ms = 7\n", [], "audio.frame_ms = 7.0 is invalid"),
    ("", ["--source", "tone:5"], "source.spec = 'tone:5' is invalid"),
    ("", ["--port", "99999"], "server.port = 99999 is invalid"),
    ("[server\n", [], "is not valid TOML"),
])
def test_bad_config_stops_start_up_with_one_line_naming_it(
    tmp_path: Path, config: str, args: list[str], message: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config)
    result = run_cli(tmp_path, "--config", str(path), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


@pytest.mark.parametrize(("source", "message"), [
    ("file:/no/such.wav", "cannot read WAV file /no/such.wav"),
    ("mic", "no input device found"),
    ("mic:USB", "no input device found"),
])
def test_a_source_that_cannot_start_is_a_clear_error(
    tmp_path: Path, source: str, message: str
) -> None:
    result = run_cli(tmp_path, "--source", source)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_wav_at_a_rate_opus_cannot_take_is_refused(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "cd.wav", b"\0\0" * 441, rate=44100)
    result = run_cli(tmp_path, "--source", f"file:{path}")
    assert result.returncode == 1
    assert "44100 Hz; Opus takes 48000, 24000, 16000, 12000, 8000 Hz" in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_cli(tmp_path, "--source", "tone", "--host", "127.0.0.1",
                         "--port", str(port))
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_devices_with_none(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--list-devices")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "no input devices found",
        "`auto` uses the test tone (440 Hz), because PortAudio finds no input device: is a "
        "microphone plugged in? `arecord -l` lists what ALSA sees",
    ]


MIC = InputDevice(3, "USB PnP Sound Device: Audio (hw:1,0)", 1, 48000.0)
DEFAULT = InputDevice(7, "default", 32, 44100.0, is_default=True)


@pytest.mark.parametrize(("devices", "chosen", "because"), [
    ([MIC, DEFAULT], DEFAULT, "it is PortAudio's default input"),
    ([MIC], None, "none of the 1 input device(s) is the default input; choose one with "
                  "--source mic:NAME or mic:INDEX"),
    ([], None, "PortAudio finds no input device"),
])
def test_auto_choice_follows_the_source_factory_and_says_why(
    devices: list[InputDevice], chosen: InputDevice | None, because: str
) -> None:
    device, reason = auto_choice(devices)
    assert device == chosen and reason.startswith(because)
    line = describe_auto(devices)
    assert line.startswith("`auto` uses " + (chosen.describe() if chosen
                                             else "the test tone (440 Hz)") + ", because ")


@pytest.mark.vmic
def test_list_devices_with_the_virtual_mic_says_what_auto_picks_and_why(tmp_path: Path) -> None:
    with VirtualMic(tmp_path / "vmic") as mic:
        result = subprocess.run([sys.executable, "-m", "broadcaster", "--list-devices"],
                                cwd=ROOT, env=no_device_env() | mic.env, capture_output=True,
                                text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    [device, auto] = result.stdout.splitlines()
    assert device.startswith("[0] default (default): ")
    assert auto == f"`auto` uses {device}, because it is PortAudio's default input (normally " \
                   "ALSA's `default`, which goes through PulseAudio or PipeWire when one runs); " \
                   "choose another with --source mic:NAME or mic:INDEX"


def test_help_mentions_doctor_and_doctor_has_its_own_options(tmp_path: Path) -> None:
    assert "`broadcaster doctor`" in run_cli(tmp_path, "--help").stdout
    result = run_cli(tmp_path, "doctor", "--help")
    assert result.returncode == 0
    assert "[--seconds S]" in result.stdout
    refused = run_cli(tmp_path, "doctor", "--seconds", "0")
    assert refused.returncode == 2 and "0 is not from 0.1 to 60 seconds" in refused.stderr
