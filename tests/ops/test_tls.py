"""HTTPS: the certificate, its pure parts (names, making one, when to renew), then the real
files it is kept in (made once, reused, replaced, or given in the config), and a broadcaster
with TLS off that never loads `cryptography`."""

from __future__ import annotations

import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from broadcaster.config import Config, TlsConfig
from broadcaster.core.state import BroadcastState
from broadcaster.ops.state_dir import state_directory
from broadcaster.ops.tls import (
    CERT_NAME,
    KEY_NAME,
    RENEW_BEFORE,
    TlsError,
    certificate_names,
    is_dns_name,
    names_of,
    prepare,
    renewal_reason,
    self_signed_pair,
)
from broadcaster.stream.hello import hello_payload
from tests.conftest import ROOT, free_port, no_device_env

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMES = ("localhost", "pi", "pi.local", "127.0.0.1", "192.168.1.20", "::1")


# ------------------------------------------------------------------------- pure parts

def test_the_names_cover_the_host_its_mdns_name_loopback_and_every_usable_address() -> None:
    addresses = ["127.0.0.1", "192.168.1.20", "172.17.0.1", "::1", "fe80::1", "2001:db8::5",
                 "169.254.3.4", "not an address"]
    assert certificate_names(addresses, "pi") == (
        "localhost", "pi", "pi.local",
        "127.0.0.1", "169.254.3.4", "172.17.0.1", "192.168.1.20", "::1", "2001:db8::5")
    assert certificate_names([], "Pi.example.org") == (
        "localhost", "pi", "pi.example.org", "pi.local", "127.0.0.1", "::1")
    # a name no certificate can carry is left out, not an error
    assert certificate_names([], "my_pi") == ("localhost", "127.0.0.1", "::1")


@pytest.mark.parametrize(("name", "ok"), [
    ("pi", True), ("pi.local", True), ("a-b.example.org", True), ("-pi", False),
    ("pi-", False), ("my_pi", False), ("pí", False), ("", False), ("a" * 64, False),
])
def test_dns_names_are_checked(name: str, ok: bool) -> None:
    assert is_dns_name(name) is ok


def test_a_self_signed_pair_is_a_server_certificate_for_exactly_the_names(
        tmp_path: Path) -> None:
    cert_pem, key_pem = self_signed_pair(NAMES, NOW, "broadcaster on pi")
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert names_of(cert) == set(NAMES)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usage
    assert cert.not_valid_before_utc < NOW
    assert timedelta(days=300) < cert.not_valid_after_utc - NOW <= timedelta(days=398)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == cert.public_key()
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
        tmp_path / "c.pem", tmp_path / "k.pem")


def test_a_kept_certificate_is_renewed_only_when_a_name_is_missing_or_it_expires() -> None:
    cert = x509.load_pem_x509_certificate(self_signed_pair(NAMES, NOW)[0])
    assert renewal_reason(cert, NAMES, NOW) is None
    assert renewal_reason(cert, NAMES[:3], NOW) is None  # an interface that is down
    reason = renewal_reason(cert, (*NAMES, "10.0.0.7"), NOW)
    assert reason == "it does not cover 10.0.0.7"
    soon = cert.not_valid_after_utc - RENEW_BEFORE + timedelta(hours=1)
    assert renewal_reason(cert, NAMES, soon) == (
        f"it expires on {cert.not_valid_after_utc:%Y-%m-%d}")


def test_the_state_directory_follows_the_config_then_systemd_then_xdg() -> None:
    home = Path("/home/u")
    assert state_directory("~/certs", {}, home) == Path("~/certs").expanduser()
    assert state_directory("/srv/b", {"STATE_DIRECTORY": "/var/lib/x"}, home) == Path("/srv/b")
    assert state_directory("", {"STATE_DIRECTORY": "/var/lib/broadcaster:/var/lib/other"},
                           home) == Path("/var/lib/broadcaster")
    assert state_directory("", {"XDG_STATE_HOME": "/xdg"}, home) == Path("/xdg/broadcaster")
    assert state_directory("", {}, home) == Path("/home/u/.local/state/broadcaster")


def test_the_config_event_names_the_https_port_or_null() -> None:
    def payload(config: Config) -> dict[str, object]:
        return hello_payload(config, BroadcastState("running", "tone:440"), epoch=1,
                             next_id=1, live_id=1, server_ms=0.0)

    assert payload(Config())["https_port"] is None
    assert payload(Config(tls=TlsConfig(port=8443)))["https_port"] == 8443


# ------------------------------------------------------------------------- the files

def test_a_self_signed_pair_is_made_once_then_reused(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "deeper"
    config = TlsConfig(port=8443, state_dir=str(folder))
    files = prepare(config, NAMES, NOW)
    assert (files.cert_file, files.key_file) == (folder / CERT_NAME, folder / KEY_NAME)
    assert files.key_file.stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    first = files.cert_file.read_bytes(), files.key_file.read_bytes()
    again = prepare(config, NAMES, NOW + timedelta(days=100))
    assert (again.cert_file.read_bytes(), again.key_file.read_bytes()) == first
    assert prepare(config, NAMES[:4], NOW).cert_file.read_bytes() == first[0]


def test_a_new_pair_is_made_when_a_name_is_missing_or_it_expires(tmp_path: Path) -> None:
    config = TlsConfig(port=8443, state_dir=str(tmp_path))
    files = prepare(config, NAMES, NOW)
    first = files.cert_file.read_bytes()
    prepare(config, (*NAMES, "10.0.0.7"), NOW)
    second = files.cert_file.read_bytes()
    assert second != first
    assert "10.0.0.7" in names_of(x509.load_pem_x509_certificate(second))
    prepare(config, NAMES, NOW + timedelta(days=380))
    assert files.cert_file.read_bytes() != second


def test_a_broken_or_mismatched_pair_is_replaced_and_a_loose_key_mode_fixed(
        tmp_path: Path) -> None:
    config = TlsConfig(port=8443, state_dir=str(tmp_path))
    files = prepare(config, NAMES, NOW)
    files.key_file.chmod(0o644)
    prepare(config, NAMES, NOW)
    assert files.key_file.stat().st_mode & 0o777 == 0o600
    files.key_file.write_bytes(self_signed_pair(NAMES, NOW)[1])  # another key
    prepare(config, NAMES, NOW)
    key = serialization.load_pem_private_key(files.key_file.read_bytes(), password=None)
    assert key.public_key() == x509.load_pem_x509_certificate(
        files.cert_file.read_bytes()).public_key()
    files.cert_file.write_text("garbage")
    prepare(config, NAMES, NOW)
    assert names_of(x509.load_pem_x509_certificate(files.cert_file.read_bytes())) == set(NAMES)


def test_a_given_pair_is_used_as_it_is(tmp_path: Path) -> None:
    cert_pem, key_pem = self_signed_pair(NAMES, NOW)
    (tmp_path / "fullchain.pem").write_bytes(cert_pem)
    (tmp_path / "privkey.pem").write_bytes(key_pem)
    config = TlsConfig(port=8443, cert_file=str(tmp_path / "fullchain.pem"),
                       key_file=str(tmp_path / "privkey.pem"), state_dir=str(tmp_path / "s"))
    files = prepare(config, NAMES, NOW)
    assert files.cert_file == tmp_path / "fullchain.pem"
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("change", "message"), [
    ({"cert_file": "missing.pem"}, "tls.cert_file = '{tmp}/missing.pem' is not a file"),
    ({"key_file": "missing.pem"}, "tls.key_file = '{tmp}/missing.pem' is not a file"),
    ({"key_file": "garbage.pem"}, "tls.cert_file and tls.key_file ({tmp}/cert.pem, "
                                  "{tmp}/garbage.pem) cannot be used"),
])
def test_a_given_pair_that_cannot_be_used_names_the_key(
        tmp_path: Path, change: dict[str, str], message: str) -> None:
    cert_pem, key_pem = self_signed_pair(NAMES, NOW)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "garbage.pem").write_text("not a key")
    paths = {"cert_file": "cert.pem", "key_file": "key.pem"} | change
    config = TlsConfig(port=8443, **{k: str(tmp_path / v) for k, v in paths.items()})
    with pytest.raises(TlsError) as info:
        prepare(config, NAMES, NOW)
    assert message.format(tmp=tmp_path) in str(info.value)


def test_a_state_directory_that_cannot_be_written_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    config = TlsConfig(port=8443, state_dir=str(tmp_path / "file" / "sub"))
    with pytest.raises(TlsError, match=r"cannot keep the self-signed certificate in .* "
                                       r"\(tls\.state_dir\)"):
        prepare(config, NAMES, NOW)


# ------------------------------------------------------------------------- TLS off

# Runs the command line until it serves and stops it the way a service manager does, then
# prints its exit status and whether `cryptography` was loaded.
CLI_THEN_MODULES = """
import os, signal, sys, threading, time, urllib.request
from broadcaster.cli import main

def stop_once_serving(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=stop_once_serving, args=(sys.argv[1],), daemon=True).start()
status = main(sys.argv[2:])
print(status, "cryptography" in sys.modules)
"""


def test_importing_the_server_and_the_workers_loads_no_cryptography() -> None:
    code = ("import sys, broadcaster.server, broadcaster.workers.worker, broadcaster.ops.tls; "
            "print(sorted(m for m in sys.modules if m.startswith('cryptography')))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, check=True)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize("tls", [False, True])
def test_cryptography_is_loaded_only_when_tls_is_on(tmp_path: Path, tls: bool) -> None:
    port = free_port()
    config = tmp_path / "broadcaster.toml"
    config.write_text(f'[tls]\nport = {free_port()}\nstate_dir = "{tmp_path}"\n' if tls else "")
    ran = subprocess.run(
        [sys.executable, "-c", CLI_THEN_MODULES, f"http://127.0.0.1:{port}/healthz",
         "--source", "tone", "--host", "127.0.0.1", "--port", str(port), "--config", str(config)],
        cwd=ROOT, env=no_device_env(), capture_output=True, text=True, timeout=60)
    assert ran.stdout.split() == ["0", str(tls)], ran.stdout + ran.stderr
