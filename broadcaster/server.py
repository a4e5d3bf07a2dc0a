"""Runs the broadcast: one asyncio.run owns signals, the capture thread and Hypercorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
from collections.abc import Callable, Collection
from pathlib import Path

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from hypercorn.protocol import h2 as hypercorn_h2
from quart import Quart

from broadcaster.audio.sources.factory import make_source
from broadcaster.config import Config
from broadcaster.ops.notify import Notifier
from broadcaster.ops.reloader import Reloader
from broadcaster.ops.tls import TlsError, TlsSocket, prepare
from broadcaster.ops.urls import announce
from broadcaster.station import Station
from broadcaster.web.app import create_app
from broadcaster.workers.hub import Hub

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
SEND_BUFFER_BYTES = 16 * 1024  # the kernel doubles it
SHUTDOWN_GRACE_S = 1.2
FILES_BESIDES_LISTENERS = 256  # the device, the page's files, logs, workers' feeds


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted` (the hard limit caps
    it); return the limit now in force. Service managers start processes at 1024, fewer
    than a busy broadcaster's listeners."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def probe_host(host: str) -> str:
    """Where this machine reaches a server bound to `host`."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def listening_socket(host: str, port: int, stalled_timeout_s: float) -> socket.socket:
    """The server's socket, bound here so that a taken port fails before capture starts.

    Connections inherit its options. A small send buffer: a listener that stops reading
    holds up its own stream within seconds (and is then moved to the live edge) instead of
    parking megabytes of stale audio in the kernel. A TCP user timeout: the kernel drops a
    connection whose data goes unacknowledged, or whose window stays shut, for that long.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT,
                        int(stalled_timeout_s * 1000))
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def tls_listening_socket(config: Config) -> TlsSocket:
    """The https socket, bound like the plain one, with the certificate it presents (made
    first when self-signed). Raises TlsError."""
    server, tls = config.server, config.tls
    try:
        sock = listening_socket(server.host, tls.port, server.stalled_listener_timeout_s)
    except OSError as exc:
        raise TlsError(f"cannot serve https on {server.host}:{tls.port} (tls.port): "
                       f"{exc.strerror or exc}") from exc
    try:
        return TlsSocket(sock, prepare(tls))
    except BaseException:
        sock.close()
        raise


def hold_up_stalled_http2_writers() -> None:
    """Make Hypercorn's HTTP/2 stream buffer hold up the response's writer until the buffer
    has drained below its low-water mark (idempotent).

    Hypercorn 0.18 lets the writer go on after any pop that takes less than the mark, the
    empty pops made while the peer's flow-control window is shut included: the stream of an
    HTTP/2 listener that stops reading would pile up in memory without bound, instead of
    holding up its own generator, which then jumps to the live edge as over HTTP/1.1.
    """
    buffer_class = hypercorn_h2.StreamBuffer
    if getattr(buffer_class.pop, "holds_up_writer", False):
        return
    low_water = hypercorn_h2.BUFFER_LOW_WATER

    async def pop(self: hypercorn_h2.StreamBuffer, max_length: int) -> bytes:
        length = min(len(self.buffer), max_length)
        data = bytes(self.buffer[:length])
        del self.buffer[:length]
        if len(self.buffer) < low_water:
            await self._paused.set()
        if not self.buffer:
            await self._is_empty.set()
        return data

    pop.holds_up_writer = True  # type: ignore[attr-defined]
    buffer_class.pop = pop  # type: ignore[method-assign]


def _hypercorn_config(sock: socket.socket, tls: TlsSocket | None) -> HypercornConfig:
    hc = HypercornConfig()
    # Hypercorn owns the descriptors from here. With a certificate it serves `bind` with
    # TLS (ALPN: HTTP/2, else HTTP/1.1) and `insecure_bind` as plain HTTP.
    if tls is None:
        hc.bind = [f"fd://{sock.detach()}"]
    else:
        hc.bind = [f"fd://{tls.sock.detach()}"]
        hc.insecure_bind = [f"fd://{sock.detach()}"]
        hc.certfile, hc.keyfile = str(tls.files.cert_file), str(tls.files.key_file)
        hc.alpn_protocols = ["h2", "http/1.1"]
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")  # through our logging, not stderr twice
    # Past SHUTDOWN_GRACE_S, connections still open are dropped (see _finish) and end as
    # if the client had gone. Hypercorn must not cancel them first: cancelling an HTTP/2
    # stream fails in Hypercorn 0.18 (it spawns into the cancelled task group) and ends the
    # whole server with that error.
    hc.graceful_timeout = SHUTDOWN_GRACE_S + 0.4
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

    With `[server] workers = 0` this process also serves the listeners; otherwise worker
    processes do (see hub.py). Raises SourceError/OSError/TlsError when it cannot start.
    """
    if not (web_root / "index.html").is_file():
        raise FileNotFoundError(f"the listener page is missing: {web_root / 'index.html'}")
    notifier = Notifier()
    server = config.server
    wanted = server.max_listeners + FILES_BESIDES_LISTENERS
    if (limit := raise_open_files_limit(wanted)) < wanted:
        logger.warning("this process may open only %d files: listeners beyond about %d will "
                       "be refused (raise LimitNOFILE)", limit, limit - FILES_BESIDES_LISTENERS)
    with contextlib.ExitStack() as sockets:
        sock = sockets.enter_context(contextlib.closing(
            listening_socket(server.host, server.port, server.stalled_listener_timeout_s)))
        port = sock.getsockname()[1]
        tls: TlsSocket | None = None
        if config.tls.enabled:
            tls = await asyncio.to_thread(tls_listening_socket, config)
            sockets.enter_context(contextlib.closing(tls.sock))
        source = await asyncio.to_thread(make_source, config)
        station = Station(config, source, renew=make_source)
        stop = asyncio.Event()
        signals = _Signals(stop, Reloader(station, reload_config, notifier)
                           if reload_config else None)

        def stopping() -> None:
            logger.info("shutting down")
            notifier.send(STOPPING="1", STATUS="shutting down")
            station.end_streams()

        hub: Hub | None = None
        serving: asyncio.Task[None] | None = None
        try:
            await station.open()
            if server.workers:
                hub = Hub(station, sock, web_root, server.workers, tls)
                serving = asyncio.create_task(hub.run())
            else:
                serving = asyncio.create_task(
                    serve_http(create_app(station, web_root), sock, stop, stopping, tls))
            await _announce(serving, station, notifier, stop, port)
        finally:
            stop.set()
            if hub is not None:
                stopping()
                await hub.close()
            if serving is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    if hub is not None:
                        serving.cancel()
                    await serving
            signals.remove()
            await station.close()
            notifier.close()


class _Signals:
    """SIGINT/SIGTERM set `stop`; SIGHUP reloads (reloads run as tasks, never overlapping)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, stop: asyncio.Event, reloader: Reloader | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._reloads: set[asyncio.Task[None]] = set()
        self._loop.add_signal_handler(signal.SIGINT, stop.set)
        self._loop.add_signal_handler(signal.SIGTERM, stop.set)
        if reloader is not None:
            self._loop.add_signal_handler(signal.SIGHUP, self._reload, reloader)

    def _reload(self, reloader: Reloader) -> None:
        task = asyncio.create_task(reloader.reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    def remove(self) -> None:
        """Uninstall the handlers and cancel a reload under way."""
        for task in list(self._reloads):
            task.cancel()
        for sig in self.SIGNALS:
            self._loop.remove_signal_handler(sig)


async def _announce(serving: asyncio.Task[None], station: Station, notifier: Notifier,
                    stop: asyncio.Event, port: int) -> None:
    """READY once the HTTP server answers, then the watchdog, until `stop` (or the server
    ends by itself, raising why)."""
    host = station.config.server.host
    watchdog: asyncio.Task[None] | None = None
    try:
        answered = asyncio.create_task(wait_until_serving(host, port))
        done, _ = await asyncio.wait({serving, answered}, timeout=SERVING_TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)
        answered.cancel()
        if serving in done:
            serving.result()  # raises why it could not serve
            return
        if answered not in done:
            logger.warning("the HTTP server did not answer within %g s", SERVING_TIMEOUT_S)
        shown = probe_host(host)
        logger.info("broadcasting %s; open http://%s:%d/ to listen", station.source_name,
                    f"[{shown}]" if ":" in shown else shown, port)
        notifier.send(READY="1", STATUS=station.summary())
        announce(host, port, station.config.tls.port or None)
        watchdog = asyncio.create_task(_watchdog(station, notifier))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if serving.done():
            serving.result()
    finally:
        if watchdog is not None:
            watchdog.cancel()


async def serve_http(app: Quart, sock: socket.socket, stop: asyncio.Event,
                     on_stop: Callable[[], None], tls: TlsSocket | None = None) -> None:
    """Run Hypercorn on `sock` (and https on `tls`) until `stop` is set (`on_stop` runs
    first), then close its connections within SHUTDOWN_GRACE_S."""
    ports = {sock.getsockname()[1]} | ({tls.sock.getsockname()[1]} if tls else set())

    async def shutdown_trigger() -> None:
        await stop.wait()
        on_stop()

    hold_up_stalled_http2_writers()  # HTTP/2 over TLS, or h2c on the plain port
    server = asyncio.create_task(
        hypercorn_serve(app, _hypercorn_config(sock, tls), shutdown_trigger=shutdown_trigger))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({server, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        stop.set()
        await _finish(server, ports)


async def _finish(server: asyncio.Task[None], ports: Collection[int]) -> None:
    """Let Hypercorn close its connections, but not for longer than SHUTDOWN_GRACE_S.

    Hypercorn waits for each connection's unsent data to drain before closing it, and a
    client that stopped reading never drains: such connections must not hold up the exit.
    """
    done, _ = await asyncio.wait({server}, timeout=SHUTDOWN_GRACE_S)
    if not done:
        dropped = drop_connections(ports)
        logger.warning("%d client(s) that stopped reading held up the shutdown: dropped",
                       dropped)
    await server


def drop_connections(ports: Collection[int]) -> int:
    """Shut down every TCP connection this process has on one of the local `ports` (Linux).

    Hypercorn keeps its client sockets to itself; the kernel lists them. A shut-down socket
    fails its pending writes at once, so the transport holding them closes.
    """
    dropped = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            probe = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # not a socket, or gone meanwhile
        with probe:
            try:
                address = probe.getsockname()
                if (probe.type != socket.SOCK_STREAM or not isinstance(address, tuple)
                        or address[1] not in ports):
                    continue
                probe.getpeername()  # the listening socket has no peer: OSError
                probe.shutdown(socket.SHUT_RDWR)
                dropped += 1
            except OSError:
                continue
    return dropped
