"""Where to open the page: the machine's addresses as URLs, and a QR code of the first one.

`page_urls`, `describe` and `qr_lines` are pure; `announce` logs (and, on a terminal,
prints) what they make of the addresses `interfaces` finds.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

import segno

from broadcaster.ops.interfaces import interface_addresses

logger = logging.getLogger(__name__)

WILDCARD_HOSTS = ("0.0.0.0", "", "::")
# Container bridges, virtual machines' networks and VPNs: listed, but after the LAN.
VIRTUAL_PREFIXES = ("docker", "br-", "veth", "virbr", "lxcbr", "lxdbr", "cni", "flannel",
                    "podman", "vmnet", "vboxnet", "tun", "tap", "wg", "tailscale", "zt")
QR_BORDER_MODULES = 2
# Black on white whatever the terminal's colours, so phones can scan it on dark themes too.
_QR_COLOURS = "\033[30;47m"
_QR_RESET = "\033[0m"
_HALF_BLOCKS = {(True, True): "\u2588", (True, False): "\u2580", (False, True): "\u2584",
                (False, False): " "}


@dataclass(frozen=True, slots=True)
class PageUrl:
    """One URL of the listener page, with the interface it goes through."""

    url: str
    interface: str = ""
    link_local: bool = False


@dataclass(frozen=True, slots=True)
class PageUrls:
    """What other devices can open (best first) and what this machine opens."""

    lan: tuple[PageUrl, ...]
    local: str
    local_only: bool  # bound to loopback: no other device can reach the page


def _url(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}/" if ":" in host else f"{scheme}://{host}:{port}/"


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address without brackets or zone (`fe80::1%eth0`), or None for a host name."""
    try:
        return ipaddress.ip_address(text.strip("[]").partition("%")[0])
    except ValueError:
        return None


def page_urls(addresses: Iterable[tuple[str, str]], bind_host: str, port: int,
              https_port: int | None = None) -> PageUrls:
    """The page's URLs for a server bound to `bind_host`:`port`.

    `addresses` are (interface, address) pairs of this machine. A wildcard host lists every
    address it serves that is not loopback: IPv4 ("0.0.0.0"), or IPv4 and IPv6 ("::"), IPv4
    first and interfaces that look virtual last; IPv4 link-local addresses only when there
    is nothing else, IPv6 link-local ones never (below). A specific host gives that one URL.
    With `https_port`, other devices are sent to https (browsers play audio only in a secure
    context); loopback is one already.
    """
    lan_scheme, lan_port = ("https", https_port) if https_port else ("http", port)
    if bind_host not in WILDCARD_HOSTS:
        ip = _parse_ip(bind_host)
        shown = str(ip) if ip is not None else bind_host
        if bind_host == "localhost" or (ip is not None and ip.is_loopback):
            return PageUrls((), _url("http", shown, port), local_only=True)
        interface = next((name for name, address in addresses
                          if ip is not None and _parse_ip(address) == ip), "")
        link_local = ip is not None and ip.is_link_local
        return PageUrls((PageUrl(_url(lan_scheme, shown, lan_port), interface, link_local),),
                        _url("http", shown, port), local_only=False)
    families = (4, 6) if bind_host == "::" else (4,)
    found: list[tuple[tuple[bool, bool, int], PageUrl]] = []
    for order, (interface, address) in enumerate(addresses):
        ip = _parse_ip(address)
        # An IPv6 link-local address is reachable only with a zone (`fe80::1%wlan0`), which
        # names the listener's own interface, not this machine's, and which the URL standard
        # browsers follow has no place for: no URL another device could open.
        if (ip is None or ip.version not in families or ip.is_loopback or ip.is_multicast
                or ip.is_unspecified or (ip.version == 6 and ip.is_link_local)):
            continue
        virtual = interface.startswith(VIRTUAL_PREFIXES)
        page = PageUrl(_url(lan_scheme, str(ip), lan_port), interface, ip.is_link_local)
        found.append(((ip.is_link_local, virtual, ip.version * 100000 + order), page))
    found.sort(key=lambda item: item[0])
    routable = [page for _, page in found if not page.link_local]
    lan = routable or [page for _, page in found]
    local = _url("http", "::1" if bind_host == "::" else "127.0.0.1", port)
    return PageUrls(tuple(dict.fromkeys(lan)), local, local_only=False)


def describe(urls: PageUrls, bind_host: str) -> list[str]:
    """Lines for the log: where to listen from, and what to change when nothing else can."""
    if urls.local_only:
        return [f"the page is only reachable from this machine, at {urls.local} "
                f"(server.host = {bind_host!r}); to let other devices listen, set "
                f'host = "0.0.0.0" under [server] in the config, or start with --host 0.0.0.0']
    if not urls.lan:
        return [f"no network address besides loopback was found (is the network up?): only "
                f"this machine can listen, at {urls.local}"]
    lines = []
    for page in urls.lan:
        where = f" ({page.interface})" if page.interface else ""
        lines.append(f"listen from another device at {page.url}{where}")
        if page.link_local:
            lines[-1] += " (link-local: only from the same network segment)"
    if urls.local != urls.lan[0].url:
        lines.append(f"listen on this machine at {urls.local}")
    return lines


def qr_lines(url: str) -> list[str]:
    """A QR code of `url` drawn with half blocks (two rows of modules per line)."""
    qr = segno.make(url, error="l")
    rows = [[bool(bit) for bit in row] for row in qr.matrix_iter(border=QR_BORDER_MODULES)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    return [_QR_COLOURS + "".join(_HALF_BLOCKS[pair] for pair in zip(top, bottom, strict=True))
            + _QR_RESET for top, bottom in zip(rows[0::2], rows[1::2], strict=True)]


def announce(bind_host: str, port: int, https_port: int | None = None,
             out: TextIO | None = None) -> PageUrls:
    """Log where to open the page; on a terminal, also draw a QR code of the first LAN URL."""
    try:
        addresses = interface_addresses()
    except OSError as exc:
        logger.warning("cannot list this machine's addresses: %s", exc)
        addresses = []
    urls = page_urls(addresses, bind_host, port, https_port)
    for line in describe(urls, bind_host):
        logger.info("%s", line)
    out = sys.stdout if out is None else out
    if urls.lan and out.isatty():
        out.write("\n".join([f"scan to listen: {urls.lan[0].url}", *qr_lines(urls.lan[0].url),
                             ""]))
        out.flush()
    return urls
