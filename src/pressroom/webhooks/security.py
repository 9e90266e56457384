"""Where outbound webhooks may go (SSRF guard).

In production (unless `webhook_allow_private_targets`): https only, and no target that is
or resolves to a loopback, private, link-local (cloud metadata), shared, multicast or
reserved address. The check runs when an endpoint is saved and again before every
attempt, against the addresses the request then connects to (pinned: no second lookup
that a rebinding DNS server could answer differently).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from pressroom.config import Settings

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The URL may not be called; the message says why (safe to show the endpoint's owner)."""


def protected(settings: Settings) -> bool:
    return settings.is_production and not settings.webhook_allow_private_targets


def _blocked(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def check_url(url: str, settings: Settings) -> Target:
    """Refuse a URL that is malformed or, in production, unsafe by its form alone."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise UnsafeTarget("must not carry credentials (sign-in is by the signature)")
    if parts.fragment:
        raise UnsafeTarget("must not have a #fragment")
    host = parts.hostname.rstrip(".").lower()
    if protected(settings):
        if parts.scheme != "https":
            raise UnsafeTarget("must use https")
        ip = _literal(host)
        if host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
            raise UnsafeTarget("must not point to a local or internal host")
        if ip is not None and _blocked(ip):
            raise UnsafeTarget("must not point to a private, loopback or link-local address")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80))


def resolve(target: Target, settings: Settings) -> list[IPAddress]:
    """The addresses to connect to; in production, refuse if any of them is not public
    (a name that resolves to one private address is not an endpoint we call)."""
    ip = _literal(target.host)
    if ip is not None:
        addresses = [ip]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnsafeTarget(f"could not resolve {target.host}: {exc.strerror}") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if protected(settings) and any(_blocked(a) for a in addresses):
        raise UnsafeTarget(f"{target.host} resolves to a private or local address")
    return addresses


def check_on_save(url: str, settings: Settings) -> None:
    """At create/update: the form, and (in production) the name's current addresses. A
    name that does not resolve yet is accepted: every attempt checks again."""
    target = check_url(url, settings)
    if protected(settings):
        try:
            resolve(target, settings)
        except UnsafeTarget as exc:
            if "could not resolve" not in str(exc):
                raise
