"""The HTTP API (Quart): the listener page, the SSE stream, control and status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from quart import Quart, Response, jsonify, request, send_from_directory

from broadcaster.station import CaptureBusyError, Station

logger = logging.getLogger(__name__)

MAX_ID_DIGITS = 18
STREAM_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "Content-Type": "text/event-stream; charset=utf-8",
}


class BadRequestError(ValueError):
    """A request parameter that cannot be used; answered with 400."""


def parse_last_id(header: str | None, query: str | None) -> int | None:
    """The resume point from `Last-Event-ID` (wins) or `?last_id=`; None when absent."""
    for name, raw in (("Last-Event-ID", header), ("last_id", query)):
        if raw is None or raw.strip() == "":
            continue
        text = raw.strip()
        if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
            raise BadRequestError(f"{name} must be a non-negative integer event id, "
                                  f"got {raw[:40]!r}")
        return int(text)
    return None


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def create_app(station: Station, web_root: Path) -> Quart:
    """Build the app around a running station; `web_root` holds the listener page."""
    app = Quart(__name__, static_folder=str(web_root), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024

    @app.get("/")
    async def index() -> Response:
        response = await send_from_directory(web_root, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    async def control(action: Callable[[], Awaitable[None]]) -> Any:
        try:
            await action()
        except CaptureBusyError as exc:
            return _error(503, str(exc))
        return {"state": station.state, "source": station.source_name}

    @app.post("/audio/start")
    async def audio_start() -> Any:
        return await control(station.start)

    @app.post("/audio/stop")
    async def audio_stop() -> Any:
        return await control(station.stop)

    @app.get("/audio/stream")
    async def audio_stream() -> Any:
        try:
            last_id = parse_last_id(request.headers.get("Last-Event-ID"),
                                    request.args.get("last_id"))
        except BadRequestError as exc:
            return _error(400, str(exc))
        if station.state == "shutdown":
            return _error(503, "the broadcaster is shutting down")
        response = Response(station.listen(last_id), status=200, headers=STREAM_HEADERS)
        response.timeout = None  # Quart would otherwise end the endless stream after 60 s
        return response

    @app.get("/status")
    async def status() -> Any:
        return station.status()

    @app.get("/healthz")
    async def healthz() -> Any:
        ok, reason = station.health()
        return {"ok": ok, "reason": reason}, 200 if ok else 503

    return app
