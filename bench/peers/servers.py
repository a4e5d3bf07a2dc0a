"""The peers' servers, each private to one run and set up for the lowest latency it allows:
Icecast2 fed by DarkIce, and snapserver, all reading the virtual microphone."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peers.wire import MOUNT
from tests.support.server import free_port, no_device_env, wait_until
from tests.support.vmic import SOURCE_NAME, VirtualMic

PULSE_LATENCY_MS = 10  # what DarkIce asks PulseAudio for (libpulse's PULSE_LATENCY_MSEC)
SNAPCAST_CHUNK_MS = 20
SNAPCAST_BUFFER_MS = 1000  # snapserver's default: when clients play, not when data arrives


@dataclass
class Target:
    """One system under test: how its stream is read and which processes serve it."""

    name: str
    kind: str  # a key of bench.peers.clients.READERS, or "sse?QUERY" (fan-out only)
    port: int
    processes: list[subprocess.Popen[Any]]
    logs: Callable[[], str]

    @property
    def pids(self) -> list[int]:
        """The process ids of its server side."""
        return [proc.pid for proc in self.processes]

    def check_alive(self) -> None:
        """Raise, with the logs, if one of its processes has died."""
        if any(proc.poll() is not None for proc in self.processes):
            raise RuntimeError(f"{self.name} died during the run\n{self.logs()}")


# ------------------------------------------------------------------ the peers' processes


def bound_to_us(argv: list[str], drop_root: bool = False) -> list[str]:
    """`argv`, killed if this process dies; as root with `drop_root`, run as nobody."""
    if shutil.which("setpriv") is None:
        return argv
    prefix = ["setpriv", "--pdeathsig", "KILL"]
    if drop_root and os.geteuid() == 0:
        prefix += ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    return [*prefix, *argv]


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def log_tails(work: Path, *names: str) -> str:
    """The last lines of some log files, for error messages."""
    parts = []
    for name in names:
        with contextlib.suppress(OSError):
            tail = (work / name).read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {name} ---\n" + "\n".join(tail))
    return "\n".join(parts)


def accepting(port: int) -> Callable[[], bool]:
    """Whether something accepts TCP connections on 127.0.0.1:`port`, for wait_for."""
    def check() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return True
        return False
    return check


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str, logs: Callable[[], str]
             ) -> None:
    """`wait_until`, with the daemons' logs when it times out."""
    try:
        wait_until(cond, timeout_s, what)
    except AssertionError as exc:
        raise RuntimeError(f"{exc}\n{logs()}") from None


def http_status(port: int, path: str) -> int:
    """The HTTP status of GET path (0 if nothing answers)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            return int(sock.recv(64).split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return 0


def tool_version(argv: list[str], word: str) -> str:
    """The name and version from a tool's banner (e.g. "Icecast 2.4.4"), or `word`."""
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    line = next((ln for ln in (out.stdout + out.stderr).splitlines()
                 if word.lower() in ln.lower()), word)
    return " ".join(line.split()[:2])


ICECAST_XML = """\
<icecast>
  <location>bench</location>
  <admin>bench@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>{clients}</clients>
    <sources>2</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>0</burst-on-connect>
    <burst-size>0</burst-size>
  </limits>
  <authentication>
    <source-password>{password}</source-password>
    <relay-password>{password}</relay-password>
    <admin-user>admin</admin-user>
    <admin-password>{password}</admin-password>
  </authentication>
  <listen-socket>
    <port>{port}</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <mount type="normal">
    <mount-name>{mount}</mount-name>
    <burst-size>0</burst-size>
  </mount>
  <fileserve>0</fileserve>
  <paths>
    <basedir>{work}</basedir>
    <logdir>{work}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>2</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>
  </security>
</icecast>
"""

DARKICE_CFG = """\
[general]
duration = 0
bufferSecs = 1
reconnect = yes
realtime = no

[input]
device = pulseaudio
paSourceName = {source}
sampleRate = 48000
bitsPerSample = 16
channel = 1

[icecast2-0]
format = opus
bitrateMode = cbr
bitrate = {bitrate_kbps}
sampleRate = 48000
channel = 1
server = 127.0.0.1
port = {port}
password = {password}
mountPoint = {mount_point}
name = bench
public = no
"""


@contextlib.contextmanager
def icecast_darkice(mic: VirtualMic, bitrate_kbps: int, listeners: int) -> Iterator[Target]:
    """A private Icecast2 and a DarkIce reading the virtual mic; both stopped on exit."""
    work = Path(tempfile.mkdtemp(prefix="peers-icecast-"))
    work.chmod(0o755)
    if os.geteuid() == 0:  # icecast2 will run as nobody and write its logs here
        nobody = pwd.getpwnam("nobody")
        os.chown(work, nobody.pw_uid, nobody.pw_gid)
    port, password = free_port(), os.urandom(8).hex()
    settings = {"port": port, "password": password, "mount": MOUNT, "work": work,
                "mount_point": MOUNT.lstrip("/"), "clients": listeners + 20,
                "bitrate_kbps": bitrate_kbps, "source": SOURCE_NAME}
    (work / "icecast.xml").write_text(ICECAST_XML.format(**settings))
    (work / "darkice.cfg").write_text(DARKICE_CFG.format(**settings))
    logs = lambda: log_tails(work, "icecast.out", "error.log", "darkice.out")  # noqa: E731
    procs: list[subprocess.Popen[Any]] = []
    try:
        # icecast2 refuses to run as root (short of <changeowner>): as root, it runs as nobody
        with open(work / "icecast.out", "wb") as out:
            procs.append(subprocess.Popen(
                bound_to_us(["icecast2", "-c", str(work / "icecast.xml")], drop_root=True),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
        wait_for(lambda: http_status(port, "/status-json.xsl") == 200, 10,
                 "icecast2 answering", logs)
        # DarkIce stays who we are: the private PulseAudio socket is ours alone
        env = no_device_env() | mic.env | {"PULSE_LATENCY_MSEC": str(PULSE_LATENCY_MS)}
        with open(work / "darkice.out", "wb") as out:
            procs.append(subprocess.Popen(
                bound_to_us(["darkice", "-c", str(work / "darkice.cfg")]),
                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
        wait_for(lambda: http_status(port, MOUNT) == 200, 10, "the DarkIce mount going live",
                 logs)
        yield Target("Icecast+DarkIce", "ogg", port, procs, logs)
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


SNAPSERVER_CONF = """\
[server]
datadir = {work}
[http]
enabled = false
[tcp]
enabled = false
[stream]
bind_to_address = 127.0.0.1
port = {port}
source = alsa://?name=mic&device=default&send_silence=true
sampleformat = 48000:16:2
codec = opus:BITRATE:{bitrate_bps},COMPLEXITY:5
chunk_ms = {chunk_ms}
buffer = {buffer_ms}
[logging]
sink = stderr
filter = *:notice
"""


@contextlib.contextmanager
def snapcast(mic: VirtualMic, bitrate_kbps: int) -> Iterator[Target]:
    """A private snapserver reading the virtual mic through ALSA; stopped on exit."""
    work = Path(tempfile.mkdtemp(prefix="peers-snapcast-"))
    port = free_port()
    (work / "snapserver.conf").write_text(SNAPSERVER_CONF.format(
        work=work, port=port, bitrate_bps=bitrate_kbps * 1000, chunk_ms=SNAPCAST_CHUNK_MS,
        buffer_ms=SNAPCAST_BUFFER_MS))
    logs = lambda: log_tails(work, "snapserver.out")  # noqa: E731
    procs: list[subprocess.Popen[Any]] = []
    try:
        with open(work / "snapserver.out", "wb") as out:
            procs.append(subprocess.Popen(
                bound_to_us(["snapserver", "-c", str(work / "snapserver.conf")]),
                env=no_device_env() | mic.env | {"HOME": str(work)},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))

        wait_for(accepting(port), 10, "snapserver accepting clients", logs)
        yield Target("Snapcast", "snapcast", port, procs, logs)
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ the floor

# What the broadcaster sends a second at 64 kbit/s and 20 ms frames (SSE events: id and
# base64 lines), measured on its stream: the floor server sends as much per write.
BROADCASTER_BYTES_PER_S = 12_200


@contextlib.contextmanager
def python_floor(every_ms: int) -> Iterator[Target]:
    """bench/peers/floor.py on a free port, sending a bundle's worth every `every_ms`."""
    work = Path(tempfile.mkdtemp(prefix="peers-floor-"))
    port = free_port()
    size = BROADCASTER_BYTES_PER_S * every_ms // 1000
    logs = lambda: log_tails(work, "floor.out")  # noqa: E731
    procs: list[subprocess.Popen[Any]] = []
    try:
        with open(work / "floor.out", "wb") as out:
            procs.append(subprocess.Popen(
                bound_to_us([sys.executable, "-m", "bench.peers.floor", "--port", str(port),
                             "--every-ms", str(every_ms), "--bytes", str(size)]),
                cwd=Path(__file__).resolve().parents[2],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))

        wait_for(accepting(port), 10, "the floor server accepting clients", logs)
        yield Target(f"Python floor {every_ms}", "sse?floor", port, procs, logs)
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)
