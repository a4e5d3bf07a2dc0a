"""This machine's network addresses: every address of every interface that is up.

getifaddrs (through `ifaddr`) lists them all, secondary IPv4 addresses and IPv6 included; the
kernel's flags then leave out what no other device should be sent to: addresses of an
interface that is down, and IPv6 addresses that are temporary, deprecated or duplicated.
`ipv6_flags` and `usable` are pure; `interface_addresses` asks the kernel (Linux).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

import ifaddr

IPV6_STATE = Path("/proc/net/if_inet6")  # each IPv6 address with its flags (getifaddrs has none)

_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1
# IPv6 address flags (linux/if_addr.h) that keep an address out of URLs and certificates:
_IFA_F_TEMPORARY = 0x01  # a privacy address for outgoing connections, replaced every day:
#                          in the certificate it would cost every phone a new warning daily
_IFA_F_DADFAILED = 0x08  # another machine on the link has it
_IFA_F_DEPRECATED = 0x20  # on its way out
UNUSABLE_IPV6 = _IFA_F_TEMPORARY | _IFA_F_DADFAILED | _IFA_F_DEPRECATED


def ipv6_flags(if_inet6: str) -> dict[tuple[str, str], int]:
    """The flags of each (interface, IPv6 address), from the text of /proc/net/if_inet6."""
    flags: dict[tuple[str, str], int] = {}
    for line in if_inet6.splitlines():
        fields = line.split()
        if len(fields) == 6:
            address = str(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
            flags[fields[5], address] = int(fields[4], 16)
    return flags


def usable(addresses: Iterable[tuple[str, str]], up: Iterable[str],
           flags: Mapping[tuple[str, str], int]) -> list[tuple[str, str]]:
    """The (interface, address) pairs to offer: on an interface in `up`, and for IPv6 with
    none of the UNUSABLE_IPV6 `flags`, in the order given, each once."""
    up = set(up)
    kept: dict[tuple[str, str], None] = {}
    for interface, address in addresses:
        if interface in up and not flags.get((interface, address), 0) & UNUSABLE_IPV6:
            kept[interface, address] = None
    return list(kept)


def _is_up(sock: socket.socket, interface: str) -> bool:
    request = struct.pack("256s", interface.encode()[:15])
    try:
        result = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request)
    except OSError:  # gone since it was listed
        return False
    return bool(struct.unpack_from("H", result, 16)[0] & _IFF_UP)


def interface_addresses(ipv6_state: Path = IPV6_STATE) -> list[tuple[str, str]]:
    """(interface, address) of every address of every interface that is up, IPv4 and IPv6,
    secondary ones included (IPv6 link-local ones too: leaving them out is the caller's
    choice). Raises OSError when the kernel cannot be asked."""
    listed = [(adapter.name, ip.ip if isinstance(ip.ip, str) else ip.ip[0])
              for adapter in ifaddr.get_adapters() for ip in adapter.ips]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        up = [name for name in dict.fromkeys(name for name, _ in listed) if _is_up(sock, name)]
    flags: dict[tuple[str, str], int] = {}
    with contextlib.suppress(OSError):  # no such file: IPv6 is off
        flags = ipv6_flags(ipv6_state.read_text())
    return usable(listed, up, flags)
