"""Which webhook targets the server may send requests to (issue 16, part 6).

A webhook makes the server send a request wherever a watch says. Without a check anyone who may
make a watch could make Dateline probe its own network (Redis, Elasticsearch, a cloud metadata
address on 169.254.169.254). So a target must be http(s), carry no credentials, and every
address its host resolves to must be a public one, unless the operator listed the host, or the
network it lives in, in ``DATELINE_WEBHOOK_ALLOWED_HOSTS`` (``settings.webhook_allowed_hosts``).

The check runs twice: when a watch is made (``check_target``, a clear refusal for the person) and
when delivery connects (``resolve_allowed``, the addresses it may connect to): a name that
resolved to a public address at creation may resolve to 127.0.0.1 later (DNS rebinding), so the
sender connects only to an address checked at send time.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_FIX = "list the host or its network in DATELINE_WEBHOOK_ALLOWED_HOSTS if it is meant"


class TargetRefused(ValueError):
    """A webhook URL the server must not send to; the message says why and how to fix it."""


def _address(host: str) -> IPAddress | None:
    """The host as a literal address ('[::1]' and '::1' alike), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (a word for the refusal), or None when it is public."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:127.0.0.1 reaches 127.0.0.1
        return _kind(mapped)
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),  # before private: Python counts 240.0.0.0/4 as both
        ("private", ip.is_private),
    ):
        if flag:
            return kind
    # Shared address space (100.64.0.0/10), 6to4 and similar are neither private nor global:
    # not reachable on the internet, so not a webhook target without the operator's say.
    if not ip.is_global:
        return "non-global"
    return None


def _networks(allowed: Sequence[str]) -> tuple[set[str], list[IPNetwork]]:
    """``allowed`` split into host names (lower case) and networks (an address is a /32 or /128)."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for item in allowed:
        item = str(item).strip().lower()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            names.add(item.rstrip("."))
    return names, networks


def _covered(ip: IPAddress, networks: list[IPNetwork]) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    return any(ip in net or (mapped is not None and mapped in net) for net in networks)


def _split(url: str) -> tuple[str, str, int]:
    """(normalised URL, host, port) of an http(s) URL without credentials, or TargetRefused."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("the webhook URL is empty; give an http(s) URL such as https://example.org/hook")
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise TargetRefused(
            f"the webhook URL {url!r} contains spaces or control characters; percent-encode them"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise TargetRefused(f"the webhook URL {url!r} cannot be read ({err}); give an http(s) URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused(
            f"the webhook URL {url!r} uses {scheme or 'no'} scheme; only http:// and https:// are sent to"
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused(
            f"the webhook URL for {parts.hostname or '?'} carries credentials ('user:password@'); remove "
            "them: every call is signed with DATELINE_WEBHOOK_SECRET instead"
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused(f"the webhook URL {url!r} has no host; give one such as https://example.org/hook")
    literal = _address(host)
    if literal is not None:
        shown = f"[{literal.compressed}]" if literal.version == 6 else literal.compressed
    else:
        try:
            shown = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise TargetRefused(f"the webhook host {host!r} is not a valid host name") from None
    if port is None:
        port = 443 if scheme == "https" else 80
        netloc = shown
    else:
        netloc = f"{shown}:{port}"
    normalised = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return normalised, shown.strip("[]"), port


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (in the resolver's order, without repeats)."""
    literal = _address(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as err:
        raise TargetRefused(
            f"the webhook host {host!r} does not resolve ({err}); check the name, or that this "
            "machine's DNS can reach it"
        ) from None
    seen: list[IPAddress] = []
    for info in infos:
        ip = _address(str(info[4][0]).split("%", 1)[0])  # drop an IPv6 zone ('fe80::1%eth0')
        if ip is not None and ip not in seen:
            seen.append(ip)
    if not seen:
        raise TargetRefused(f"the webhook host {host!r} resolves to no address")
    return seen


def _check(url: str, allowed: Sequence[str]) -> tuple[str, list[IPAddress]]:
    normalised, host, port = _split(url)
    names, networks = _networks(allowed)
    addresses = _resolve(host, port)
    if host in names:
        # The operator named this host: whatever it resolves to is theirs to vouch for.
        return normalised, addresses
    for ip in addresses:
        kind = _kind(ip)
        # Every non-public address must be allowed, not only one: a name resolving to a public
        # and a private address would otherwise let the sender reach the private one.
        if kind is not None and not _covered(ip, networks):
            where = host if _address(host) is not None else f"{host} (resolves to {ip.compressed})"
            raise TargetRefused(
                f"the webhook host {where} is a {kind} address the server does not send to; {_FIX}"
            )
    return normalised, addresses


def check_target(url: str, allowed: Sequence[str]) -> str:
    """The normalised webhook URL (scheme and host in lower case, default port dropped, no
    fragment), or ``TargetRefused`` saying why: not http(s), credentials in it, no host, a host
    that does not resolve, or one that is (or resolves to) a loopback, link-local, private,
    multicast, reserved or unspecified address that ``allowed`` does not list (by name, address
    or network, as ``settings.webhook_allowed_hosts`` holds them)."""
    return _check(url, allowed)[0]


def resolve_allowed(url: str, allowed: Sequence[str]) -> list[IPAddress]:
    """The addresses a sender may connect to for ``url``, checked now (DNS rebinding: a name
    checked when the watch was made may resolve elsewhere since). Raises ``TargetRefused`` as
    ``check_target`` does; the list is never empty."""
    return _check(url, allowed)[1]
