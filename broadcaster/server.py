"""Runs the broadcast: one asyncio.run owns signals, the capture thread and Hypercorn."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from broadcaster.app import create_app
from broadcaster.config import Config
from broadcaster.sources.factory import make_source
from broadcaster.station import Station

logger = logging.getLogger(__name__)

WEB_ROOT = Path(__file__).resolve().parent.parent / "listener_web"


def bind_address(host: str, port: int) -> str:
    """Hypercorn's bind string; IPv6 literals go in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _hypercorn_config(config: Config) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [bind_address(config.server.host, config.server.port)]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")  # through our logging, not stderr twice
    hc.graceful_timeout = 1.0
    hc.include_server_header = False
    return hc


async def run(config: Config, web_root: Path = WEB_ROOT) -> None:
    """Serve until SIGINT or SIGTERM; raises SourceError/OSError when it cannot start."""
    if not (web_root / "index.html").is_file():
        raise FileNotFoundError(f"the listener page is missing: {web_root / 'index.html'}")
    source = await asyncio.to_thread(make_source, config)
    station = Station(config, source)
    app = create_app(station, web_root)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        logger.info("shutting down")
        station.end_streams()

    await station.open()
    host = config.server.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    logger.info("broadcasting %s; open http://%s:%d/ to listen", station.source_name,
                shown if ":" not in shown else f"[{shown}]", config.server.port)
    try:
        await hypercorn_serve(app, _hypercorn_config(config),
                              shutdown_trigger=shutdown_trigger)
    finally:
        await station.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
