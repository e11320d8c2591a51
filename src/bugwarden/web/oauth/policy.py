"""Which redirect addresses and client metadata URLs the authorization server accepts.

Anonymous registration must not turn bugwarden into an open redirector or send codes to a page an attacker
picked without the person seeing it: a redirect is https (any host; the consent page names it), or http on a
loopback address (a native client's local listener); never a fragment, a wildcard, credentials, or another
scheme (`javascript:`, `data:`, custom schemes). At /authorize the SDK then requires an exact match with a
registered address.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MAX_REDIRECTS = 10


def redirect_problem(uri: str) -> str | None:
    """Why a redirect address is refused, or None when it is acceptable."""
    if len(uri) > 2000:
        return "is longer than 2000 characters"
    if any(c in uri for c in "*\\ ") or any(ord(c) < 0x21 for c in uri):
        return "contains a wildcard, a backslash, a space or a control character"
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        return "has a fragment"
    if parts.username is not None or parts.password is not None:
        return "carries credentials"
    host = (parts.hostname or "").lower()
    if not host:
        return "has no host"
    if not _HOST.fullmatch(host) and not _ip_literal(host):
        return "has a host that is not a DNS name or an IP address"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        return None if is_loopback(host) else "is http on a host other than loopback (use https)"
    return f"uses the scheme {parts.scheme!r} (only https, or http on loopback)"


_HOST = re.compile(r"[a-z0-9_.-]+")
"""A DNS name as a URL carries it (IDNs arrive as punycode): what may also appear in the consent page's CSP."""


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_metadata_url(client_id: str) -> bool:
    """Whether a client id is a Client ID Metadata Document URL (https with a path)."""
    parts = urlsplit(client_id)
    return parts.scheme == "https" and bool(parts.hostname) and parts.path not in ("", "/")


def public_address(address: str) -> bool:
    """Whether an IP address is on the public internet (not private, loopback, link-local, reserved...)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded and not all(public_address(str(v4)) for v4 in embedded):
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through a translator or tunnel (NAT64, 6to4, Teredo, the
    old IPv4-compatible form): a DNS answer in one of these forms must not lead to a private IPv4 address."""
    found: list[ipaddress.IPv4Address] = []
    if any(ip in net for net in _NAT64) or ip in _IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found
