"""README's configuration table against the keys and defaults the program really accepts."""

from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, fields
from pathlib import Path

from broadcaster.config import Config
from broadcaster.config_file import config_from_dict
from tests.conftest import ROOT

README = ROOT / "README.md"
CONFIG_FILE = ROOT / "configs" / "broadcaster.toml"
# | `section.key` | `default` | meaning |
ROW = re.compile(r"^\| `(?P<key>[a-z_]+\.[a-z_]+)` \| `(?P<default>[^`]*)` \| (?P<meaning>.+) \|$")


def code_defaults() -> dict[str, object]:
    """Every key the config accepts ("section.key"), with its default, from the dataclasses."""
    keys: dict[str, object] = {}
    for section in fields(Config):
        for key in fields(getattr(Config(), section.name)):
            assert key.default is not MISSING, f"{section.name}.{key.name} has no plain default"
            keys[f"{section.name}.{key.name}"] = key.default
    return keys


def readme_section(title: str, text: str | None = None) -> str:
    """The text of README's `## title` section."""
    text = README.read_text(encoding="utf-8") if text is None else text
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def table_rows(section: str) -> dict[str, tuple[object, str]]:
    """{key: (default as TOML, meaning)} of the table rows naming a `section.key`."""
    rows: dict[str, tuple[object, str]] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if not match:
            assert not line.startswith("| `"), f"a table row not in the expected shape: {line}"
            continue
        key = match["key"]
        assert key not in rows, f"{key} is listed twice"
        try:
            default = tomllib.loads(f"v = {match['default']}")["v"]
        except tomllib.TOMLDecodeError as exc:
            raise AssertionError(f"{key}: default {match['default']!r} is not TOML") from exc
        rows[key] = (default, match["meaning"].strip())
    return rows


def same(a: object, b: object) -> bool:
    """Equal and of the same type (20 is not 20.0, 1 is not true)."""
    return type(a) is type(b) and a == b


def table_problems(rows: dict[str, tuple[object, str]]) -> list[str]:
    """How a parsed table differs from the keys and defaults in the code; empty when it does
    not."""
    expected = code_defaults()
    problems = [f"{key} is missing" for key in expected if key not in rows]
    problems += [f"{key} is not a key the program accepts" for key in rows
                 if key not in expected]
    problems += [f"{key} defaults to {default!r}, not {rows[key][0]!r}"
                 for key, default in expected.items()
                 if key in rows and not same(rows[key][0], default)]
    problems += [f"{key} says nothing" for key, (_, meaning) in rows.items() if not meaning]
    return problems


def test_readme_lists_every_config_key_with_its_default() -> None:
    rows = table_rows(readme_section("Configuration"))
    assert table_problems(rows) == [], "README's Configuration table is out of date"


def test_readme_table_is_what_the_program_accepts() -> None:
    # Read back as a config file, the table gives exactly the defaults.
    data: dict[str, dict[str, object]] = {}
    for key, (default, _) in table_rows(readme_section("Configuration")).items():
        section, _, name = key.partition(".")
        data.setdefault(section, {})[name] = default
    assert config_from_dict(data) == Config()


def test_shipped_config_file_has_the_same_keys_and_defaults() -> None:
    data = tomllib.loads(CONFIG_FILE.read_text(encoding="utf-8"))
    listed = {f"{section}.{key}": value for section, table in data.items()
              for key, value in table.items()}
    expected = code_defaults()
    assert sorted(listed) == sorted(expected)
    assert {k: v for k, v in listed.items() if not same(v, expected[k])} == {}


def test_a_table_that_drifted_from_the_code_is_caught() -> None:
    rows = table_rows(readme_section("Configuration"))
    del rows["server.port"]
    rows["server.colour"] = ("red", "not a key")
    rows["audio.frame_ms"] = (20, "an int where the code has a float")
    assert table_problems(rows) == [
        "server.port is missing",
        "server.colour is not a key the program accepts",
        "audio.frame_ms defaults to 20.0, not 20",
    ]


def test_readme_opens_with_the_screenshot_and_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    screenshot = text.index("![The listener page](docs/screenshot.png)")
    assert screenshot < text.index("## The two commands")
    commands = readme_section("The two commands")
    assert "./scripts/run.sh" in commands and "./scripts/test.sh" in commands
    assert "(docs/protocol.md)" in text[:screenshot + 400]
    for title in ("Raspberry Pi quick start", "Troubleshooting"):
        readme_section(title)
    assert Path(ROOT / "docs" / "screenshot.png").is_file()
    # The other engines' screenshots (tests/page/test_phone_layout.py takes them).
    for engine in ("firefox", "webkit"):
        assert f"](docs/screenshot-{engine}.png)" in text
        assert Path(ROOT / "docs" / f"screenshot-{engine}.png").is_file()
