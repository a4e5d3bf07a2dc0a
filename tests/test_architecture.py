"""The layers check themselves: what each folder of the package may import, and how long a
file may grow. A rule is per folder, so a new module is checked the day it is added."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "broadcaster"
MAX_LINES = 400

# Outside libraries that do I/O, run threads or an event loop.
IO = {"asyncio", "threading", "socket", "subprocess", "os", "time", "select", "signal", "nats",
      "ctypes", "fcntl", "multiprocessing", "pyaudio", "opuslib", "quart", "hypercorn", "h11",
      "h2", "werkzeug", "cryptography", "ifaddr", "segno"}
SERVING = {"quart", "hypercorn", "h11", "h2", "werkzeug"}
AUDIO_LIBS = {"pyaudio", "opuslib"}

# Each folder: the package's folders (and top-level modules) it may import, and the outside
# modules it must not. The wiring on top (cli, server, station) may import everything.
LAYERS: dict[str, tuple[set[str], set[str]]] = {
    # Pure and sans-IO: formats, maths and bookkeeping, unit-tested without threads or sockets.
    "core": ({"core"}, IO),
    # The capture side: devices, sources, the capture thread, the encoder. Knows no listener.
    "audio": ({"core", "audio", "config"}, SERVING),
    # The fan-out to listeners: knows no device, no HTTP framework, no process.
    "stream": ({"core", "stream", "config"}, SERVING | AUDIO_LIBS | {"threading"}),
    # The broadcast kept on disk: the recorder's thread, the files, replay and downloads.
    # Knows no device, no HTTP framework, no listener's connection.
    "archive": ({"core", "archive", "config"}, SERVING | AUDIO_LIBS),
    # HTTP: the app and everything that touches Hypercorn. Knows no device.
    "web": ({"core", "stream", "web", "archive", "ops", "config"}, AUDIO_LIBS | {"threading"}),
    # Worker processes and machines beyond this one: they never load the capture stack.
    "workers": ({"core", "stream", "web", "workers", "ops", "config", "config_file"}, AUDIO_LIBS),
    # Hooks: what the broadcast tells other systems (a webhook, home automation).
    "hooks": ({"core", "hooks", "config"}, AUDIO_LIBS | SERVING | {"threading"}),
    # Operations: diagnosis, sockets and TLS, addresses, the service manager, reloads.
    "ops": ({"core", "audio", "ops", "config"}, SERVING),
}
# Top-level modules that are not wiring: config is pure and everything reads it.
TOP_LEVEL_RULES = {"config.py": ({"core", "config"}, IO), "config_file.py": ({"config"}, IO)}


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(outside top-level modules, the package's folders or top-level modules) that the
    file imports, at any depth (imports inside functions count too)."""
    outside: set[str] = set()
    inside: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "broadcaster":
                if len(parts) > 1:
                    inside.add(parts[1])
            else:
                outside.add(parts[0])
    return outside, inside


def rule_for(path: Path, package: Path) -> tuple[set[str], set[str]] | None:
    relative = path.relative_to(package)
    if len(relative.parts) == 1:
        return TOP_LEVEL_RULES.get(relative.name)
    return LAYERS[relative.parts[0]]


def broken_rules(package: Path) -> list[str]:
    """Every import in `package` that a rule forbids, as `file: what`."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        rule = rule_for(path, package)
        if rule is None:
            continue
        allowed, forbidden = rule
        outside, inside = imports_of(path)
        name = path.relative_to(package)
        problems += [f"{name} imports {module}" for module in sorted(outside & forbidden)]
        problems += [f"{name} imports broadcaster.{layer}"
                     for layer in sorted(inside - allowed - {"__init__"})]
    return problems


def test_every_folder_is_a_known_layer() -> None:
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders <= set(LAYERS) | {"listener_web"}, folders - set(LAYERS)



def test_each_layer_imports_only_what_its_rule_allows() -> None:
    assert broken_rules(PACKAGE) == []


@pytest.mark.parametrize(("layer", "line", "expected"), [
    ("core", "import asyncio\n", "core/bad.py imports asyncio"),
    ("core", "from broadcaster.audio import capture\n", "core/bad.py imports broadcaster.audio"),
    ("stream", "def f():\n    import pyaudio\n", "stream/bad.py imports pyaudio"),
    ("web", "from broadcaster.audio.devices import PortAudio\n",
     "web/bad.py imports broadcaster.audio"),
    ("workers", "import broadcaster.station\n", "workers/bad.py imports broadcaster.station"),
])
def test_a_broken_rule_is_caught(tmp_path: Path, layer: str, line: str, expected: str) -> None:
    (tmp_path / layer).mkdir()
    (tmp_path / layer / "bad.py").write_text(line)
    assert broken_rules(tmp_path) == [expected]


def source_files() -> list[Path]:
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
             *(ROOT / "tests").rglob("*.mjs"), *(ROOT / "bench").rglob("*.py")]
    files += [p for p in (ROOT / "listener_web").rglob("*")
              if p.suffix in (".js", ".mjs", ".css", ".html")]
    return [p for p in files if "node_modules" not in p.parts]


def test_every_file_stays_small() -> None:
    long = {str(p.relative_to(ROOT)): n for p in source_files()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"over {MAX_LINES} lines: {long}"


def test_every_folder_of_the_package_is_installed() -> None:
    """pyproject.toml lists the packages by hand: a new folder left out would be missing from
    an installed broadcaster (the service), though every test from the checkout passes."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    folders = {".".join(path.parent.relative_to(ROOT).parts)
               for path in PACKAGE.rglob("__init__.py")}
    assert folders - listed == set()
