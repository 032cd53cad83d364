"""SSRF protection for outbound webhooks: where a URL may point, checked on every attempt.

A customer registers a URL; we must not let it make us call our own network (the cloud metadata
address, a database on localhost, a router on 10.x). :func:`resolve_target` resolves the host on
every attempt and refuses the URL unless *every* address it resolves to is a public unicast
address (``ipaddress``'s ``is_global``, IPv4-mapped IPv6 unwrapped), or the endpoint explicitly
allows private targets. The request is then sent to the checked address itself (the URL's host
goes in the ``Host`` header and the TLS SNI), so a DNS answer that changes between the check and
the connection (DNS rebinding) cannot steer the request elsewhere. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence

import attrs
import httpx

from shipsync.errors import EndpointNotAllowedError

__all__ = ["Resolver", "Target", "check_address", "resolve_target", "system_resolver"]

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves a host name and port to IP address strings (the system resolver by default)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, through the event loop's ``getaddrinfo``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@attrs.frozen
class Target:
    """A checked target: the URL to connect to (the address), and the original host."""

    url: httpx.URL
    host_header: str
    sni_hostname: str
    address: str


def check_address(
    address: str, *, allow_private: bool
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse ``address``; refuse it unless public (or ``allow_private``)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError as exc:
        raise EndpointNotAllowedError(
            "the target resolved to something that is not an IP address", channel="webhook"
        ) from exc
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private:
        if ip.is_multicast or ip.is_unspecified:
            raise EndpointNotAllowedError(
                f"the target address {ip} is multicast or unspecified", channel="webhook"
            )
        return ip
    if not ip.is_global or ip.is_multicast:
        raise EndpointNotAllowedError(
            f"the target address {ip} is private, loopback, link-local or reserved"
            " (allow_private is off for this endpoint)",
            channel="webhook",
        )
    return ip


@attrs.frozen
class _Parsed:
    """What a URL says, once: scheme, host, port, the Host header, and the literal address."""

    url: httpx.URL
    host: str
    port: int
    host_header: str
    literal: str | None


@functools.lru_cache(maxsize=4096)
def _parse(url: str) -> _Parsed:
    """Parse and check ``url`` (pure, so cached: the addresses are still resolved every time)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise EndpointNotAllowedError("the endpoint URL does not parse", channel="webhook") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise EndpointNotAllowedError("an endpoint URL is http(s) with a host", channel="webhook")
    if parsed.userinfo:
        raise EndpointNotAllowedError(
            "an endpoint URL carries no user or password", channel="webhook"
        )
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        # An address literal needs no resolver (and no thread hop): it is checked as it is.
        literal: str | None = str(ipaddress.ip_address(parsed.host))
    except ValueError:
        literal = None
    host_header = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    if ":" in parsed.host and parsed.port is None:
        host_header = f"[{parsed.host}]"
    elif ":" in parsed.host:
        host_header = f"[{parsed.host}]:{parsed.port}"
    return _Parsed(parsed, parsed.host, port, host_header, literal)


@functools.lru_cache(maxsize=4096)
def _pinned(url: str, address: str) -> httpx.URL:
    """``url`` with its host replaced by the checked ``address`` (pure, so cached)."""
    return _parse(url).url.copy_with(host=address)


async def resolve_target(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> Target:
    """Check ``url``'s scheme and every address its host resolves to; pin one of them.

    The host name is resolved and every address checked on each call (no answer is kept, so a
    DNS answer that changes to a private address is refused on the next attempt); only the
    parsing of the URL itself, which cannot change, is cached.
    """
    try:
        parsed = _parse(url)
    except TypeError as exc:  # an unhashable url
        raise EndpointNotAllowedError("the endpoint URL does not parse", channel="webhook") from exc
    if parsed.literal is not None:
        addresses: Sequence[str] = (parsed.literal,)
    else:
        try:
            addresses = list(await resolver(parsed.host, parsed.port))
        except OSError as exc:
            raise EndpointNotAllowedError(
                f"the endpoint host does not resolve ({type(exc).__name__})", channel="webhook"
            ) from exc
    if not addresses:
        raise EndpointNotAllowedError("the endpoint host resolves to nothing", channel="webhook")
    checked = [check_address(a, allow_private=allow_private) for a in addresses]
    pinned = str(checked[0])
    return Target(
        url=_pinned(url, pinned),
        host_header=parsed.host_header,
        sni_hostname=parsed.host,
        address=pinned,
    )
