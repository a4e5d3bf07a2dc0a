"""SIGHUP: apply the config file again, as far as a running broadcast can take it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from broadcaster.audio.encoder import EncoderError
from broadcaster.audio.sources import PcmSource, SourceError
from broadcaster.audio.sources.factory import make_source
from broadcaster.config import Config, ConfigError
from broadcaster.ops.notify import Notifier
from broadcaster.ops.reload import plan_reload

logger = logging.getLogger(__name__)


class Reloadable(Protocol):
    """What a reload changes: the capturing process's Station."""

    config: Config

    @property
    def source_name(self) -> str:
        """The live source's name."""

    async def switch_source(self, config: Config, source: PcmSource) -> None:
        """Broadcast another source; raises EncoderError or CaptureBusyError."""

    def summary(self) -> str:
        """One line for the service manager."""


class Reloader:
    """Applies the config file again on SIGHUP, as far as it can without a restart."""

    def __init__(self, station: Reloadable, load: Callable[[], Config], notifier: Notifier) -> None:
        self._station = station
        self._load = load
        self._notifier = notifier
        self._lock = asyncio.Lock()

    async def reload(self) -> None:
        """Reload once (reloads never overlap)."""
        async with self._lock:
            self._notifier.send(RELOADING="1", STATUS="reloading the config")
            try:
                await self._apply()
            finally:
                self._notifier.send(READY="1", STATUS=self._station.summary())

    async def _apply(self) -> None:
        station = self._station
        try:
            new = await asyncio.to_thread(self._load)
        except ConfigError as exc:
            logger.error("config reload failed, keeping the running config: %s", exc)
            return
        plan = plan_reload(station.config, new)
        if plan.needs_restart:
            logger.warning("changed, but only applied after a restart: %s",
                           ", ".join(plan.needs_restart))
        if plan.log_level is not None:
            logging.getLogger().setLevel(plan.log_level.upper())
        live = replace(station.config, source=new.source, logging=new.logging)
        if plan.switch_source:
            try:
                source = await asyncio.to_thread(make_source, live)
                await station.switch_source(live, source)
            except (SourceError, EncoderError) as exc:
                logger.error("cannot switch to the new source, keeping %s: %s",
                             station.source_name, exc)
                return
        station.config = live
        logger.info("config reloaded%s", "" if plan.changes_anything else " (no live change)")
