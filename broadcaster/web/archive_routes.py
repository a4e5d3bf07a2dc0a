"""The archive over HTTP: what it holds, its sound levels over time, a span as an Ogg Opus
download, and the streams that start in the past (see docs/protocol.md, "The archive")."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from quart import Quart, Response, request

from broadcaster.archive.download import ogg_span
from broadcaster.archive.replay import LEAD_MS, Archive, replay, resume
from broadcaster.archive.store import ArchiveStore
from broadcaster.config import Config
from broadcaster.core.wire import config_event
from broadcaster.ops.state_dir import archive_folder
from broadcaster.stream.hello import hello_payload
from broadcaster.web.broadcast import Broadcast
from broadcaster.web.hypercorn_internals import widen_send_buffer

MAX_MS_DIGITS = 15  # Unix time in ms until the year 33658
MAX_POINTS = 2000
DEFAULT_POINTS = 600
DOWNLOAD_SEND_BUFFER_BYTES = 1 << 20
Refusal = Callable[[], Awaitable[Any]]


class ArchiveQueryError(ValueError):
    """A query the archive cannot answer; `status` is the HTTP status (400 or 404)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _number(args: Mapping[str, str], name: str, digits: int = MAX_MS_DIGITS) -> int | None:
    raw = args.get(name)
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > digits:
        raise ArchiveQueryError(f"{name} must be a whole non-negative number"
                                f"{' of ms' if name.endswith('_ms') else ''}, "
                                f"got {raw[:40]!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class Span:
    """A span of capture times, within what the archive holds."""

    from_ms: float
    to_ms: float


def parse_span(args: Mapping[str, str], held: Span, keep_s: float) -> Span:
    """`from_ms`/`to_ms` (Unix ms of capture), or `last_s` (the newest seconds); the
    archive's whole span by default. Reversed or outside what is held: ArchiveQueryError."""
    last_s = _number(args, "last_s", 9)
    start, end = _number(args, "from_ms"), _number(args, "to_ms")
    if last_s is not None:
        if start is not None or end is not None:
            raise ArchiveQueryError("give last_s, or from_ms and to_ms, not both")
        if not 1 <= last_s <= keep_s:
            raise ArchiveQueryError(f"last_s must be from 1 to {keep_s:.0f} (the archive's "
                                    f"retention), got {last_s}")
        return Span(max(held.from_ms, held.to_ms - last_s * 1000.0), held.to_ms)
    span = Span(held.from_ms if start is None else start, held.to_ms if end is None else end)
    if span.to_ms <= span.from_ms:
        raise ArchiveQueryError(f"to_ms ({span.to_ms:.0f}) must be after from_ms "
                                f"({span.from_ms:.0f})")
    if span.to_ms <= held.from_ms or span.from_ms >= held.to_ms:
        raise ArchiveQueryError(f"the archive holds audio captured from {held.from_ms:.0f} to "
                                f"{held.to_ms:.0f} (Unix ms), not from {span.from_ms:.0f} to "
                                f"{span.to_ms:.0f}", 404)
    return Span(max(span.from_ms, held.from_ms), min(span.to_ms, held.to_ms))


def held_span(store: ArchiveStore) -> Span:
    """What the archive holds; ArchiveQueryError (404) when it holds nothing yet."""
    summary = store.summary()
    if summary["from_ms"] is None:
        raise ArchiveQueryError("the archive holds nothing yet", 404)
    return Span(float(summary["from_ms"]), float(summary["to_ms"]))  # type: ignore[arg-type]


def _local_name(capture_ms: float) -> str:
    return time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(capture_ms / 1000))


class ArchiveRoutes:
    """The archive's endpoints, and the streams of /audio/stream that start in the past."""

    def __init__(self, station: Broadcast, archive: Archive | None, off_reason: str,
                 keep_s: float) -> None:
        self.station, self.archive = station, archive
        self.off_reason, self.keep_s = off_reason, keep_s

    def _archive(self) -> Archive:
        if self.archive is None:
            raise ArchiveQueryError(f"this broadcaster keeps no archive: {self.off_reason}",
                                    404)
        return self.archive

    async def summary(self) -> dict[str, Any]:
        """GET /archive."""
        if self.archive is None:
            return {"enabled": False, "reason": self.off_reason}
        store = await self.archive.refresh()
        return {"enabled": True, "reason": None, **store.summary()}

    async def levels(self, args: Mapping[str, str]) -> dict[str, Any]:
        """GET /archive/levels: the loudest level per step, for the page's timeline."""
        store = await self._archive().refresh()
        span = parse_span(args, held_span(store), self.keep_s)
        points = _number(args, "points", 4)
        points = DEFAULT_POINTS if points is None else points
        if not 1 <= points <= MAX_POINTS:
            raise ArchiveQueryError(f"points must be from 1 to {MAX_POINTS}, got {points}")
        step_ms = max(1000.0, (span.to_ms - span.from_ms) / points)
        levels = await asyncio.to_thread(store.levels, span.from_ms, span.to_ms, step_ms)
        return {"from_ms": round(span.from_ms, 3), "to_ms": round(span.to_ms, 3),
                "step_ms": round(step_ms, 3),
                "levels": [None if level is None else round(level, 1) for level in levels]}

    async def download(self, args: Mapping[str, str]) -> Response:
        """GET /archive/download: a span as one Ogg Opus file, streamed."""
        archive = self._archive()
        store = await archive.refresh()
        span = parse_span(args, held_span(store), self.keep_s)
        # A segment's index may be read here the first time: off the event loop.
        first = await asyncio.to_thread(store.id_at, span.from_ms)
        last = await asyncio.to_thread(store.id_at, span.to_ms)
        end = store.end_id
        if first is None or end is None:
            raise ArchiveQueryError("the archive holds nothing in that span", 404)
        last = end - 1 if last is None else max(first, last - 1)
        body: AsyncIterator[bytes] = ogg_span(archive, first, last)
        name = f"broadcast_{_local_name(span.from_ms)}.opus"
        response = Response(body, status=200, headers={
            "Content-Type": "audio/ogg; codecs=opus",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store"})
        response.timeout = None
        widen_send_buffer(request.scope, DOWNLOAD_SEND_BUFFER_BYTES)
        return response

    async def stream(self, args: Mapping[str, str], last_id: int | None,
                     live: Callable[[int | None], AsyncIterator[bytes]]
                     ) -> AsyncIterator[bytes] | None:
        """A stream that starts in the archive: a replay (`from_ms`, `behind_ms`), or a
        resume from an id the live ring no longer holds; None: the live stream will do."""
        from_ms, behind_ms = _number(args, "from_ms"), _number(args, "behind_ms", 12)
        if from_ms is not None and behind_ms is not None:
            raise ArchiveQueryError("give from_ms or behind_ms, not both")
        epoch, oldest, next_id = self.station.ring_span()
        wants_replay = from_ms is not None or bool(behind_ms)
        if not wants_replay and (last_id is None or oldest <= last_id + 1 <= next_id
                                 or self.archive is None):
            return None
        archive = self._archive()
        store = await archive.refresh()
        config = self.station.config
        if wants_replay:
            now_ms = time.time() * 1000.0
            at_ms = float(from_ms) if from_ms is not None else now_ms - float(behind_ms or 0)
            if not 0 < now_ms - at_ms <= self.keep_s * 1000 + 60_000:
                raise ArchiveQueryError("a replay starts in the past, within the archive's "
                                        f"retention ({self.keep_s:.0f} s)")
            held = held_span(store)
            start = last_id + 1 if last_id is not None else await asyncio.to_thread(
                store.id_at, max(at_ms, held.from_ms))
            if start is None:
                return None  # newer than the archive has written: the live ring has it
            behind = round(now_ms - at_ms)
        else:
            assert last_id is not None
            first = store.first_id
            if first is None or last_id + 1 < first or (store.end_id or 0) <= last_id + 1:
                return None  # not in the archive either: the live stream says what is lost
            start, behind = last_id + 1, 0
        # A replay's frames come at their own pace after the first LEAD_MS: only those were
        # "captured before the connection" as the client counts its start burst.
        live_id = min(next_id, start + math.ceil(LEAD_MS / config.audio.frame_ms)) \
            if wants_replay else next_id
        payload = hello_payload(config, self.station.state, epoch=epoch, next_id=start,
                                live_id=live_id, server_ms=time.time() * 1000.0)
        payload["bundle_ms"] = 0
        payload["replay"] = {"behind_ms": behind} if wants_replay else None
        hello = config_event(payload, config.server.retry_ms)
        if wants_replay:
            return replay(archive, hello, start, config.server.heartbeat_s, live,
                          lambda: self.station.ring_span()[1])
        return resume(archive, hello, start, live)

    def add_to(self, app: Quart, refusal: Refusal,
               error_answer: Callable[[int, str], Any]) -> None:
        """Route GET /archive, /archive/levels and /archive/download (listen key needed)."""

        async def guarded(answer: Callable[[], Awaitable[Any]]) -> Any:
            if (refused := await refusal()) is not None:
                return refused
            try:
                return await answer()
            except ArchiveQueryError as exc:
                return error_answer(exc.status, str(exc))

        @app.get("/archive")
        async def archive_summary() -> Any:
            return await guarded(self.summary)

        @app.get("/archive/levels")
        async def archive_levels() -> Any:
            return await guarded(lambda: self.levels(request.args))

        @app.get("/archive/download")
        async def archive_download() -> Any:
            return await guarded(lambda: self.download(request.args))


def archive_routes(config: Config, station: Broadcast, reason: str) -> ArchiveRoutes:
    """The app's archive endpoints: reading the archive's folder (in any process), or
    saying why there is none."""
    archive = Archive(archive_folder(config)) if not reason else None
    return ArchiveRoutes(station, archive, reason, config.archive.keep_hours * 3600)
