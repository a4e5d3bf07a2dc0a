"""systemd's notify protocol over $NOTIFY_SOCKET (READY, STATUS, WATCHDOG, STOPPING).

Everything here is a no-op when the service manager did not ask for notifications, and a
failed send is logged, never raised: notifications must not take the broadcast down.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

logger = logging.getLogger(__name__)


def format_message(fields: Mapping[str, str]) -> bytes:
    """`KEY=value` lines as sd_notify expects them; values must be one line."""
    lines = []
    for key, value in fields.items():
        if not key or not key.isupper() or "=" in key:
            raise ValueError(f"bad notify key {key!r}")
        if "\n" in value:
            raise ValueError(f"notify value for {key} must be one line, got {value!r}")
        lines.append(f"{key}={value}")
    return "\n".join(lines).encode()


def socket_address(value: str) -> str | None:
    """The address in $NOTIFY_SOCKET: a path, or `@name` for the abstract namespace."""
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # vsock and other forms are not used for services


def watchdog_interval_s(env: Mapping[str, str], pid: int) -> float | None:
    """How often to ping: half of $WATCHDOG_USEC, when the watchdog is meant for this pid."""
    usec = env.get("WATCHDOG_USEC", "")
    owner = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (owner and owner != str(pid)):
        return None
    return int(usec) / 1e6 / 2


class Notifier:
    """Sends notifications to the service manager, if there is one."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self._address = socket_address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = (watchdog_interval_s(env, os.getpid())
                                    if self._address else None)
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens."""
        return self._address is not None

    def send(self, **fields: str) -> None:
        """Send one notification (e.g. `send(READY="1", STATUS="live")`)."""
        if self._address is None:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(format_message(fields), self._address)
        except OSError as exc:
            logger.warning("cannot notify the service manager: %s", exc)

    def close(self) -> None:
        """Release the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
