"""Where to open the page: URLs from a made-up set of interfaces (pure), the QR code drawn in
the terminal, and the real program announcing them at start-up."""

from __future__ import annotations

import io
import logging
import os
import pty
import select
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest
import segno

from broadcaster.ops.interfaces import interface_addresses
from broadcaster.ops.urls import (
    QR_BORDER_MODULES,
    PageUrl,
    announce,
    describe,
    page_urls,
    qr_lines,
)
from tests.conftest import ROOT, free_port, no_device_env, start_broadcaster, wait_until

INTERFACES = [
    ("lo", "127.0.0.1"),
    ("docker0", "172.17.0.1"),
    ("eth0", "192.168.1.20"),
    ("wlan0", "10.0.0.5"),
    ("usb0", "169.254.3.4"),
    ("lo", "::1"),
    ("eth0", "fe80::1c2b:3aff:fe4d:5e6f"),
    ("eth0", "2001:db8::20"),
]


def urls_of(pages: tuple[PageUrl, ...]) -> list[str]:
    return [page.url for page in pages]


def test_every_ipv4_address_but_loopback_lan_first_link_local_left_out() -> None:
    urls = page_urls(INTERFACES, "0.0.0.0", 8000)
    assert urls_of(urls.lan) == ["http://192.168.1.20:8000/", "http://10.0.0.5:8000/",
                                 "http://172.17.0.1:8000/"]  # 0.0.0.0 serves no IPv6
    assert [page.interface for page in urls.lan] == ["eth0", "wlan0", "docker0"]
    assert urls.local == "http://127.0.0.1:8000/" and not urls.local_only


def test_the_ipv6_wildcard_adds_ipv6_after_ipv4_in_brackets() -> None:
    urls = page_urls(INTERFACES, "::", 8000)
    assert urls_of(urls.lan) == ["http://192.168.1.20:8000/", "http://10.0.0.5:8000/",
                                 "http://[2001:db8::20]:8000/", "http://172.17.0.1:8000/"]
    assert urls.local == "http://[::1]:8000/"


def test_ipv4_link_local_only_when_there_is_nothing_else_ipv6_link_local_never() -> None:
    ipv4_link_local = page_urls([("lo", "127.0.0.1"), ("usb0", "169.254.3.4")], "::", 8000)
    assert ipv4_link_local.lan == (PageUrl("http://169.254.3.4:8000/", "usb0", link_local=True),)
    assert describe(ipv4_link_local, "::")[0] == (
        "listen from another device at http://169.254.3.4:8000/ (usb0) "
        "(link-local: only from the same network segment)")
    # fe80:: needs a zone naming the listener's interface, and no browser takes one in a URL
    only_ipv6_link_local = [("lo", "127.0.0.1"), ("eth0", "fe80::1%eth0"), ("lo", "::1")]
    assert page_urls(only_ipv6_link_local, "::", 8000).lan == ()


def test_secondary_ipv4_ula_and_global_ipv6_addresses_each_get_a_url() -> None:
    addresses = [("eth0", "192.168.1.20"), ("eth0", "192.168.1.21"), ("eth0", "fe80::1"),
                 ("eth0", "fd12:3456::20"), ("eth0", "2001:db8::20")]
    assert urls_of(page_urls(addresses, "::", 8000).lan) == [
        "http://192.168.1.20:8000/", "http://192.168.1.21:8000/",
        "http://[fd12:3456::20]:8000/", "http://[2001:db8::20]:8000/"]


def test_no_address_but_loopback_says_only_this_machine_can_listen() -> None:
    urls = page_urls([("lo", "127.0.0.1"), ("lo", "::1")], "0.0.0.0", 8000)
    assert urls.lan == ()
    assert describe(urls, "0.0.0.0") == [
        "no network address besides loopback was found (is the network up?): only this "
        "machine can listen, at http://127.0.0.1:8000/"]


@pytest.mark.parametrize(("host", "url", "interface"), [
    ("192.168.1.20", "http://192.168.1.20:8000/", "eth0"),
    ("2001:db8::20", "http://[2001:db8::20]:8000/", "eth0"),
    ("fe80::1c2b:3aff:fe4d:5e6f%eth0", "http://[fe80::1c2b:3aff:fe4d:5e6f]:8000/", "eth0"),
    ("pi.local", "http://pi.local:8000/", ""),
])
def test_a_specific_host_gives_only_that_url(host: str, url: str, interface: str) -> None:
    urls = page_urls(INTERFACES, host, 8000)
    assert urls_of(urls.lan) == [url] and urls.lan[0].interface == interface
    assert urls.local == url  # a server bound to one address is not on 127.0.0.1
    assert describe(urls, host) == [f"listen from another device at {url}"
                                    + (f" ({interface})" if interface else "")
                                    + (" (link-local: only from the same network segment)"
                                       if host.startswith("fe80") else "")]


@pytest.mark.parametrize(("host", "local"), [
    ("127.0.0.1", "http://127.0.0.1:8080/"), ("127.0.1.1", "http://127.0.1.1:8080/"),
    ("::1", "http://[::1]:8080/"), ("localhost", "http://localhost:8080/"),
])
def test_loopback_only_says_so_and_how_to_open_it_up(host: str, local: str) -> None:
    urls = page_urls(INTERFACES, host, 8080)
    assert urls.local_only and urls.lan == () and urls.local == local
    [line] = describe(urls, host)
    assert line.startswith(f"the page is only reachable from this machine, at {local}")
    assert 'set host = "0.0.0.0" under [server] in the config, or start with --host 0.0.0.0' \
        in line


def test_with_an_https_port_other_devices_get_https_and_this_machine_keeps_http() -> None:
    urls = page_urls(INTERFACES, "0.0.0.0", 8000, https_port=8443)
    assert urls_of(urls.lan)[0] == "https://192.168.1.20:8443/"
    assert urls.local == "http://127.0.0.1:8000/"


def qr_modules(lines: list[str]) -> list[list[bool]]:
    """The modules drawn by qr_lines, read back from the half blocks."""
    halves = {"\u2588": (True, True), "\u2580": (True, False), "\u2584": (False, True),
              " ": (False, False)}
    rows: list[list[bool]] = []
    for line in lines:
        assert line.startswith("\033[30;47m") and line.endswith("\033[0m")  # black on white
        pairs = [halves[char] for char in line.removeprefix("\033[30;47m").removesuffix("\033[0m")]
        rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    return rows


@pytest.mark.parametrize("url", ["http://192.168.1.20:8000/",
                                 "http://[2001:db8:1234:5678:9abc:def0:1234:5678]:8000/"])
def test_the_qr_code_in_the_terminal_is_the_urls_qr_code(url: str) -> None:
    expected = [[bool(bit) for bit in row]
                for row in segno.make(url, error="l").matrix_iter(border=QR_BORDER_MODULES)]
    drawn = qr_modules(qr_lines(url))
    assert drawn[:len(expected)] == expected
    assert all(not any(row) for row in drawn[len(expected):])  # the padding row is light
    assert len(drawn) - len(expected) in (0, 1)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_announce_logs_always_and_draws_the_qr_only_on_a_terminal(
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="broadcaster.ops.urls")
    piped, terminal = io.StringIO(), Terminal()
    urls = announce("0.0.0.0", 8000, out=piped)
    assert piped.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == describe(urls, "0.0.0.0")
    announce("0.0.0.0", 8000, out=terminal)
    if urls.lan:
        assert terminal.getvalue() == "\n".join(
            [f"scan to listen: {urls.lan[0].url}", *qr_lines(urls.lan[0].url), ""])
    else:
        assert terminal.getvalue() == ""  # no QR code of a loopback URL
    announce("127.0.0.1", 8000, out=terminal)
    assert terminal.getvalue().count("scan to listen") == (1 if urls.lan else 0)


def test_the_broadcaster_logs_where_to_listen(tmp_path: Path) -> None:
    everywhere = start_broadcaster(tmp_path, "--source", "tone", "--host", "0.0.0.0")
    loopback = start_broadcaster(tmp_path, "--source", "tone")
    try:
        port = int(everywhere.url.rsplit(":", 1)[1])
        expected = describe(page_urls(interface_addresses(), "0.0.0.0", port), "0.0.0.0")
        # /healthz answers a moment before the URLs are logged
        wait_until(lambda: all(line in everywhere.log() for line in expected), 5,
                   f"{expected} in the log")
        wait_until(lambda: "the page is only reachable from this machine, at "
                           f"{loopback.url}/ (server.host = '127.0.0.1')" in loopback.log(), 5,
                   "the loopback-only line in the log")
        assert "scan to listen" not in everywhere.log()  # not a terminal: no QR code
    finally:
        assert everywhere.stop() == 0, everywhere.log()
        assert loopback.stop() == 0, loopback.log()


def read_terminal(argv: list[str], env: dict[str, str], done: str,
                  timeout_s: float = 20) -> tuple[subprocess.Popen[bytes], str]:
    """Run `argv` with its output on a pseudo-terminal; read until `done` appears (or it
    exits). Returns the process (perhaps still running) and what it wrote."""
    controller, terminal = pty.openpty()
    tty.setraw(terminal)  # no "\n" to "\r\n": what the program writes, as it wrote it
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=terminal, stderr=terminal)
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + timeout_s
    try:
        while done.encode() not in output and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                try:
                    output += os.read(controller, 65536)
                except OSError:  # EIO: the process has exited
                    break
    finally:
        os.close(controller)
    return process, output.decode(errors="replace")


def test_on_a_terminal_the_broadcaster_draws_the_qr_code_of_the_first_lan_url() -> None:
    port = free_port()
    urls = page_urls(interface_addresses(), "0.0.0.0", port)
    if not urls.lan:
        pytest.skip("this machine has no address but loopback")
    first = urls.lan[0].url
    qr = "\n".join(qr_lines(first))
    process, output = read_terminal(
        [sys.executable, "-m", "broadcaster", "--source", "tone", "--host", "0.0.0.0",
         "--port", str(port)], no_device_env(), qr)
    try:
        assert f"scan to listen: {first}\n{qr}" in output, output
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(5) == 0
