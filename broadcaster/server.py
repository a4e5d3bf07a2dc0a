"""Runs the broadcast: one asyncio.run owns signals, the capture thread and Hypercorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from broadcaster.app import create_app
from broadcaster.config import Config
from broadcaster.notify import Notifier
from broadcaster.reloader import Reloader
from broadcaster.sources.factory import make_source
from broadcaster.station import Station

logger = logging.getLogger(__name__)

def find_web_root() -> Path:
    """The listener page: package data when installed, the repository's folder otherwise."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "listener_web", here.parent / "listener_web"):
        if (candidate / "index.html").is_file():
            return candidate
    return here / "listener_web"


WEB_ROOT = find_web_root()
SERVING_TIMEOUT_S = 10.0


def bind_address(host: str, port: int) -> str:
    """Hypercorn's bind string; IPv6 literals go in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def probe_host(host: str) -> str:
    """Where this machine reaches a server bound to `host`."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _hypercorn_config(config: Config) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [bind_address(config.server.host, config.server.port)]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")  # through our logging, not stderr twice
    hc.graceful_timeout = 1.0
    hc.include_server_header = False
    return hc


async def wait_until_serving(host: str, port: int) -> None:
    """Return once the HTTP server answers a request on (host, port)."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(probe_host(host), port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            if (await reader.readline()).startswith(b"HTTP/1.1 "):
                return
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _watchdog(station: Station, notifier: Notifier) -> None:
    """Ping the service manager while capture is not stuck; keep STATUS= fresh."""
    interval_s = notifier.watchdog_interval_s or 5.0
    while True:
        if notifier.watchdog_interval_s is None:
            notifier.send(STATUS=station.summary())
        elif station.capture_responsive():
            notifier.send(WATCHDOG="1", STATUS=station.summary())
        else:
            notifier.send(STATUS=f"capture is stuck in {station.source_name}")
        await asyncio.sleep(interval_s)


async def run(config: Config, web_root: Path = WEB_ROOT,
              reload_config: Callable[[], Config] | None = None) -> None:
    """Serve until SIGINT or SIGTERM; SIGHUP applies `reload_config()` where it can.

    Raises SourceError/OSError when it cannot start.
    """
    if not (web_root / "index.html").is_file():
        raise FileNotFoundError(f"the listener page is missing: {web_root / 'index.html'}")
    notifier = Notifier()
    source = await asyncio.to_thread(make_source, config)
    station = Station(config, source, renew=make_source)
    app = create_app(station, web_root)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[None]] = set()
    if reload_config is not None:
        reloader = Reloader(station, reload_config, notifier)

        def on_sighup() -> None:
            task = asyncio.create_task(reloader.reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)

    async def shutdown_trigger() -> None:
        await stop.wait()
        logger.info("shutting down")
        notifier.send(STOPPING="1", STATUS="shutting down")
        station.end_streams()

    await station.open()
    server = asyncio.create_task(
        hypercorn_serve(app, _hypercorn_config(config), shutdown_trigger=shutdown_trigger))
    watchdog: asyncio.Task[None] | None = None
    try:
        serving = asyncio.create_task(wait_until_serving(config.server.host, config.server.port))
        done, _ = await asyncio.wait({server, serving}, timeout=SERVING_TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)
        serving.cancel()
        if server in done:
            server.result()  # raises why it could not serve (e.g. the port is taken)
            return
        if serving not in done:
            logger.warning("the HTTP server did not answer within %g s", SERVING_TIMEOUT_S)
        shown = probe_host(config.server.host)
        logger.info("broadcasting %s; open http://%s:%d/ to listen", station.source_name,
                    f"[{shown}]" if ":" in shown else shown, config.server.port)
        notifier.send(READY="1", STATUS=station.summary())
        watchdog = asyncio.create_task(_watchdog(station, notifier))
        await server
    finally:
        if watchdog is not None:
            watchdog.cancel()
        for task in list(reloads):
            task.cancel()
        if not server.done():
            stop.set()
            await server
        await station.close()
        notifier.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
