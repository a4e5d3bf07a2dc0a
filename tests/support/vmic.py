"""A virtual microphone for tests on machines with no sound card.

`VirtualMic` runs a private PulseAudio daemon (its own HOME, runtime dir, socket and state,
all under a work directory) whose default source is ``module-pipe-source``. A writer thread
feeds the pipe in real time: every ``chunk_ms`` it writes ``chunk_ms`` of queued audio, or
silence when nothing is queued. Real PyAudio/PortAudio opens the ``default`` ALSA device,
which the generated ALSA config routes to the daemon; a client process only needs the
variables in `VirtualMic.env`. The daemon is `tests.support.pulse`, the writer
`tests.support.pipe_feeder`.

Facts about ``module-pipe-source`` (PulseAudio 16) that shape this code:

- It creates the FIFO itself (``mkfifo`` fails, and so does the module load, if the path
  already exists) and unlinks it when unloaded: a removed/restored source is a new FIFO.
- It reads the FIFO only while the source has a recording client (state RUNNING). With no
  client the pipe fills up (64 KiB, ~0.7 s at 48 kHz mono) and a client that connects later
  first gets that stale audio in a burst. The writer therefore discards whatever backlog
  exceeds ``max_backlog_ms`` (reading it back through its own ``O_RDWR`` descriptor), so a
  newly opened stream starts at most ``max_backlog_ms`` behind live, as a real mic would.
- Its clock is the writer: with no writes, a PyAudio ``read()`` blocks (used to simulate a
  wedged device with `VirtualMic.pause_writer`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

from tests.support.pipe_feeder import PipeFeeder
from tests.support.pulse import SOURCE_NAME, PulseDaemon, VirtualMicError

__all__ = ["SOURCE_NAME", "VirtualMic", "VirtualMicError"]

log = logging.getLogger(__name__)


class VirtualMic:
    """A private PulseAudio daemon whose default source is a pipe the test writes PCM into."""

    def __init__(
        self,
        workdir: Path,
        rate_hz: int = 48000,
        channels: int = 1,
        chunk_ms: int = 10,
        max_backlog_ms: int = 50,
    ) -> None:
        if rate_hz <= 0 or channels <= 0 or chunk_ms <= 0 or max_backlog_ms <= 0:
            raise ValueError("rate_hz, channels, chunk_ms and max_backlog_ms must be > 0")
        self.daemon = PulseDaemon(workdir, rate_hz, channels)
        self.feeder = PipeFeeder(rate_hz, channels, chunk_ms, max_backlog_ms)

    def start(self) -> None:
        """Start the daemon, wait until it answers `pactl info`, start the writer thread."""
        self.daemon.start()
        self.feeder.start(self.daemon.fifo_path)
        log.info("virtual mic up: pid %s, %s, fifo %s",
                 self.pid, self.env["PULSE_SERVER"], self.fifo_path)

    def stop(self) -> None:
        """Stop the writer, kill the daemon, remove the runtime files. Idempotent."""
        self.feeder.stop()
        self.daemon.stop()

    def __enter__(self) -> VirtualMic:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- the daemon

    @property
    def env(self) -> dict[str, str]:
        """Variables a client process (PyAudio, pactl) needs to reach this daemon privately."""
        return self.daemon.env

    @property
    def socket_path(self) -> Path:
        """The daemon's native protocol socket."""
        return self.daemon.socket_path

    @property
    def fifo_path(self) -> Path:
        """The pipe source's FIFO."""
        return self.daemon.fifo_path

    @property
    def pid(self) -> int | None:
        """The daemon's process id while it runs."""
        return self.daemon.pid

    @property
    def source_present(self) -> bool:
        """Whether the pipe source is loaded (not unplugged)."""
        return self.daemon.source_present

    def remove_source(self) -> None:
        """Unload the pipe source: a USB mic unplugged (see `PulseDaemon.remove_source`)."""
        self.daemon.remove_source()

    def restore_source(self) -> None:
        """Reload the pipe source under the same name and make it the default again."""
        self.daemon.restore_source()

    def pactl(self, *args: str) -> str:
        """Run pactl against this daemon and return its stdout (raises on failure)."""
        return self.daemon.pactl(*args)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the daemon's log and stdout/stderr, for error messages."""
        return self.daemon.log_tail(lines)

    # ----------------------------------------------------------------- the audio

    def play(self, pcm: bytes) -> int:
        """Queue interleaved s16le PCM to be written in real time after what is queued.

        Returns the position of its first byte in everything ever queued, for `entered_at`.
        """
        return self.feeder.play(pcm)

    def entered_at(self, position: int) -> float | None:
        """When the queued byte at `position` entered the microphone (time.time()), or None
        if it has not been written yet."""
        return self.feeder.entered_at(position)

    def clear(self) -> None:
        """Drop all queued audio (the writer goes on with silence)."""
        self.feeder.clear()

    def pause_writer(self) -> None:
        """Stop writing anything (a wedged device): readers block. Queued audio is kept."""
        self.feeder.pause()

    def resume_writer(self) -> None:
        """Resume writing (the schedule restarts from now: missed time is not caught up)."""
        self.feeder.resume()

    @property
    def written_frames(self) -> int:
        """Frames written into the pipe so far (silence included)."""
        return self.feeder.written_frames

    @property
    def queued_frames(self) -> int:
        """Frames queued by play() and not yet taken by the writer."""
        return self.feeder.queued_frames

    @property
    def discarded_frames(self) -> int:
        """Frames the writer read back out of the pipe because no client was draining it."""
        return self.feeder.discarded_frames
