"""A connection to the engine between machines (NATS), as the config says: its servers,
TLS and credentials (read from files, never logged), reconnecting by itself; and the first
connection retried with back-off, so an engine that is away at start is waited for."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from broadcaster.config import EngineConfig
from broadcaster.core.engine import EngineAddress

if TYPE_CHECKING:
    from nats.aio.client import Client

logger = logging.getLogger(__name__)

RECONNECT_WAIT_S = 0.25  # edges are back within 2 s of the engine
PING_INTERVAL_S = 2  # a silently dead server is noticed within about 3 pings
FIRST_RETRY_S, MAX_RETRY_S = 0.5, 10.0


class EngineSetupError(RuntimeError):
    """A credential or TLS file of [engine] that cannot be used (names the key)."""


def _read(key: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise EngineSetupError(f"cannot read engine.{key} ({exc.strerror or exc})") from None


def connect_options(engine: EngineConfig, address: EngineAddress, name: str,
                    ) -> dict[str, Any]:
    """nats.connect's keywords for this node. Raises EngineSetupError."""
    options: dict[str, Any] = {
        "servers": list(address.servers), "name": name, "allow_reconnect": True,
        "max_reconnect_attempts": -1, "reconnect_time_wait": RECONNECT_WAIT_S,
        "ping_interval": PING_INTERVAL_S, "max_outstanding_pings": 2,
        "connect_timeout": 2, "dont_randomize": False}
    if engine.creds_file:
        if not Path(engine.creds_file).is_file():
            raise EngineSetupError(f"engine.creds_file {engine.creds_file} is not a file")
        options["user_credentials"] = engine.creds_file
    if engine.user:
        options["user"] = engine.user
        options["password"] = _read("password_file", engine.password_file)
    if address.tls or engine.tls_ca_file or engine.tls_cert_file:
        try:
            context = ssl.create_default_context(cafile=engine.tls_ca_file or None)
            if engine.tls_cert_file:
                context.load_cert_chain(engine.tls_cert_file, engine.tls_key_file)
        except (OSError, ssl.SSLError) as exc:
            raise EngineSetupError(f"the engine's TLS files (engine.tls_*) cannot be used: "
                                   f"{exc}") from None
        options["tls"] = context
    return options


def _quiet_errors(what: str) -> Callable[[Exception], Awaitable[None]]:
    """Log the client's errors, each only when it differs from the one before (a server
    that is away fails every reconnection the same way)."""
    last = [""]

    async def on_error(exc: Exception) -> None:
        text = str(exc) or type(exc).__name__
        if text != last[0]:
            last[0] = text
            logger.warning("%s: engine: %s", what, text)
    return on_error


async def connect(engine: EngineConfig, address: EngineAddress, name: str,
                  on_change: Callable[[bool], None] = lambda _: None) -> Client:
    """Connect, retrying with back-off until it works (never gives up: cancel to stop).
    `on_change(connected)` hears every disconnection and reconnection."""
    import nats  # only on a node that uses the engine

    options = connect_options(engine, address, name)

    async def disconnected() -> None:
        on_change(False)

    async def reconnected() -> None:
        logger.info("%s: engine connection back", name)
        on_change(True)

    delay = FIRST_RETRY_S
    while True:
        try:
            # One try per server here (the back-off is ours); once connected, the client
            # reconnects by itself, forever.
            client = await nats.connect(**(options | {"max_reconnect_attempts": 1}),
                                        error_cb=_quiet_errors(name),
                                        disconnected_cb=disconnected,
                                        reconnected_cb=reconnected)
            client.options["max_reconnect_attempts"] = -1
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            logger.warning("%s: the engine at %s is not reachable (%s); trying again in "
                           "%g s", name, ",".join(address.servers),
                           exc or type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(MAX_RETRY_S, delay * 2)
            continue
        logger.info("%s: connected to the engine at %s", name, client.connected_url.netloc
                    if client.connected_url else "?")
        on_change(True)
        return client
