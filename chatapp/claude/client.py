"""One pooled ``AsyncAnthropic`` per event loop, built from settings.

The SDK's HTTP pool belongs to the loop that first used it, so the client is kept per loop
(daphne runs one loop per process: in production this is one client per process).
"""

import asyncio
import contextvars
import weakref
from collections.abc import Callable
from typing import Any

import anthropic
from django.conf import settings

from chatapp.claude.types import UpstreamError

# Told (seconds to wait, HTTP status or None for a connection error) each time the SDK is
# about to retry a request that failed before its stream started. Set per reply task.
RetryListener = Callable[[float, int | None], None]
retry_listener: contextvars.ContextVar[RetryListener | None] = contextvars.ContextVar(
    "retry_listener", default=None
)


class _Client(anthropic.AsyncAnthropic):
    """The SDK's client, telling a listener when its own retry loop is about to wait.

    The SDK retries 408/409/429/5xx and connection errors itself; we keep that loop (no second
    one of ours) and only hook the one method that decides how long it sleeps, so the user
    can be told "Claude is busy, retrying in N s" with the SDK's exact wait.
    """

    async def _sleep_for_retry(self, *, response: Any = None, **kwargs: Any) -> None:
        token = _retry_status.set(response.status_code if response is not None else None)
        try:
            await super()._sleep_for_retry(response=response, **kwargs)
        finally:
            _retry_status.reset(token)

    def _calculate_retry_timeout(self, *args: Any, **kwargs: Any) -> float:
        timeout = super()._calculate_retry_timeout(*args, **kwargs)
        listener = retry_listener.get()
        if listener is not None:
            listener(timeout, _retry_status.get())
        return timeout


_retry_status: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "retry_status", default=None
)

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
    client = _Client(
        api_key=api_key,
        base_url=base_url,
        timeout=anthropic.Timeout(timeout, connect=connect_timeout),
        max_retries=max_retries,
    )
    _clients[loop] = (config, client)
    return client
