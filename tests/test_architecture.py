"""The pure core stays pure: no event loop, threads, sockets or audio libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "broadcaster"
PURE = ["ring.py", "feed.py", "stride.py", "metrics.py", "limits.py", "sse.py", "wire.py",
        "reblock.py", "standing.py", "source_spec.py", "config.py", "sources/pacer.py"]
FORBIDDEN = {"asyncio", "threading", "socket", "pyaudio", "opuslib", "quart", "hypercorn",
             "time", "os", "subprocess"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_core_imports_no_io(module: str) -> None:
    assert imported_modules(PACKAGE / module) & FORBIDDEN == set()


def test_every_module_stays_small() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, f"{path.name} is over 400 lines"
