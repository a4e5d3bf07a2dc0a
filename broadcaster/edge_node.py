"""Runs an edge: the same page, stream, /status, /metrics and /healthz as the capture node,
served from the station the engine carries (workers/edge.py), with no microphone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from broadcaster.config import Config
from broadcaster.ops.notify import Notifier
from broadcaster.ops.sockets import listening_socket, probe_host, wait_until_serving
from broadcaster.ops.tls import TlsSocket
from broadcaster.web.app import create_app
from broadcaster.web.hypercorn_internals import serve_http
from broadcaster.workers.edge import EngineEdge
from broadcaster.workers.relay import Relay

logger = logging.getLogger(__name__)


async def run_edge(config: Config, web_root: Path, tls: TlsSocket | None = None) -> None:
    """Serve listeners from the engine until SIGINT or SIGTERM."""
    server = config.server
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGHUP, logger.warning,
                            "an edge does not reload its config: restart it to apply one")
    notifier = Notifier()
    edge = EngineEdge(config)
    relay = Relay(config, edge)
    feeding = asyncio.create_task(relay.run(), name="engine feed")
    with contextlib.closing(listening_socket(server.host, server.port,
                                             server.stalled_listener_timeout_s)) as sock:
        port = sock.getsockname()[1]
        serving = asyncio.create_task(serve_http(create_app(relay, web_root, admission=relay),
                                                 sock, stop, relay.end_streams, tls))
        try:
            answered = asyncio.create_task(wait_until_serving(server.host, port))
            await asyncio.wait({serving, answered}, return_when=asyncio.FIRST_COMPLETED)
            answered.cancel()
            if not serving.done():
                shown = probe_host(server.host)
                logger.info("edge of station %s; open http://%s:%d/ to listen",
                            edge.address.station, f"[{shown}]" if ":" in shown else shown,
                            port)
                notifier.send(READY="1", STATUS=f"edge of station {edge.address.station}")
            await serving
        finally:
            notifier.send(STOPPING="1")
            notifier.close()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeding
