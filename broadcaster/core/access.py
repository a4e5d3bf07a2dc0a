"""Credentials and client addresses: who may listen, who may control (pure checks)."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress


def is_loopback(address: str | None) -> bool:
    """Whether a peer address is this machine (127.0.0.0/8, ::1, or v4-mapped loopback)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def basic_password(authorization: str | None) -> str | None:
    """The password of an `Authorization: Basic ...` header (the user name is ignored)."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon else None


def matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison; an unset secret never matches."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
