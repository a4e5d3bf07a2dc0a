"""`broadcaster doctor`: check that broadcasting would work and say how to fix what would not.

Each check returns a `Finding` (findings.py holds the type, the pure verdicts on what the
checks measured, and the report's lines). `diagnose` runs them in order and prints.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import math
import os
import queue
import shutil
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from broadcaster.audio.devices import (
    COMMON_RATES_HZ,
    InputDevice,
    PortAudio,
    auto_choice,
    describe_auto,
)
from broadcaster.audio.encoder import EncoderError, EncoderSettings, OpusEncoder
from broadcaster.audio.preflight import PortAudioBroken
from broadcaster.audio.sources import SourceError
from broadcaster.audio.sources.mic import MicSource
from broadcaster.audio.sources.wavfile import load_wav
from broadcaster.config import Config, ConfigError, ServerConfig
from broadcaster.core import opus
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
from broadcaster.ops.state_dir import archive_folder

LEVEL_BLOCK_S = 0.05
STALL_S = 2.0  # no block from the device for this long: it is stuck


def pulse_sockets(env: Mapping[str, str], uid: int) -> list[str]:
    """The local sockets where libpulse would look for a PulseAudio (or PipeWire) server."""
    if "PULSE_SERVER" in env:
        entries = [entry.rpartition("}")[2] for entry in env["PULSE_SERVER"].split()]
        return [entry.removeprefix("unix:") for entry in entries
                if entry.startswith(("unix:", "/"))]
    runtime_dir = env.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
    return [f"{runtime_dir}/pulse/native", "/var/run/pulse/native"]


def check_config(load: Callable[[], Config], origin: str,
                 fallback: Callable[[], Config] = Config) -> tuple[Finding, Config]:
    """Load the config (`origin`, with the flags on top); on an error the other checks use
    `fallback()` (the defaults with the flags), or the defaults if that fails too."""
    try:
        config = load()
    except ConfigError as exc:
        try:
            config = fallback()
        except ConfigError:
            config = Config()
        return Finding("config", Verdict.PROBLEM, str(exc),
                       ("the other checks use the default settings (with the flags)",),
                       "correct it: configs/broadcaster.toml lists every key with its "
                       "default"), config
    server = config.server
    return Finding("config", Verdict.OK, f"{origin} parses",
                   (f"source {config.source.spec}, listening on {server.host}:{server.port}, "
                    f"{config.audio.frame_ms:g} ms Opus frames",)), config


def check_portaudio() -> tuple[Finding, PortAudio | None]:
    """PyAudio and PortAudio load (a PortAudio session for the device checks)."""
    try:
        pa = PortAudio()
    except PortAudioBroken as exc:  # found in a child process, which it killed or hung
        return Finding("PortAudio", Verdict.PROBLEM, exc.problem,
                       tuple(f"it said: {line}" for line in exc.said), exc.fix), None
    except SourceError as exc:
        return Finding("PortAudio", Verdict.PROBLEM, str(exc),
                       fix="install it: `sudo apt-get install libportaudio2` (and "
                           "`portaudio19-dev gcc python3-dev` to build PyAudio), or run "
                           "scripts/setup.sh"), None
    return Finding("PortAudio", Verdict.OK,
                   f"loads ({pa.pyaudio.get_portaudio_version_text()})"), pa


def check_alsa(cards: Path = Path("/proc/asound/cards")) -> Finding:
    """libasound loads; which sound cards the kernel has (informational)."""
    try:
        library = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
        library.snd_asoundlib_version.restype = ctypes.c_char_p
        version = library.snd_asoundlib_version().decode()
    except (OSError, AttributeError) as exc:
        return Finding("ALSA", Verdict.PROBLEM, f"libasound does not load: {exc}",
                       fix="install it: `sudo apt-get install libasound2`")
    found: list[str] = []
    with contextlib.suppress(OSError):  # no /proc/asound: no sound card at all
        found = [line.strip() for line in cards.read_text().splitlines()
                 if line[:3].strip().isdigit()]  # " 0 [PCH   ]: ..."
    if not found:
        return Finding("ALSA", Verdict.INFO, f"libasound {version} loads; ALSA sees no sound card",
                       ("a USB microphone shows up here when plugged in (`arecord -l`); "
                        "PulseAudio or PipeWire may still offer inputs",))
    return Finding("ALSA", Verdict.OK, f"libasound {version} loads; sound cards:", tuple(found))


def check_pulse(env: Mapping[str, str], uid: int) -> Finding:
    """Whether a PulseAudio (or PipeWire) server is reachable (informational)."""
    if not ctypes.util.find_library("pulse"):
        return Finding("PulseAudio", Verdict.INFO, "not installed: devices are opened through "
                                                   "ALSA directly (what the service does)")
    for path in pulse_sockets(env, uid):
        with socket.socket(socket.AF_UNIX) as sock, contextlib.suppress(OSError):
            sock.settimeout(1.0)
            sock.connect(path)
            return Finding("PulseAudio", Verdict.OK, f"a server answers at {path}: ALSA's "
                                                     "`default` device records through it")
    return Finding("PulseAudio", Verdict.INFO, "no server reachable: devices are opened "
                                               "through ALSA directly (what the service does)")


def check_devices(pa: PortAudio, config: Config) -> tuple[Finding, list[InputDevice]]:
    """The input devices PortAudio sees, with the rates each records at."""
    spec = config.source.source
    devices = pa.input_devices()
    channels = config.audio.channels
    lines = []
    for device in devices:
        rates = [rate for rate in COMMON_RATES_HZ if pa.supports(device, rate, channels)]
        lines.append(f"{device.describe()}; at {channels} channel(s) records at "
                     + (", ".join(map(str, rates)) + " Hz" if rates else "no common rate"))
    if spec.kind == "auto":
        lines.append(describe_auto(devices))
    if devices:
        return Finding("input devices", Verdict.OK, f"{len(devices)} found", tuple(lines)), devices
    if spec.kind in ("tone", "file"):
        return Finding("input devices", Verdict.INFO, f"none found (not needed for {spec})"), []
    return Finding("input devices", Verdict.PROBLEM, "none found", tuple(lines),
                   "plug in a microphone (USB ones work best) and check that `arecord -l` "
                   "lists it; a service user must be in the `audio` group"), []


def open_source(config: Config, devices: list[InputDevice] | None,
                ) -> tuple[Finding, MicSource | None]:
    """Open the configured source as the broadcaster would (mics: at the rate it would use);
    `devices` None: PortAudio does not start."""
    spec = config.source.source
    if spec.kind == "tone":
        return Finding("source", Verdict.OK, f"{spec} needs no device"), None
    if spec.kind == "file":
        try:
            _, rate = load_wav(Path(spec.path), config.audio.channels)
        except SourceError as exc:
            return Finding("source", Verdict.PROBLEM, str(exc),
                           fix="give a readable 16-bit PCM WAV file with --source file:PATH"), None
        return Finding("source", Verdict.OK, f"{spec} is readable ({rate} Hz)"), None
    if devices is None:
        return Finding("source", Verdict.PROBLEM,
                       "`auto` would broadcast the test tone instead of a microphone"
                       if spec.kind == "auto" else f"{spec} cannot be opened",
                       ("because PortAudio does not start",),
                       "mend PortAudio first (its `fix:` line above)"), None
    if spec.kind == "auto":
        device, reason = auto_choice(devices)
        if device is None:
            return Finding("source", Verdict.PROBLEM,
                           "`auto` would broadcast the test tone instead of a microphone",
                           (f"because {reason}",) if devices else (),
                           "connect a microphone, or name one with --source mic:NAME"), None
    mic = MicSource(spec.device, config.audio.channels, config.source.max_backlog_ms)
    try:
        mic.probe()
        mic.open(round(mic.sample_rate_hz * LEVEL_BLOCK_S))
    except SourceError as exc:
        return Finding("source", Verdict.PROBLEM, str(exc),
                       ("if the device exists but is busy, another program is recording from "
                        "it (perhaps the broadcaster service: `systemctl status broadcaster`)",),
                       "choose a device from `broadcaster --list-devices` with "
                       "--source mic:NAME, or free the busy one"), None
    return Finding("source", Verdict.OK, f"{mic.name} opens at {mic.sample_rate_hz} Hz, "
                                         f"{mic.channels} channel(s)"), mic


def check_level(mic: MicSource, seconds: float,
                on_block: Callable[[float, float], None]) -> Finding:
    """Listen to the open microphone for `seconds`; `on_block(block, loudest)` per block.

    Reads on a thread of its own, which closes the mic when done: a stuck device cannot
    hang the doctor, only leave that thread blocked.
    """
    blocks = max(1, round(seconds / LEVEL_BLOCK_S))
    peaks: queue.Queue[float | SourceError] = queue.Queue()

    def read() -> None:
        try:
            for _ in range(blocks):
                peaks.put(peak_dbfs(mic.read().pcm))
        except SourceError as exc:
            peaks.put(exc)
        finally:
            mic.close()

    threading.Thread(target=read, name="doctor-level", daemon=True).start()
    loudest = -math.inf
    for _ in range(blocks):
        try:
            block = peaks.get(timeout=STALL_S)
        except queue.Empty:
            return Finding("level", Verdict.PROBLEM,
                           f"no audio arrived from {mic.name} for {STALL_S:g} s: it is stuck",
                           fix="unplug and replug it, or restart PulseAudio/PipeWire if it "
                               "goes through one")
        if isinstance(block, SourceError):
            return Finding("level", Verdict.PROBLEM, str(block),
                           fix="check the cable or USB port, then run `broadcaster doctor` "
                               "again")
        loudest = max(loudest, block)
        on_block(block, loudest)
    return level_finding(loudest, seconds, mic.name)


def check_opus(config: Config, sample_rate_hz: int) -> Finding:
    """libopus loads and encodes a frame with the configured settings."""
    audio = config.audio
    try:
        encoder = OpusEncoder(EncoderSettings(sample_rate_hz, audio.channels, audio.frame_ms,
                                              audio.bitrate_bps, audio.application,
                                              audio.complexity))
        encoder.encode(bytes(encoder.settings.frame_bytes))
    except EncoderError as exc:
        return Finding("libopus", Verdict.PROBLEM, str(exc),
                       fix="install it: `sudo apt-get install libopus0`")
    import opuslib.api.info  # loads: the encoder above did

    version = opuslib.api.info.get_version_string().decode()
    return Finding("libopus", Verdict.OK, f"{version} encodes {audio.frame_ms:g} ms frames "
                                          f"at {sample_rate_hz} Hz")


def check_port(server: ServerConfig) -> Finding:
    """Bind the server's address and port the way the server does, then let go."""
    from broadcaster.ops.sockets import listening_socket  # the same options as the real server

    try:
        listening_socket(server.host, server.port, server.stalled_listener_timeout_s).close()
    except OSError as exc:
        return port_finding(server, exc)
    return port_finding(server, None)


def check_archive(config: Config) -> Finding:
    """Whether the archive can record where the config says (or why it runs live-only)."""
    archive = config.archive
    if not archive.enabled:
        return Finding("archive", Verdict.INFO, "off (archive.enabled = false): nothing is "
                       "kept, listeners hear only live")
    folder = archive_folder(config)
    bounds = (f"keeps the last {archive.keep_hours:g} h of audio, at most {archive.max_mb} MB, "
              f"leaving {archive.min_free_mb} MB free")
    made_here = not archive.dir
    probe = folder if folder.exists() or not made_here else folder.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    why = None
    if not folder.is_dir() and not made_here:
        why = f"the folder {folder} (archive.dir) does not exist (a disk not mounted?)"
    elif not os.access(probe, os.W_OK | os.X_OK):
        why = f"{probe} cannot be written by this user"
    if why is not None:
        return Finding("archive", Verdict.INFO, f"the broadcast will run live only: {why}",
                       ("fix: create it writable for the service's user, or set archive.dir "
                        "(or archive.enabled = false)",))
    usage = shutil.disk_usage(probe)
    held = sum(path.stat().st_size for path in folder.glob("*.opus")) if folder.is_dir() else 0
    return Finding("archive", Verdict.OK, f"records into {folder}: {bounds}",
                   (f"it holds {held >> 20} MB; the disk has {usage.free >> 20} MB free",))


def check_engine(config: Config) -> Finding:
    """The engine between machines (an edge's source, or where the capture node
    publishes): its servers answer, and the credential files can be read."""
    import socket
    from urllib.parse import urlsplit

    from broadcaster.core.engine import EngineAddress

    engine = config.engine
    address = EngineAddress.parse(engine.publish or config.source.spec)
    for key in ("creds_file", "password_file", "tls_ca_file", "tls_cert_file", "tls_key_file"):
        path = getattr(engine, key)
        if path and not os.access(path, os.R_OK):
            return Finding("engine", Verdict.PROBLEM, f"engine.{key} {path} cannot be read",
                           fix="give a file this user can read (mode 0600, owned by it)")
    answering = []
    for server in address.servers:
        url = urlsplit(server)
        try:
            socket.create_connection((url.hostname or "", url.port or 4222), timeout=2).close()
            answering.append(server)
        except OSError:
            pass
    if not answering:
        return Finding("engine", Verdict.PROBLEM,
                       f"no server of {', '.join(address.servers)} answers",
                       fix="start nats-server there (see docs/scaling.md), or correct the "
                           "address; the broadcaster waits for it, but serves no edge meanwhile")
    return Finding("engine", Verdict.OK, f"{', '.join(answering)} answers (station "
                                         f"{address.station})")


def diagnose(load: Callable[[], Config], fallback: Callable[[], Config], origin: str,
             seconds: float, out: TextIO) -> int:
    """Run every check, printing as it goes; 0 when broadcasting would work, else 1.

    `load` gives the config to check; `fallback` the one to go on with if it fails.
    """
    findings: list[Finding] = []
    live = out.isatty()

    def report(finding: Finding) -> None:
        findings.append(finding)
        out.write("\n".join(format_finding(finding)) + "\n")
        out.flush()

    def meter(block_dbfs: float, loudest_dbfs: float) -> None:
        if live:
            out.write("\r" + meter_line(block_dbfs, loudest_dbfs) + "\033[K")
            out.flush()

    finding, config = check_config(load, origin, fallback)
    report(finding)
    if config.source.source.kind == "engine" or config.engine.publish:
        report(check_engine(config))
    if config.source.source.kind == "engine":  # an edge: no device, no encoder
        report(check_port(config.server))
        out.write(format_summary(findings) + "\n")
        return 1 if any(f.verdict is Verdict.PROBLEM for f in findings) else 0
    finding, pa = check_portaudio()
    report(finding)
    report(check_alsa())
    report(check_pulse(os.environ, os.getuid()))
    devices: list[InputDevice] | None = None
    if pa is not None:
        with contextlib.closing(pa):
            finding, devices = check_devices(pa, config)
        report(finding)
    finding, mic = open_source(config, devices)
    report(finding)
    sample_rate_hz = opus.DECODE_RATE_HZ
    if mic is not None:
        sample_rate_hz = mic.sample_rate_hz
        out.write(f"       listening for {seconds:g} s: make a sound near the microphone\n")
        out.flush()
        finding = check_level(mic, seconds, meter)
        if live:
            out.write("\r\033[K")
        report(finding)
    report(check_opus(config, sample_rate_hz))
    report(check_port(config.server))
    report(check_archive(config))
    out.write(format_summary(findings) + "\n")
    return 1 if any(f.verdict is Verdict.PROBLEM for f in findings) else 0
