"""Runs the broadcast: one asyncio.run owns signals, the capture thread and Hypercorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster.archive.recorder import ArchiveRecorder, RecorderSettings
from broadcaster.audio.sources.factory import make_source
from broadcaster.config import Config
from broadcaster.core import opus
from broadcaster.core.retention import Retention
from broadcaster.ops.notify import Notifier
from broadcaster.ops.reloader import Reloader
from broadcaster.ops.sockets import listening_socket, probe_host, wait_until_serving
from broadcaster.ops.state_dir import archive_folder
from broadcaster.ops.tls import TlsError, TlsSocket, prepare
from broadcaster.ops.urls import announce
from broadcaster.station import Station, epoch_first_seq
from broadcaster.web.app import create_app
from broadcaster.web.archive_routes import archive_routes
from broadcaster.web.hypercorn_internals import serve_http
from broadcaster.workers.hub import Hub

if TYPE_CHECKING:
    from broadcaster.hooks.mqtt import MqttSensor

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


def start_hooks(config: Config, station: Station) -> list[asyncio.Task[None]]:
    """The home-automation hooks the config asks for, each told every sound episode's start
    and end (the `activity` event's fields, with the source's name)."""
    alerts = config.alerts
    submits: list[Callable[[dict[str, Any]], None]] = []
    tasks: list[asyncio.Task[None]] = []
    if alerts.enabled and alerts.webhook_url:
        from broadcaster.hooks.webhook import Webhook  # httpx: only then

        webhook = Webhook(alerts.webhook_url, alerts.webhook_timeout_s)
        submits.append(webhook.submit)
        station.reporters.append(webhook.counters)
        tasks.append(asyncio.create_task(webhook.run(), name="webhook"))
    if alerts.enabled and alerts.mqtt_host and (sensor := mqtt_sensor(config)) is not None:
        submits.append(sensor.submit)
        station.reporters.append(sensor.counters)
        tasks.append(asyncio.create_task(sensor.run(), name="mqtt"))
    if submits:
        def tell(change: dict[str, Any]) -> None:
            payload = {"event": "activity", **change, "source": station.source_name}
            for submit in submits:
                submit(payload)

        station.sound.taps.append(tell)
    return tasks


def open_recorder(config: Config) -> tuple[ArchiveRecorder | None, str]:
    """The archive's recorder, locked and repaired; or None and why the broadcast runs
    live-only. The default folder is made; a configured one must exist (an unmounted disk
    must not be filled in its place)."""
    archive = config.archive
    if not archive.enabled:
        return None, "archive.enabled is false"
    folder = archive_folder(config)
    audio = config.audio
    settings = RecorderSettings(
        folder, Retention(archive.keep_hours * 3_600_000, archive.max_mb << 20,
                          archive.min_free_mb << 20),
        archive.file_minutes, audio.channels,
        round(opus.codec_delay_ms(audio.application) * opus.DECODE_RATE_HZ / 1000),
        audio.frame_ms)
    recorder = ArchiveRecorder(settings)
    try:
        if not archive.dir:
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        recorder.next_id = recorder.open()
    except OSError as exc:
        reason = f"cannot record into {folder}: {exc.strerror or exc}"
        logger.warning("the archive is off, the broadcast runs live only: %s", reason)
        return None, reason
    return recorder, ""


def start_publisher(config: Config, station: Station) -> asyncio.Task[None]:
    """Feed edges through the engine (workers/publisher.py): every frame, as it comes."""
    from broadcaster.workers.publisher import EnginePublisher  # nats: only then

    publisher = EnginePublisher(config, station.fanout, station.health)
    station.relayed = True
    station.reporters.append(publisher.counters)
    return asyncio.create_task(publisher.run(), name="engine publisher")


async def _run_edge(config: Config, web_root: Path) -> None:
    """An edge (source.spec is the engine): https when asked, then edge_node.py."""
    from broadcaster.edge_node import run_edge

    with contextlib.ExitStack() as sockets:
        tls: TlsSocket | None = None
        if config.tls.enabled:
            tls = await asyncio.to_thread(tls_listening_socket, config)
            sockets.enter_context(contextlib.closing(tls.sock))
        await run_edge(config, web_root, tls)


def mqtt_sensor(config: Config) -> MqttSensor | None:
    """The sound sensor for the configured MQTT broker, or None (said why) when its password
    file cannot be read."""
    from broadcaster.hooks.mqtt import MqttSensor, MqttSettings  # aiomqtt: only then

    alerts = config.alerts
    password = ""
    if alerts.mqtt_password_file:
        try:
            password = Path(alerts.mqtt_password_file).read_text().strip()
        except OSError as exc:
            logger.error("MQTT is off: cannot read alerts.mqtt_password_file (%s)",
                         exc.strerror or exc)
            return None
    return MqttSensor(MqttSettings(alerts.mqtt_host, alerts.mqtt_port, alerts.mqtt_username,
                                   password, alerts.mqtt_topic, alerts.mqtt_discovery_prefix))


async def run(config: Config, web_root: Path = WEB_ROOT,
              reload_config: Callable[[], Config] | None = None) -> None:
    """Serve until SIGINT or SIGTERM; SIGHUP applies `reload_config()` where it can.

    With `[server] workers = 0` this process also serves the listeners; otherwise worker
    processes do (see hub.py). Raises SourceError/OSError/TlsError when it cannot start.
    """
    if not (web_root / "index.html").is_file():
        raise FileNotFoundError(f"the listener page is missing: {web_root / 'index.html'}")
    if config.source.source.kind == "engine" or config.engine.publish:
        from broadcaster.core.engine import EngineAddress
        from broadcaster.workers.engine_link import connect_options

        # Credential and TLS files are checked now: a bad one stops the start, naming it.
        connect_options(config.engine, EngineAddress.parse(
            config.engine.publish or config.source.spec), "check")
    if config.source.source.kind == "engine":
        await _run_edge(config, web_root)
        return
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
        recorder, archive_off = await asyncio.to_thread(open_recorder, config)
        first_seq = epoch_first_seq()
        if recorder is not None and recorder.next_id is not None:
            # Above every id kept, and not next to the last: a clock that stepped back
            # must not make a new run's ids look like the old run's going on.
            first_seq = max(first_seq, recorder.next_id + 1)
        station = Station(config, source, renew=make_source, first_seq=first_seq)
        if recorder is not None:
            recorder.start(first_seq)
            station.packet_taps.append(recorder.tap)
            station.reporters.append(recorder.counters)
            station.sound.restore(recorder.episodes)
            station.sound.taps.append(recorder.note_episode)
        hooks = start_hooks(config, station)
        if config.engine.publish:
            hooks.append(start_publisher(config, station))
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
            await station.open(serve_listeners=not server.workers)
            if server.workers:
                hub = workers = Hub(station, station.fanout, sock, web_root, server.workers,
                                    tls, listener_coming=station.expect_listener)
                station.listeners_elsewhere = lambda: workers.listeners
                serving = asyncio.create_task(workers.run())
            else:
                serving = asyncio.create_task(
                    serve_http(create_app(station, web_root,
                                          archive=archive_routes(config, station, archive_off)),
                               sock, stop, stopping, tls))
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
            for hook in hooks:
                hook.cancel()
            await station.close()
            if recorder is not None:
                await asyncio.to_thread(recorder.close)
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


