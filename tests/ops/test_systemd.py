"""The systemd unit and its install script, checked with systemd's own tools and run for
real into a throwaway root."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, start_broadcaster
from tests.support.sse_client import receive

UNIT = ROOT / "systemd" / "broadcaster.service"


def test_unit_verifies(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at a real program for the check
    unit = tmp_path / "broadcaster.service"
    unit.write_text(UNIT.read_text().replace("/opt/broadcaster/venv/bin/broadcaster",
                                             sys.executable))
    # --man=no: Documentation=man:... must not need man-db and the manual pages installed
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "broadcaster.service" not in result.stderr, result.stderr


def test_security_exposure_is_at_most_the_readme_figure() -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                            capture_output=True, text=True, timeout=60)
    measured = float(re.findall(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)[0])
    readme = (ROOT / "README.md").read_text()
    promised = float(re.findall(r"exposure level of ([\d.]+)", readme)[0])
    assert measured <= promised, f"exposure {measured} > {promised} promised in the README"
    assert promised <= 3.9  # "OK" or better


def make_root(path: Path) -> Path:
    """A throwaway root with just enough of /etc for useradd and systemctl --root."""
    etc = path / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\naudio:x:29:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\naudio:*::\n")
    return path


def manifest(root: Path) -> list[tuple[str, int, int, float]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_mode, p.lstat().st_size,
                   p.lstat().st_mtime) for p in root.rglob("*"))


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "systemd" / script), *args],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(shutil.which("useradd") is None or shutil.which("systemctl") is None,
                    reason="needs useradd and systemctl (scripts/setup.sh --dev installs them)")
def test_install_into_a_root_twice_changes_nothing_and_keeps_the_users_config(
    tmp_path: Path,
) -> None:
    root = make_root(tmp_path / "root")
    config = root / "etc" / "broadcaster" / "broadcaster.toml"
    config.parent.mkdir(parents=True)
    config.write_text('# mine\n[source]\nspec = "tone:300"\n')

    first = run("install.sh", "--root", str(root))
    assert first.returncode == 0, first.stderr
    assert config.read_text() == '# mine\n[source]\nspec = "tone:300"\n'
    assert (root / "etc/systemd/system/broadcaster.service").read_text() == UNIT.read_text()
    assert (root / "etc/systemd/system/multi-user.target.wants/broadcaster.service").is_symlink()
    assert "BROADCASTER_ARGS" in (root / "etc/default/broadcaster").read_text()
    passwd = (root / "etc/passwd").read_text()
    assert re.search(r"^broadcaster:x:\d+:\d+:[^:]*:/var/lib/broadcaster:/usr/sbin/nologin$",
                     passwd, re.M)
    assert re.search(r"^audio:x:29:broadcaster$", (root / "etc/group").read_text(), re.M)

    before = manifest(root)
    second = run("install.sh", "--root", str(root))
    assert second.returncode == 0, second.stderr
    assert manifest(root) == before, "a second install changed files"

    # the installed package is complete: it serves the page from its own package data
    program = root / "opt/broadcaster/venv/bin/broadcaster"
    proc = start_broadcaster(tmp_path, "--source", "tone", program=[str(program)])
    try:
        assert "/static/ui/app.js" in httpx.get(proc.url + "/", timeout=5).text
        assert httpx.get(proc.url + "/static/worklet/worklet.js", timeout=5).status_code == 200
        # and the WebAssembly Opus decoder install.sh put beside it in the virtualenv
        vendor = httpx.get(proc.url + "/vendor/opus-decoder/opus-decoder.min.js", timeout=5)
        assert vendor.status_code == 200 and b"OpusDecoder" in vendor.content
    finally:
        assert proc.stop() == 0, proc.log()

    kept = run("uninstall.sh", "--root", str(root))
    assert kept.returncode == 0, kept.stderr
    assert not (root / "opt/broadcaster").exists()
    assert not (root / "etc/systemd/system/broadcaster.service").exists()
    assert config.exists() and "broadcaster:" in (root / "etc/passwd").read_text()
    purged = run("uninstall.sh", "--root", str(root), "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not config.exists() and "broadcaster:" not in (root / "etc/passwd").read_text()


def test_install_refuses_unknown_arguments() -> None:
    result = run("install.sh", "--frobnicate")
    assert result.returncode == 2
    assert "unknown argument --frobnicate" in result.stderr


MDWE_WRAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1  # Linux 6.3+; kept across execve
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit(77)
os.execv(sys.argv[1], sys.argv[1:])
"""


def test_runs_without_writable_executable_memory(tmp_path: Path) -> None:
    """What MemoryDenyWriteExecute=yes asks of the program: libopus, PortAudio and the
    ctypes callback that quiets ALSA all work when W+X memory is refused."""
    wrapper = [sys.executable, "-c", MDWE_WRAPPER, sys.executable]
    probe = subprocess.run([*wrapper, "-c", "import mmap; mmap.mmap(-1, 4096, prot=7)"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
    assert "Permission denied" in probe.stderr, "W+X memory was not refused: the check is void"
    proc = start_broadcaster(tmp_path, program=[*wrapper, "-m", "broadcaster"])  # auto: PortAudio
    try:
        got = receive(proc.url + "/audio/stream", frames=10)
        assert len(got.packets) == 10 and got.config["source"] == "tone:440"
    finally:
        assert proc.stop() == 0, proc.log()
