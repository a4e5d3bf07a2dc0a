"""The config file: TOML read into the typed sections of config.py, every key checked, an
unknown one refused with a did-you-mean, and dotted overrides from the command line."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from broadcaster.config import Config, ConfigError

_SECTIONS: dict[str, type[Any]] = {f.name: f.default_factory for f in fields(Config)}  # type: ignore[misc]


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(key: str, type_name: str, value: object) -> object:
    """Check a TOML value against a field's declared type; ints are accepted as floats."""
    if type_name == "bool":
        ok = isinstance(value, bool)
    elif type_name == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_name == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value  # type: ignore[arg-type]
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{key} = {value!r} is invalid: expected a {type_name}")
    return value


def _build_section(name: str, table: object) -> Any:
    cls = _SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table of keys, got {table!r}")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"unknown key {name}.{key}{_did_you_mean(key, list(known))}")
        values[key] = _coerce(f"{name}.{key}", str(known[key].type), value)
    return cls(**values)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Build a validated Config from parsed TOML (a dict of section tables)."""
    sections: dict[str, Any] = {}
    for name, table in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"unknown section [{name}]{_did_you_mean(name, list(_SECTIONS))}")
        sections[name] = _build_section(name, table)
    return Config(**sections)


def load_config(path: Path | None) -> Config:
    """Load a TOML config file; None gives the defaults."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    return config_from_dict(data)


def with_overrides(config: Config, overrides: dict[str, object]) -> Config:
    """Return config with dotted keys ("server.port") replaced, validated like the file."""
    for dotted, value in overrides.items():
        section_name, _, key = dotted.partition(".")
        section = getattr(config, section_name)
        merged = {f.name: getattr(section, f.name) for f in fields(section)} | {key: value}
        config = replace(config, **{section_name: _build_section(section_name, merged)})
    return config
