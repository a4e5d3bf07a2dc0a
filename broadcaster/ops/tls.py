"""HTTPS: the certificate and key the server presents, given in the config or self-signed.

`certificate_names`, `renewal_reason` and `self_signed_pair` are pure (the time is passed
in); `prepare` reads and writes the files and `machine_names` asks the kernel.

`cryptography` is imported inside the functions that make or read a certificate, never at
the top: with TLS off (the default) the broadcaster does not load it, which keeps about 10 MB
out of its resident memory. `TlsSocket` and `TlsFiles` need none of it (the hub and the
worker processes take them).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.config import TlsConfig
from broadcaster.ops.interfaces import interface_addresses
from broadcaster.ops.state_dir import state_directory

if TYPE_CHECKING:
    from cryptography import x509

logger = logging.getLogger(__name__)

# Apple's clients refuse server certificates valid for longer than 825 days, and browsers
# cap publicly trusted ones at 398: stay under both.
VALID_FOR = timedelta(days=397)
RENEW_BEFORE = timedelta(days=30)
CLOCK_SKEW = timedelta(days=1)  # a phone whose clock is a little behind still accepts it
CERT_NAME = "selfsigned-cert.pem"
KEY_NAME = "selfsigned-key.pem"
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


class TlsError(RuntimeError):
    """The certificate or key cannot be used or made; the message names the config key."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM files of the certificate (chain) and of its private key."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True, slots=True)
class TlsSocket:
    """A listening socket served with TLS, and the files of the certificate it presents."""

    sock: socket.socket
    files: TlsFiles


# ------------------------------------------------------------------------- pure parts

def is_dns_name(text: str) -> bool:
    """Whether `text` is an ASCII host name a certificate can carry."""
    labels = text.rstrip(".").split(".")
    return 0 < len(text) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in labels)


def certificate_names(addresses: Iterable[str], hostname: str) -> tuple[str, ...]:
    """What a self-signed certificate should cover: `localhost`, the host name (and its short
    form) with `.local` for mDNS, loopback, and this machine's addresses (sorted, unique).

    IPv6 link-local addresses are left out: browsers cannot open them (no zone in a URL),
    and they change whenever a container's virtual interface comes and goes.
    """
    dns = {"localhost"}
    short = hostname.split(".")[0]
    dns |= {name for name in (hostname, short, f"{short}.local") if is_dns_name(name)}
    ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = {
        ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")}
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text.partition("%")[0])
        except ValueError:
            continue
        if ip.is_multicast or ip.is_unspecified or (ip.version == 6 and ip.is_link_local):
            continue
        ips.add(ip)
    ordered = sorted(ips, key=lambda ip: (ip.version, int(ip)))
    return (*sorted(name.lower() for name in dns), *(str(ip) for ip in ordered))


def names_of(cert: x509.Certificate) -> frozenset[str]:
    """The DNS names and IP addresses a certificate covers."""
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset([*san.get_values_for_type(x509.DNSName),
                      *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))])


def renewal_reason(cert: x509.Certificate, names: Iterable[str], now: datetime) -> str | None:
    """Why a kept self-signed certificate must be made again, or None to reuse it.

    Names it covers but this machine no longer has do no harm; a missing one does (an
    interface that is down for a while must not cost every phone a new warning).
    """
    missing = sorted(set(names) - names_of(cert))
    if missing:
        return "it does not cover " + ", ".join(missing)
    if cert.not_valid_after_utc - RENEW_BEFORE <= now:
        return f"it expires on {cert.not_valid_after_utc:%Y-%m-%d}"
    return None


def self_signed_pair(names: tuple[str, ...], now: datetime,
                     common_name: str = "broadcaster") -> tuple[bytes, bytes]:
    """A new self-signed server certificate for `names` and its key, as PEM (cert, key).

    A P-256 key; not a CA (Firefox refuses a CA certificate as a server's own).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


# ------------------------------------------------------------------------- the files

def machine_names() -> tuple[str, ...]:
    """`certificate_names` for this machine."""
    try:
        addresses = [address for _, address in interface_addresses()]
    except OSError as exc:
        logger.warning("cannot list this machine's addresses for the certificate: %s", exc)
        addresses = []
    return certificate_names(addresses, socket.gethostname())


def prepare(config: TlsConfig, names: tuple[str, ...] | None = None,
            now: datetime | None = None) -> TlsFiles:
    """The files to serve: the configured pair, or the kept self-signed one (made first when
    missing, not matching its key, short of a name in `names`, or about to expire).
    Raises TlsError."""
    if config.cert_file:
        files = TlsFiles(Path(config.cert_file).expanduser(), Path(config.key_file).expanduser())
        for key, path in (("cert_file", files.cert_file), ("key_file", files.key_file)):
            if not path.is_file():
                raise TlsError(f"tls.{key} = {str(path)!r} is not a file")
        check_pair(files, "tls.cert_file and tls.key_file")
        return files
    names = machine_names() if names is None else names
    now = datetime.now(UTC) if now is None else now
    folder = state_directory(config.state_dir, os.environ, Path.home())
    files = TlsFiles(folder / CERT_NAME, folder / KEY_NAME)
    reason = _kept_pair_problem(files, names, now)
    if reason is None:
        logger.debug("reusing the self-signed certificate in %s", folder)
    else:
        logger.info("making a self-signed certificate in %s (%s)", folder, reason)
        cert_pem, key_pem = self_signed_pair(names, now, f"broadcaster on {socket.gethostname()}")
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write(files.key_file, key_pem, 0o600)  # the key first: a cert never precedes it
            _write(files.cert_file, cert_pem, 0o644)
        except OSError as exc:
            raise TlsError(f"cannot keep the self-signed certificate in {folder} "
                           f"(tls.state_dir): {exc}") from exc
    check_pair(files, "the self-signed pair")
    return files


def _kept_pair_problem(files: TlsFiles, names: Iterable[str], now: datetime) -> str | None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
        key = serialization.load_pem_private_key(files.key_file.read_bytes(), password=None)
    except FileNotFoundError:
        return "there is none yet"
    except (OSError, ValueError, TypeError) as exc:
        return f"the kept one cannot be read: {exc}"
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.DER, public)
            != cert.public_key().public_bytes(serialization.Encoding.DER, public)):
        return "the kept key does not match the certificate"
    with contextlib.suppress(OSError):  # a key others could read: only its owner may
        if files.key_file.stat().st_mode & 0o077:
            files.key_file.chmod(0o600)
    return renewal_reason(cert, names, now)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` atomically; the file never exists with a wider mode than `mode`."""
    temporary = path.with_name(f".{path.name}.new")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def check_pair(files: TlsFiles, what: str) -> None:
    """Raise TlsError unless TLS can be served with `files`; warn when the cert has expired."""
    from cryptography import x509

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"{what} ({files.cert_file}, {files.key_file}) cannot be used: "
                       f"{exc}") from exc
    with contextlib.suppress(OSError, ValueError):
        cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
        if cert.not_valid_after_utc <= datetime.now(UTC):
            logger.warning("the certificate %s expired on %s: browsers will refuse it",
                           files.cert_file, f"{cert.not_valid_after_utc:%Y-%m-%d}")
