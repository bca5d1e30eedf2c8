"""The client's address (and scheme) from X-Forwarded-For/-Proto, believed only from our proxies.

daphne's ``--proxy-headers`` believes these headers from anyone who reaches the server: a
client talking to a server process directly could send a new X-Forwarded-For with every login
attempt, and the lockout (by user name and address, django-axes reads ``REMOTE_ADDR``) never
saw the same address twice. ``python -m chatapp.runtime.server`` therefore leaves the headers alone
(``--proxy-headers`` does nothing there), and this middleware applies them only when the
connection comes from an address in ``CHATAPP_TRUSTED_PROXIES`` (none by default).
"""

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings

from config.limits import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:1234"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:1234"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address | None, networks: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def _header(scope: Scope, name: bytes) -> str:
    """All values of a header, comma-joined (a proxy may add a second X-Forwarded-For line)."""
    return ",".join(v.decode("latin-1") for k, v in scope.get("headers", []) if k == name)


def forwarded_client(scope: Scope) -> tuple[str, str | None] | None:
    """(address, scheme) the trusted proxies say the client has; None to keep the scope's."""
    networks = _networks(tuple(settings.CHATAPP_TRUSTED_PROXIES))
    client = scope.get("client")
    if not networks or not client or not _trusted(_address(client[0]), networks):
        return None
    # Each proxy appends the address it was reached from: the client is the right-most address
    # that is not one of our proxies (anything left of it was written by the client itself).
    client_address = client[0]
    for entry in reversed([e for e in _header(scope, b"x-forwarded-for").split(",") if e.strip()]):
        address = _address(entry)
        if address is None:
            break  # a malformed hop: believe nothing beyond it
        client_address = str(address)
        if not _trusted(address, networks):
            break
    proto = _header(scope, b"x-forwarded-proto").split(",")[-1].strip().lower()
    return client_address, proto if proto in ("http", "https") else None


class TrustedProxies:
    """Rewrites ``scope["client"]`` and ``scope["scheme"]`` from a trusted proxy's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] in ("http", "websocket"):
            forwarded = forwarded_client(scope)
            if forwarded is not None:
                address, proto = forwarded
                scope = {**scope, "client": [address, 0]}
                if proto is not None:
                    secure = proto == "https"
                    if scope["type"] == "websocket":
                        scope["scheme"] = "wss" if secure else "ws"
                    else:
                        scope["scheme"] = proto
        return await self.app(scope, receive, send)
