"""Where the broadcaster keeps what it makes: its state directory (the self-signed
certificate, the archive)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from broadcaster.config import Config


def state_directory(configured: str, environ: Mapping[str, str], home: Path) -> Path:
    """Where the self-signed pair is kept: `tls.state_dir`, else systemd's StateDirectory=,
    else the XDG state directory."""
    if configured:
        return Path(configured).expanduser()
    if environ.get("STATE_DIRECTORY"):
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    xdg = environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg.startswith("/") else home / ".local" / "state"
    return base / "broadcaster"


def archive_folder(config: Config) -> Path:
    """Where the archive is kept: `archive.dir`, else `archive` in the state directory."""
    if config.archive.dir:
        return Path(config.archive.dir).expanduser()
    return state_directory(config.tls.state_dir, os.environ, Path.home()) / "archive"
