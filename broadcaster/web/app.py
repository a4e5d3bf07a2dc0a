"""The HTTP API (Quart): the listener page, the SSE stream, control and status."""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from quart import Quart, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from broadcaster.core.access import basic_password, bearer_token, is_loopback, matches
from broadcaster.core.backoff import FailureBackoff
from broadcaster.core.episodes import MAX_PAGE
from broadcaster.core.metrics import render_metrics
from broadcaster.core.state import CaptureBusyError
from broadcaster.core.telemetry import (
    MAX_REPORT_BYTES,
    RateLimitedError,
    Report,
    TelemetryError,
    TelemetryStore,
    merge_detail,
)
from broadcaster.stream.fanout import MAX_BACKLOG_MS
from broadcaster.web.archive_routes import ArchiveQueryError, ArchiveRoutes
from broadcaster.web.broadcast import Admitter, Broadcast, LocalAdmission
from broadcaster.web.hypercorn_internals import sink_from, with_transports

logger = logging.getLogger(__name__)

MAX_ID_DIGITS = 18
MAX_BUNDLE_MS = 2000  # the ring keeps 5 s by default: a bundle never outlasts it
DEFAULT_PAGE = 50
STREAM_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "Content-Type": "text/event-stream; charset=utf-8",
}


class BadRequestError(ValueError):
    """A request parameter that cannot be used; answered with 400."""


def _whole_number(raw: str | None, max_digits: int) -> int | None:
    """A plain decimal number (surrounding spaces allowed); None when blank; ValueError when
    anything else."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > max_digits:
        raise ValueError(text)
    return int(text)


def parse_last_id(header: str | None, query: str | None) -> int | None:
    """The resume point from `Last-Event-ID` (wins) or `?last_id=`; None when absent."""
    for name, raw in (("Last-Event-ID", header), ("last_id", query)):
        try:
            value = _whole_number(raw, MAX_ID_DIGITS)
        except ValueError:
            raise BadRequestError(f"{name} must be a non-negative integer event id, "
                                  f"got {str(raw)[:40]!r}") from None
        if value is not None:
            return value
    return None


def _milliseconds(name: str, query: str | None, maximum: int) -> int:
    """A `?name=` of whole milliseconds from 0 to `maximum`; 0 when absent."""
    try:
        value = _whole_number(query, len(str(maximum)))
    except ValueError:
        value = maximum + 1
    if value is None:
        return 0
    if value > maximum:
        raise BadRequestError(f"{name} must be a whole number of milliseconds from 0 to "
                              f"{maximum}, got {str(query)[:40]!r}")
    return value


def parse_backlog_ms(query: str | None) -> int:
    """`?backlog_ms=`: how much fresh audio a new listener starts with; 0 when absent."""
    return _milliseconds("backlog_ms", query, MAX_BACKLOG_MS)


def parse_bundle_ms(query: str | None) -> int:
    """`?bundle_ms=`: frames in bundles of about this many ms (fewer, bigger writes: a
    phone's radio wakes less, the server works less; later sound); 0 when absent."""
    return _milliseconds("bundle_ms", query, MAX_BUNDLE_MS)


def parse_episode_page(before: str | None, limit: str | None) -> tuple[int | None, int]:
    """`?before=` (an episode number: the page holds those below it) and `?limit=` (1 to
    MAX_PAGE, default DEFAULT_PAGE) of /activity/episodes."""
    try:
        start = _whole_number(before, MAX_ID_DIGITS)
    except ValueError:
        raise BadRequestError(f"before must be an episode number, got {str(before)[:40]!r}"
                              ) from None
    try:
        count = _whole_number(limit, 3)
    except ValueError:
        count = 0
    if count is None:
        count = DEFAULT_PAGE
    if not 1 <= count <= MAX_PAGE:
        raise BadRequestError(f"limit must be a whole number from 1 to {MAX_PAGE}, "
                              f"got {str(limit)[:40]!r}")
    return start, count


async def _released(stream: AsyncIterator[bytes],
                    release: Callable[[], None]) -> AsyncIterator[bytes]:
    """`stream`, then `release()` however it ends."""
    try:
        async for data in stream:
            yield data
    finally:
        release()


def _error(status: int, message: str,
           headers: dict[str, str] | None = None) -> tuple[Response, int, dict[str, str]]:
    return jsonify({"error": message}), status, headers or {}


PAGE_CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
            "img-src 'self' data:; style-src 'self'; media-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": PAGE_CSP,
}
RETRY_AFTER_S = "10"
# Third-party browser code the page loads from /vendor/PACKAGE/FILE: npm package -> the
# folder of it that is served. npm installs it (package.json at the repository's top), never git.
VENDOR_DIRS = {"opus-decoder": Path("opus-decoder") / "dist"}


def vendor_roots(web_root: Path) -> list[Path]:
    """Where the page's npm packages may be: a checkout's node_modules beside the page, or
    the copy systemd/install.sh puts in the virtualenv of an installed service."""
    return [web_root.parent / "node_modules",
            Path(sys.prefix) / "share" / "broadcaster" / "node_modules"]


def create_app(station: Broadcast, web_root: Path, admission: Admitter | None = None,
               telemetry: TelemetryStore | None = None,
               vendor: Sequence[Path] | None = None,
               backoff: FailureBackoff | None = None,
               archive: ArchiveRoutes | None = None) -> Quart:
    """Build the app around a running broadcast; `web_root` holds the listener page.
    `admission` decides who may listen (default: this process counts its own listeners),
    `telemetry` keeps the reports of the listeners served here (default: a new store),
    `vendor` lists the node_modules folders to serve /vendor/ from (default:
    vendor_roots(web_root)), `backoff` slows repeated wrong keys (default: a new one)."""
    vendor_dirs = vendor_roots(web_root) if vendor is None else list(vendor)
    config = station.config
    admitter = LocalAdmission(config) if admission is None else admission
    reports = TelemetryStore(config.server.max_listeners, config.server.max_listeners_per_ip
                             ) if telemetry is None else telemetry
    app = Quart(__name__, static_folder=str(web_root), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    access = config.access
    wrong_keys = FailureBackoff() if backoff is None else backoff

    async def full_status() -> dict[str, Any]:
        """The broadcast's counters, with this process's admissions and listeners' reports."""
        status = await station.status() | admitter.counters() | wrong_keys.counters()
        if archive is not None:
            status |= {f"archive_{key}": value
                       for key, value in (await archive.summary()).items()}
        status["listeners_detail"] = merge_detail(status.get("listeners_detail", []),
                                                  reports.detail(time.monotonic()))
        return status

    def peer() -> str:
        return request.remote_addr or "unknown"

    async def wrong(what: str) -> tuple[Response, int, dict[str, str]]:
        """403, late when this address keeps sending wrong keys: only this request waits
        (a 429 would be advice that a guesser ignores, learning `wrong` at full speed)."""
        if delay_s := wrong_keys.failed(peer(), time.monotonic()):
            await asyncio.sleep(delay_s)
        return _error(403, f"wrong {what}")

    async def listener_refusal() -> tuple[Response, int, dict[str, str]] | None:
        """None when the request may listen; else the 401/403 answer."""
        if not access.listen_key:
            return None
        given = request.args.get("key") or basic_password(request.headers.get("Authorization"))
        if given is None:
            return _error(401, "this broadcast needs a key: open the link you were given",
                          {"WWW-Authenticate": 'Basic realm="broadcaster", charset="UTF-8"'})
        if not matches(given, access.listen_key):
            return await wrong("listening key")
        return None

    async def control_refusal() -> tuple[Response, int, dict[str, str]] | None:
        """None when the request may control capture; else the 401/403 answer."""
        if not access.control_token:
            if is_loopback(request.remote_addr):
                return None
            return _error(403, "capture can be controlled only from this machine, unless "
                               "[access] control_token is set")
        given = bearer_token(request.headers.get("Authorization"))
        if given is None and request.mimetype == "application/x-www-form-urlencoded":
            given = (await request.form).get("token")
        if given is None:
            return _error(401, "a control token is needed (Authorization: Bearer TOKEN)",
                          {"WWW-Authenticate": 'Bearer realm="broadcaster"'})
        if not matches(given, access.control_token):
            return await wrong("control token")
        return None

    @app.after_request
    async def headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if access.cors_origin and request.path in ("/audio/stream", "/status"):
            response.headers["Access-Control-Allow-Origin"] = access.cors_origin
        return response

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        return _error(error.code or 500, error.description or error.name)

    @app.get("/")
    async def index() -> Any:
        if (refusal := await listener_refusal()) is not None:
            return refusal
        response = await send_from_directory(web_root, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/vendor/<package>/<path:name>")
    async def vendor_file(package: str, name: str) -> Any:
        if package not in VENDOR_DIRS:
            return _error(404, f"no vendor package {package!r}")
        for root in vendor_dirs:
            folder = root / VENDOR_DIRS[package]
            if folder.is_dir():
                return await send_from_directory(folder, name)  # 404 outside the folder
        return _error(404, f"{package} is not installed on this server: run scripts/setup.sh "
                           "(or systemd/install.sh for the service)")

    async def control(action: Callable[[], Awaitable[None]]) -> Any:
        if (refusal := await control_refusal()) is not None:
            return refusal
        try:
            await action()
        except CaptureBusyError as exc:
            return _error(503, str(exc))
        return {"state": station.state.state, "source": station.state.source}

    @app.post("/audio/start")
    async def audio_start() -> Any:
        return await control(station.start)

    @app.post("/audio/stop")
    async def audio_stop() -> Any:
        return await control(station.stop)

    @app.get("/audio/stream")
    async def audio_stream() -> Any:
        if (refusal := await listener_refusal()) is not None:
            return refusal
        try:
            last_id = parse_last_id(request.headers.get("Last-Event-ID"),
                                    request.args.get("last_id"))
            backlog_ms = parse_backlog_ms(request.args.get("backlog_ms"))
            bundle_ms = parse_bundle_ms(request.args.get("bundle_ms"))
        except BadRequestError as exc:
            return _error(400, str(exc))
        if station.state.state == "shutdown":
            return _error(503, "the broadcaster is shutting down",
                          {"Retry-After": RETRY_AFTER_S})
        address = peer()
        if (reason := await admitter.admit(address)) is not None:
            return _error(503, reason, {"Retry-After": RETRY_AFTER_S})
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                admitter.release(address)

        try:
            stream = None if archive is None else await archive.stream(
                request.args, last_id, lambda after: station.listen(after, on_end=release))
        except ArchiveQueryError as exc:
            release()
            return _error(exc.status, str(exc))
        if stream is not None:
            stream = _released(stream, release)
        else:
            stream = station.listen(last_id, on_end=release, backlog_ms=backlog_ms,
                                    sink=sink_from(request.scope), bundle_ms=bundle_ms)
        weakref.finalize(stream, release)  # also when the body is never sent
        response = Response(stream, status=200, headers=STREAM_HEADERS)
        response.timeout = None  # Quart would otherwise end the endless stream after 60 s
        return response

    @app.post("/audio/telemetry")
    async def audio_telemetry() -> Any:
        if (refusal := await listener_refusal()) is not None:
            return refusal
        if (request.content_length or 0) > MAX_REPORT_BYTES:
            return _error(413, f"a report is at most {MAX_REPORT_BYTES} bytes")
        if request.mimetype != "application/json":
            return _error(415, "a report is JSON: send it as application/json")
        body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
        try:
            report = Report.parse(body)
            reports.accept(report, peer(), time.monotonic())
        except RateLimitedError as exc:
            return _error(429, str(exc), {"Retry-After": str(math.ceil(exc.retry_after_s))})
        except TelemetryError as exc:
            return _error(413 if len(body) > MAX_REPORT_BYTES else 400, str(exc))
        return "", 204

    @app.get("/status")
    async def status() -> Any:
        if (refusal := await listener_refusal()) is not None:
            return refusal
        return await full_status()

    @app.get("/activity/episodes")
    async def activity_episodes() -> Any:
        if (refusal := await listener_refusal()) is not None:
            return refusal
        try:
            before, limit = parse_episode_page(request.args.get("before"),
                                               request.args.get("limit"))
        except BadRequestError as exc:
            return _error(400, str(exc))
        return await station.episodes(before, limit)

    @app.get("/metrics")
    async def metrics() -> Any:
        if (refusal := await listener_refusal()) is not None:
            return refusal
        text = render_metrics(await full_status(), station.health()[0])
        return text, 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}

    @app.get("/healthz")
    async def healthz() -> Any:
        ok, reason = station.health()
        return {"ok": ok, "reason": reason}, 200 if ok else 503

    if archive is not None:
        archive.add_to(app, listener_refusal, _error)

    # Listeners' streams go straight to their connections where Hypercorn allows
    # (hypercorn_internals.py).
    wrapped = with_transports(app.asgi_app, frozenset({"/audio/stream", "/archive/download"}))
    app.asgi_app = wrapped  # type: ignore[method-assign]
    return app
