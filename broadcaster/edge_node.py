"""Runs an edge: the same page, stream, /status, /metrics and /healthz as the capture node,
served from the station the engine carries (workers/edge.py), with no microphone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from broadcaster.config import Config
from broadcaster.ops.sockets import listening_socket, probe_host
from broadcaster.ops.tls import TlsSocket
from broadcaster.web.app import create_app
from broadcaster.web.hypercorn_internals import serve_http
from broadcaster.workers.edge import EngineEdge
from broadcaster.workers.relay import Relay

logger = logging.getLogger(__name__)


async def run_edge(config: Config, web_root: Path, stop: asyncio.Event,
                   tls: TlsSocket | None = None) -> None:
    """Serve listeners from the engine until `stop` is set."""
    server = config.server
    with contextlib.closing(listening_socket(server.host, server.port,
                                             server.stalled_listener_timeout_s)) as sock:
        edge = EngineEdge(config)
        relay = Relay(config, edge)
        feeding = asyncio.create_task(relay.run(), name="engine feed")
        shown = probe_host(server.host)
        logger.info("edge of station %s; open http://%s:%d/ to listen", edge.address.station,
                    f"[{shown}]" if ":" in shown else shown, sock.getsockname()[1])
        try:
            await serve_http(create_app(relay, web_root, admission=relay), sock, stop,
                             relay.end_streams, tls)
        finally:
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeding
