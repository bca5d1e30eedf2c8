"""One pooled ``AsyncAnthropic`` per event loop, built from settings.

The SDK's HTTP pool belongs to the loop that first used it, so the client is kept per loop
(daphne runs one loop per process: in production this is one client per process).
"""

import asyncio
import weakref

import anthropic
from django.conf import settings

from chatapp.claude.types import UpstreamError

_Cached = tuple[tuple, anthropic.AsyncAnthropic]
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Cached]" = (
    weakref.WeakKeyDictionary()
)

OFFLINE_API_KEY = "offline-demo-key"


def _config() -> tuple:
    api_key = settings.ANTHROPIC_API_KEY or (OFFLINE_API_KEY if settings.OFFLINE_UPSTREAM else "")
    return (
        api_key,
        settings.ANTHROPIC_BASE_URL or None,
        settings.ANTHROPIC_TIMEOUT_SECONDS,
        settings.ANTHROPIC_CONNECT_TIMEOUT_SECONDS,
        settings.ANTHROPIC_MAX_RETRIES,
    )


def get_client() -> anthropic.AsyncAnthropic:
    """The client for the running loop; rebuilt if the settings changed (tests do that)."""
    config = _config()
    api_key, base_url, timeout, connect_timeout, max_retries = config
    if not api_key:
        raise UpstreamError(
            "authentication",
            "No Anthropic API key is configured on this server (set ANTHROPIC_API_KEY).",
        )
    loop = asyncio.get_running_loop()
    cached = _clients.get(loop)
    if cached and cached[0] == config:
        return cached[1]
    client = anthropic.AsyncAnthropic(
        api_key=api_key,
        base_url=base_url,
        timeout=anthropic.Timeout(timeout, connect=connect_timeout),
        max_retries=max_retries,
    )
    _clients[loop] = (config, client)
    return client
