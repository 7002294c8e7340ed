"""``BaseUrlPolicy``: which hosts a provider key's base URL may point at, checked when it is added.

A provider key is sent to its base URL on every request, so the base URL decides where a key
and every prompt go. The policy refuses, with a 400 naming ``base_url``:

- anything that is not an absolute ``http://`` or ``https://`` URL, including malformed ones
  (``http://[::1``, a bad port), and any URL with a control, space or non-ASCII character;
- credentials in the URL (``user:password@host``): they would travel in clear to the host and
  show in every listing; a key goes in the vault (``--key-stdin``), never in a URL;
- cloud metadata services (``169.254.169.254``, ``fd00:ec2::254``, ``100.100.100.200``,
  ``metadata.google.internal``...), link-local addresses (``169.254.0.0/16``, ``fe80::/10``),
  unspecified addresses (``0.0.0.0``, ``::``) and IPv4 addresses written in a non-canonical
  form (``2852039166``, ``0251.0376.0251.0376``, ``0xa9fea9fe``, ``169.254.43518``) unless the
  operator allows them in ``[base_urls]``;
- multicast, broadcast and reserved addresses, always.

Loopback (``127.0.0.0/8``, ``::1``, ``localhost``) and private ranges (``10/8``, ``172.16/12``,
``192.168/16``, ``100.64/10``, ``fc00::/7``) are allowed by default (Ollama, vLLM) and can be
refused. IPv6 forms that embed an IPv4 address (``::ffff:a.b.c.d``, NAT64, 6to4) are judged by
that address.

Invariants: the policy judges the URL as written; it does no DNS. A host name is judged by
name only (metadata names, ``localhost``), so a public name that resolves to an internal
address is not caught here (see docs/security.md). Error messages never echo the URL (it may
hold a password); they name the host or the rule.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from keyroute.config.schema import BaseUrlConfig
from keyroute.core.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean, Hetzner, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


def _refuse(message: str) -> InvalidRequest:
    return InvalidRequest(f"Invalid base URL: {message}", param="base_url")


def _split(url: str) -> SplitResult:
    bad = next((i for i, c in enumerate(url) if not ("\x21" <= c <= "\x7e")), None)
    if bad is not None:
        raise _refuse(
            f"character U+{ord(url[bad]):04X} at position {bad}; a base URL is printable "
            "ASCII without spaces (write international host names in their xn-- form)."
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what may fail
    except ValueError as exc:
        raise _refuse(f"not a valid URL ({exc}).") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _refuse("it must be an absolute http:// or https:// URL.")
    if "@" in parts.netloc:
        raise _refuse(
            "it must not carry credentials (user:password@); store the key with --key-stdin."
        )
    if "\\" in url:
        raise _refuse("it must not contain a backslash.")
    return parts


def _ipv4_from_labels(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host written as numbers stands for (WHATWG URL rules: decimal, octal
    with a leading 0, hex with 0x, 1 to 4 parts), or ``None`` when it is a host name."""
    labels = host.rstrip(".").split(".")
    if not _NUMERIC_LABEL.fullmatch(labels[-1]):
        return None
    if len(labels) > 4:
        raise _refuse(f"host '{host}' is neither a host name nor an IPv4 address.")
    numbers = []
    for label in labels:
        if label.startswith("0x"):
            value = int(label[2:] or "0", 16)
        elif len(label) > 1 and label.startswith("0") and label.isdigit():
            if not set(label) <= set("01234567"):
                raise _refuse(f"host '{host}' is not a valid IPv4 address.")
            value = int(label, 8)
        elif label.isdigit():
            value = int(label)
        else:
            raise _refuse(f"host '{host}' is neither a host name nor an IPv4 address.")
        numbers.append(value)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise _refuse(f"host '{host}' is not a valid IPv4 address.")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), else the address."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseUrlPolicy:
    """Which base URLs are accepted; the defaults are ``BaseUrlConfig``'s."""

    allow_loopback: bool = True
    allow_private: bool = True
    allow_link_local: bool = False
    allow_metadata: bool = False
    allow_unspecified: bool = False
    allow_encoded_ip: bool = False

    @classmethod
    def from_config(cls, config: BaseUrlConfig) -> BaseUrlPolicy:
        return cls(**config.model_dump())

    def check(self, url: str) -> str:
        """``url`` (stripped) if the policy allows it; ``InvalidRequest`` naming ``base_url``."""
        url = url.strip()
        parts = _split(url)
        host = parts.hostname or ""
        if not host:
            raise _refuse("it has no host.")
        if parts.netloc.startswith("["):
            try:
                address: IPAddress = ipaddress.IPv6Address(host)
            except ValueError:
                raise _refuse(f"'{host}' is not a valid IPv6 address.") from None
            self._check_address(host, address)
            return url
        if not _HOST_NAME.fullmatch(host):
            raise _refuse(f"host '{host}' is not a valid host name.")
        ipv4 = _ipv4_from_labels(host)
        if ipv4 is None:
            self._check_name(host.rstrip("."))
            return url
        if str(ipv4) != host and not self.allow_encoded_ip:
            raise _refuse(
                f"host '{host}' is the IPv4 address {ipv4} written in a non-canonical form; "
                f"write {ipv4} (or set base_urls.allow_encoded_ip)."
            )
        self._check_address(host, ipv4)
        return url

    def _check_name(self, name: str) -> None:
        if name in METADATA_HOSTS and not self.allow_metadata:
            raise _refuse(
                f"host '{name}' is a cloud metadata service (set base_urls.allow_metadata)."
            )
        if (name == "localhost" or name.endswith(".localhost")) and not self.allow_loopback:
            raise _refuse(f"host '{name}' is loopback (set base_urls.allow_loopback).")

    def _check_address(self, host: str, address: IPAddress) -> None:
        ip = _embedded_ipv4(address)
        rule: tuple[bool, str] | None = None
        if ip in METADATA_ADDRESSES or address in METADATA_ADDRESSES:
            rule = (self.allow_metadata, "a cloud metadata service (set base_urls.allow_metadata)")
        elif ip.is_unspecified or ip in ipaddress.ip_network("0.0.0.0/8"):
            rule = (self.allow_unspecified, "unspecified (set base_urls.allow_unspecified)")
        elif ip.is_loopback:
            rule = (self.allow_loopback, "loopback (set base_urls.allow_loopback)")
        elif ip.is_link_local:
            rule = (self.allow_link_local, "link-local (set base_urls.allow_link_local)")
        elif ip.is_multicast or ip.is_reserved or ip == ipaddress.IPv4Address("255.255.255.255"):
            rule = (False, "not a unicast address")
        elif any(ip in net for net in _PRIVATE if net.version == ip.version):
            rule = (self.allow_private, "in a private range (set base_urls.allow_private)")
        if rule is not None and not rule[0]:
            raise _refuse(f"host '{host}' is {rule[1]}.")
