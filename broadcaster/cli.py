"""The `broadcaster` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from broadcaster.config import Config, ConfigError, load_config, with_overrides
from broadcaster.devices import PortAudio
from broadcaster.encoder import EncoderError
from broadcaster.sources import SourceError

logger = logging.getLogger("broadcaster")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests)."""
    parser = argparse.ArgumentParser(
        prog="broadcaster",
        description="Capture a microphone and stream it live to browsers (Opus over SSE).")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML config file")
    parser.add_argument("--source", metavar="SPEC",
                        help="auto | mic | mic:NAME|INDEX | tone | tone:HZ | file:PATH")
    parser.add_argument("--host", metavar="H", help="address to listen on")
    parser.add_argument("--port", type=int, metavar="P", help="port to listen on")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--list-devices", action="store_true",
                        help="list input devices and exit")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """The config file (or defaults) with command-line flags on top."""
    config = load_config(args.config)
    overrides: dict[str, object] = {}
    for flag, key in (("source", "source.spec"), ("host", "server.host"),
                      ("port", "server.port"), ("log_level", "logging.level")):
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    return with_overrides(config, overrides)


def list_devices() -> int:
    """Print the input devices PortAudio sees."""
    with PortAudio() as pa:
        devices = pa.input_devices()
    if not devices:
        print("no input devices found: `auto` will broadcast the built-in test tone")
        return 0
    for device in devices:
        print(device.describe())
    default = [d for d in devices if d.is_default]
    print("`auto` uses " + (default[0].describe() if default else "the test tone (no default "
                            "input device)"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"broadcaster: config error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.logging.level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.list_devices:
            return list_devices()
        from broadcaster.server import run  # keeps --help/config checks light

        asyncio.run(run(config, reload_config=lambda: config_from_args(args)))
    except (SourceError, EncoderError, FileNotFoundError) as exc:
        logger.error("%s", exc)
        return 1
    except OSError as exc:  # e.g. the port is taken
        logger.error("cannot serve on %s:%d: %s", config.server.host, config.server.port, exc)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
