"""This machine's addresses: the kernel's flags applied to made-up lists (pure), this
machine's own list, and a network namespace with a secondary IPv4 address and IPv6 ones, where
the real broadcaster must name them all in its start-up log and in its certificate."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from broadcaster.ops.interfaces import IPV6_STATE, interface_addresses, ipv6_flags, usable
from broadcaster.ops.tls import CERT_NAME, names_of
from tests.conftest import ROOT, no_device_env

IF_INET6 = ("00000000000000000000000000000001 01 80 10 80       lo\n"
            "fd000000000000000000000000000002 02 40 00 20     eth0\n"
            "fd000000000000000000000000000003 02 40 00 80     eth0\n"
            "fd000000000000000000000000000004 02 40 00 01     eth0\n"
            "fd000000000000000000000000000005 02 40 00 08     eth0\n")


def test_the_ipv6_flags_are_read_per_interface_and_address() -> None:
    assert ipv6_flags(IF_INET6 + "garbage\n") == {
        ("lo", "::1"): 0x80, ("eth0", "fd00::2"): 0x20, ("eth0", "fd00::3"): 0x80,
        ("eth0", "fd00::4"): 0x01, ("eth0", "fd00::5"): 0x08}


def test_addresses_of_interfaces_that_are_down_and_unusable_ipv6_ones_are_left_out() -> None:
    listed = [("lo", "127.0.0.1"), ("eth0", "192.168.1.20"), ("eth0:1", "192.168.1.21"),
              ("eth1", "10.0.0.5"), ("lo", "::1"), ("eth0", "fd00::2"), ("eth0", "fd00::3"),
              ("eth0", "fd00::4"), ("eth0", "fd00::5"), ("eth0", "fe80::1"),
              ("eth0", "192.168.1.20")]
    assert usable(listed, ["lo", "eth0", "eth0:1"], ipv6_flags(IF_INET6)) == [
        ("lo", "127.0.0.1"), ("eth0", "192.168.1.20"), ("eth0:1", "192.168.1.21"),
        ("lo", "::1"), ("eth0", "fd00::3"), ("eth0", "fe80::1")]
    # eth1 is down; fd00::2 deprecated, fd00::4 temporary, fd00::5 failed duplicate detection


def test_this_machines_list_has_its_loopback_addresses() -> None:
    found = interface_addresses()
    assert ("lo", "127.0.0.1") in found
    if IPV6_STATE.exists():
        assert ("lo", "::1") in found
    assert len(found) == len(set(found))


# ---------------------------------------------------------------- in a network namespace

HTTP_PORT, HTTPS_PORT = 8000, 8443
# One interface with two IPv4 addresses (the second one is "secondary": SIOCGIFADDR never
# returned it), a unique local and a global IPv6 address, and a deprecated one; and an
# interface that is down, whose address no other device can reach.
NAMESPACE_SETUP = """
link set lo up
link add lan0 type veth peer name lan1
link set lan0 up
link set lan1 up
addr add 10.77.0.1/24 dev lan0
addr add 10.77.0.2/24 dev lan0
addr add fd77::1/64 dev lan0 nodad
addr add 2001:db8:77::1/64 dev lan0 nodad
addr add fd77::dead/64 dev lan0 nodad preferred_lft 0
link add down0 type veth peer name down1
addr add 10.88.0.1/24 dev down0
"""
OFFERED = ["10.77.0.1", "10.77.0.2", "fd77::1", "2001:db8:77::1"]
NOT_OFFERED = ["fd77::dead", "10.88.0.1", "fe80:"]


LIST_ADDRESSES = ("import json; from broadcaster.ops.interfaces import interface_addresses; "
                  "print(json.dumps(interface_addresses()))")


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    """A network namespace set up as NAMESPACE_SETUP says, deleted in the end."""
    if os.geteuid() != 0:
        pytest.skip("making a network namespace needs root")
    assert shutil.which("ip"), "no `ip` command: scripts/setup.sh --dev installs iproute2"
    name = f"broadcaster-test-{os.getpid()}"
    made = ip("netns", "add", name)
    if made.returncode != 0:
        pytest.skip(f"no network namespaces here: {made.stderr.strip()}")
    try:
        for line in NAMESPACE_SETUP.strip().splitlines():
            done = ip("-n", name, *line.split())
            assert done.returncode == 0, f"ip {line}: {done.stderr}"
        yield name
    finally:
        ip("netns", "delete", name)


def in_namespace(namespace: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, sys.executable, *argv]


def test_every_address_of_an_interface_that_is_up_is_found(namespace: str) -> None:
    listed = subprocess.run(in_namespace(namespace, "-c", LIST_ADDRESSES), cwd=ROOT,
                            capture_output=True, text=True, timeout=20, check=True)
    found = [tuple(pair) for pair in json.loads(listed.stdout)]
    on_lan0 = [address for name, address in found
               if name == "lan0" and not address.startswith("fe80:")]
    assert sorted(on_lan0) == sorted(OFFERED)  # IPv6 in the kernel's order: newest first
    assert ("lo", "127.0.0.1") in found and ("lo", "::1") in found
    assert any(pair[0] == "lan0" and pair[1].startswith("fe80:") for pair in found)
    assert not any(address in ("fd77::dead", "10.88.0.1") for _, address in found)


def test_the_start_up_log_and_the_certificate_name_every_address(
        namespace: str, tmp_path: Path) -> None:
    config = tmp_path / "broadcaster.toml"
    config.write_text(f'[tls]\nport = {HTTPS_PORT}\nstate_dir = "{tmp_path}"\n')
    log_path = tmp_path / "broadcaster.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            in_namespace(namespace, "-m", "broadcaster", "--source", "tone", "--host", "::",
                         "--port", str(HTTP_PORT), "--config", str(config)),
            cwd=ROOT, env=no_device_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while "listen on this machine at" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0, log_path.read_text()
    urls = [line.split("listen from another device at ", 1)[1]
            for line in log_path.read_text().splitlines() if "listen from another device" in line]
    expected = [f"https://{address if '.' in address else f'[{address}]'}:{HTTPS_PORT}/ (lan0)"
                for address in OFFERED]
    assert urls[:2] == expected[:2] and sorted(urls) == sorted(expected)  # IPv4 first
    cert = x509.load_pem_x509_certificate((tmp_path / CERT_NAME).read_bytes())
    names = names_of(cert)
    assert set(OFFERED) | {"127.0.0.1", "::1", "localhost"} <= names
    assert not any(name.startswith(tuple(NOT_OFFERED)) for name in names), names
