"""A worker process: serves listeners from the capture process's feed (see hub.py).

Started by the hub as `python -m broadcaster.workers.worker`, with the listening sockets
(plain http, and https when it is on) and its end of the feed inherited as file descriptors, and the
config as JSON on stdin (its `tls` names the certificate's files). It exits when the
hub closes the feed, on SIGTERM, or when the hub dies (the kernel sends it SIGTERM then).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import signal
import socket
import sys
from pathlib import Path

from broadcaster.config import Config
from broadcaster.config_file import config_from_dict
from broadcaster.core.telemetry import TelemetryStore
from broadcaster.ops.tls import TlsFiles, TlsSocket
from broadcaster.web.app import create_app
from broadcaster.web.archive_routes import archive_routes
from broadcaster.web.hypercorn_internals import serve_http
from broadcaster.workers.hub_link import HubLink
from broadcaster.workers.relay import Relay

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
HELLO_TIMEOUT_S = 10.0


def die_with_parent() -> None:
    """Have the kernel send SIGTERM when the hub dies, however it dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # then the closed feed ends it


async def serve(config: Config, listen_fd: int, feed_fd: int, web_root: Path,
                tls_fd: int | None = None) -> None:
    """Serve listeners until the feed ends or SIGTERM."""
    sock = socket.socket(fileno=listen_fd)
    tls = None if tls_fd is None else TlsSocket(
        socket.socket(fileno=tls_fd),
        TlsFiles(Path(config.tls.cert_file), Path(config.tls.key_file)))
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=feed_fd))
    telemetry = TelemetryStore(config.server.max_listeners, config.server.max_listeners_per_ip)
    relay = Relay(config, HubLink(reader, writer, telemetry))
    feeding = asyncio.create_task(relay.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    ended = asyncio.create_task(relay.ended.wait())
    ended.add_done_callback(lambda _: stop.set())
    try:
        await asyncio.wait_for(relay.hello.wait(), HELLO_TIMEOUT_S)
        archive = archive_routes(config, relay, "" if config.archive.enabled
                                 else "archive.enabled is false")
        await serve_http(create_app(relay, web_root, admission=relay, telemetry=telemetry,
                                    archive=archive),
                         sock, stop, relay.end_streams, tls)
    finally:
        ended.cancel()
        writer.close()
        feeding.cancel()


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process."""
    parser = argparse.ArgumentParser(prog="broadcaster.workers.worker")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--feed-fd", type=int, required=True)
    parser.add_argument("--web-root", type=Path, required=True)
    parser.add_argument("--tls-fd", type=int)
    args = parser.parse_args(argv)
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the hub shuts the workers down
    config = config_from_dict(json.loads(sys.stdin.read()))
    logging.basicConfig(level=config.logging.level.upper(),
                        format=f"%(asctime)s %(levelname)s worker {args.index} %(name)s: "
                               "%(message)s")
    try:
        asyncio.run(serve(config, args.listen_fd, args.feed_fd, args.web_root, args.tls_fd))
    except TimeoutError:
        logger.error("no feed from the capture process")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
