"""The WebSocket origin check: scheme, host and port, not the host name alone.

A WebSocket handshake is not covered by CSRF and browsers send the session cookie with it from
any page of the same *site*; http://127.0.0.1:9999, https://127.0.0.1 and http://localhost:4444
are all the same site as http://127.0.0.1:8000 for cookies. Channels' AllowedHostsOriginValidator
compares only the host name with ALLOWED_HOSTS, so a page on another port or scheme of our host
could drive a user's conversations. Here the Origin must be the site's own origin exactly
(the scheme we are served under, and the Host the browser asked for, itself one of
ALLOWED_HOSTS), or one of CSRF_TRUSTED_ORIGINS, the same rule Django's CSRF check applies.
"""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from config.limits import ASGIApp, Receive, Scope, Send

# docs/protocol.md: the handshake is refused; the ASGI close code is 4003 (a browser sees the
# handshake fail: the server answers 403 before any WebSocket exists).
ORIGIN_REFUSED = 4003
DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case with a default port dropped; None if malformed."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def own_origin(scope: Scope) -> str | None:
    """The origin the browser reached us at: our scheme and its Host, if Host is one of ours."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    # Behind a TLS proxy the socket itself is plain ws: CHATAPP_HTTPS says what the browser used.
    secure = scope.get("scheme") in ("wss", "https") or settings.HTTPS
    return normalise(f"{'https' if secure else 'http'}://{host}")


def _trusted(origin: str, pattern: str) -> bool:
    """CSRF_TRUSTED_ORIGINS entries: exact, or ``https://*.example.com`` for subdomains."""
    if "://*." in pattern:
        scheme, rest = pattern.split("://*.", 1)
        wanted = normalise(f"{scheme}://{rest}")
        if wanted is None:
            return False
        prefix, domain = f"{scheme}://", wanted.removeprefix(f"{scheme}://")
        return origin.startswith(prefix) and origin.endswith("." + domain)
    return origin == normalise(pattern)


def origin_allowed(scope: Scope) -> bool:
    origin = normalise(_header(scope, b"origin") or "")
    if origin is None:  # missing, "null" (sandboxed frames, file:) or malformed
        return False
    if origin == own_origin(scope):
        return True
    return any(_trusted(origin, pattern) for pattern in settings.CSRF_TRUSTED_ORIGINS)


class SameOriginOnly:
    """Refuses a WebSocket handshake whose Origin is not exactly one of ours (see above)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if origin_allowed(scope):
            return await self.app(scope, receive, send)
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": ORIGIN_REFUSED})
