"""The `broadcaster` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from broadcaster.audio import preflight
from broadcaster.audio.devices import PortAudio, describe_auto
from broadcaster.audio.encoder import EncoderError
from broadcaster.audio.sources import SourceError
from broadcaster.config import Config, ConfigError
from broadcaster.config_file import load_config, with_overrides

logger = logging.getLogger("broadcaster")


def _add_config_flags(parser: argparse.ArgumentParser, host_help: str, port_help: str,
                      ) -> None:
    """The flags both command lines take, which `config_from_args` reads."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML config file")
    parser.add_argument("--source", metavar="SPEC",
                        help="auto | mic | mic:NAME|INDEX | tone | tone:HZ | file:PATH | "
                             "nats://HOST:PORT/STATION (an edge)")
    parser.add_argument("--host", metavar="H", help=host_help)
    parser.add_argument("--port", type=int, metavar="P", help=port_help)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests)."""
    parser = argparse.ArgumentParser(
        prog="broadcaster",
        description="Capture a microphone and stream it live to browsers (Opus over SSE).",
        epilog="`broadcaster doctor` checks the microphone, the libraries and the port, and "
               "says how to fix what would not work.")
    _add_config_flags(parser, "address to listen on", "port to listen on")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--list-devices", action="store_true",
                        help="list input devices and exit")
    return parser


def build_doctor_parser() -> argparse.ArgumentParser:
    """The parser of `broadcaster doctor` (exposed for tests)."""
    parser = argparse.ArgumentParser(
        prog="broadcaster doctor",
        description="Check that broadcasting would work: audio libraries, input devices, "
                    "the configured device and its level, libopus, the port and the config. "
                    "Exits 0 only when broadcasting would work.")
    _add_config_flags(parser, "address to check the port on", "port to check")
    parser.add_argument("--seconds", type=_seconds, default=3.0, metavar="S",
                        help="how long to measure the microphone's level (default 3)")
    parser.set_defaults(log_level=None)
    return parser


def _seconds(text: str) -> float:
    value = float(text)
    if not 0.1 <= value <= 60.0:
        raise argparse.ArgumentTypeError(f"{text} is not from 0.1 to 60 seconds")
    return value


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
        print("no input devices found")
    for device in devices:
        print(device.describe())
    print(describe_auto(devices))
    return 0


def doctor(argv: list[str]) -> int:
    """`broadcaster doctor`: run the checks and print the report."""
    from broadcaster.ops.doctor import diagnose

    args = build_doctor_parser().parse_args(argv)
    # Only warnings: the report is the output; info logs (the mic opening) would clutter it.
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    origin = f"the config file {args.config}" if args.config else "the defaults (no --config)"
    flags_only = argparse.Namespace(**(vars(args) | {"config": None}))
    return diagnose(lambda: config_from_args(args), lambda: config_from_args(flags_only),
                    origin, args.seconds, sys.stdout)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["doctor"]:
        return doctor(argv[1:])
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
        if config.source.source.kind in ("auto", "mic"):
            preflight.begin()  # PortAudio's trial start runs while the server's modules load
        from broadcaster.ops.tls import TlsError
        from broadcaster.server import run  # keeps --help/config checks light
        from broadcaster.workers.engine_link import EngineSetupError

        try:
            asyncio.run(run(config, reload_config=lambda: config_from_args(args)))
        except TlsError as exc:
            logger.error("%s", exc)
            return 1
        except EngineSetupError as exc:
            logger.error("%s", exc)
            return 2
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
