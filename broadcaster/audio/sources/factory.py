"""Turn a source spec into a source, resolving `auto` to the mic or the built-in tone."""

from __future__ import annotations

import logging
from pathlib import Path

from broadcaster.audio.devices import missing_default_input
from broadcaster.audio.sources import PcmSource
from broadcaster.audio.sources.mic import MicSource
from broadcaster.audio.sources.tone import tone_source
from broadcaster.audio.sources.wavfile import file_source
from broadcaster.config import Config
from broadcaster.core import opus
from broadcaster.core.source_spec import SourceSpec

logger = logging.getLogger(__name__)

TONE_RATE_HZ = opus.DECODE_RATE_HZ


def make_source(config: Config) -> PcmSource:
    """Build (and, for the mic, probe) the configured source; raises SourceError."""
    spec = config.source.source
    channels = config.audio.channels
    if spec.kind == "auto":
        # With no usable device (none plugged in, or a sound set-up PortAudio cannot start
        # on), `auto` broadcasts the tone, as documented, and says why: a service keeps
        # running and the page can be tried; `mic` and `broadcaster doctor` fail instead.
        missing = missing_default_input()
        if missing is None:
            spec = SourceSpec("mic")
        else:
            logger.warning("broadcasting the built-in test signal (a %g Hz tone) instead of "
                           "a microphone: %s", spec.tone_hz, missing)
            spec = SourceSpec("tone")
    if spec.kind == "mic":
        mic = MicSource(spec.device, channels, config.source.max_backlog_ms)
        mic.probe()
        return mic
    if spec.kind == "file":
        return file_source(Path(spec.path), channels)
    return tone_source(spec.tone_hz, config.source.tone_level_dbfs, TONE_RATE_HZ, channels)
