"""One pooled ``AsyncAnthropic`` per event loop, built from the ``ClientConfig`` the app
hands in (chatapp/claude/policy.py).

The SDK's HTTP pool belongs to the loop that first used it, so the client is kept per loop
(daphne runs one loop per process: in production this is one client per process).
"""

import asyncio
import contextvars
import email.utils
import time
import weakref
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2

from chatapp.claude import policy
from chatapp.claude.policy import ClientConfig
from chatapp.claude.types import UpstreamError

# Told (seconds to wait, HTTP status or None for a connection error) each time the SDK is
# about to retry a request that failed before its stream started. Set per reply task.
RetryListener = Callable[[float, int | None], None]
retry_listener: contextvars.ContextVar[RetryListener | None] = contextvars.ContextVar(
    "retry_listener", default=None
)

# The SDK's documented retry policy: connection errors, 408, 409, 429 and every 5xx, unless
# the API says otherwise in `x-should-retry`; it waits what `retry-after(-ms)` asks, else an
# exponential backoff of 0.5 s × 2ⁿ up to 8 s, less up to a quarter of jitter.
RETRIED_STATUSES = frozenset({408, 409, 429})
BACKOFF_FIRST_SECONDS, BACKOFF_MAX_SECONDS = 0.5, 8.0


def _will_retry(response: httpx2.Response) -> bool:
    told = response.headers.get("x-should-retry")
    if told in ("true", "false"):
        return told == "true"
    return response.status_code in RETRIED_STATUSES or response.status_code >= 500


def _asked_wait(headers: httpx2.Headers) -> float | None:
    """The wait `retry-after-ms` or `retry-after` (seconds or an HTTP date) asks for."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            moment = email.utils.parsedate_tz(value)
            if moment is not None:
                return float(email.utils.mktime_tz(moment) - time.time())
    return None


def retry_wait(retries_taken: int, headers: httpx2.Headers | None = None) -> float:
    """How long the SDK waits before its next attempt (the backoff's upper bound: the SDK
    takes off up to 25% of jitter, so a notice never promises a retry too early)."""
    asked = _asked_wait(headers) if headers is not None else None
    if asked is not None and asked > 0:
        return asked
    return min(BACKOFF_FIRST_SECONDS * 2**retries_taken, BACKOFF_MAX_SECONDS)


class RetryAnnouncer(anthropic.Middleware):
    """Tells the task's ``retry_listener`` when an attempt failed and the SDK will retry it.

    SDK middleware (a public hook) runs once per HTTP attempt inside the SDK's own retry
    loop, so we keep that loop (no second one of ours) and only watch it. The SDK does not
    publish its retry decision or its wait, so both follow its documented policy above.
    ``max_retries`` is the client's: a client derived with another count needs its own.
    """

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries

    async def handle_async(
        self, request: anthropic.APIRequest, call_next: anthropic.AsyncCallNext
    ) -> Any:
        listener = retry_listener.get()
        if listener is None:
            return await call_next(request)
        max_retries = request.max_retries
        if not isinstance(max_retries, int):
            max_retries = self.max_retries
        retries_left = request.retries_taken < max_retries
        try:
            response = await call_next(request)
        except anthropic.APIConnectionError:
            if retries_left:
                listener(retry_wait(request.retries_taken), None)
            raise
        failed = response.http_response
        if retries_left and not failed.is_success and _will_retry(failed):
            listener(retry_wait(request.retries_taken, failed.headers), failed.status_code)
        return response


_Cached = tuple[ClientConfig, anthropic.AsyncAnthropic]
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Cached]" = (
    weakref.WeakKeyDictionary()
)


def get_client() -> anthropic.AsyncAnthropic:
    """The client for the running loop; rebuilt if its config changed (tests do that)."""
    config = policy.client_config()
    if not config.api_key:
        raise UpstreamError(
            "authentication",
            "No Anthropic API key is configured on this server (set ANTHROPIC_API_KEY).",
        )
    loop = asyncio.get_running_loop()
    cached = _clients.get(loop)
    if cached and cached[0] == config:
        return cached[1]
    client = anthropic.AsyncAnthropic(
        api_key=config.api_key,
        base_url=config.base_url,
        timeout=anthropic.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
        max_retries=config.max_retries,
        middleware=[RetryAnnouncer(config.max_retries)],
    )
    _clients[loop] = (config, client)
    return client


def without_retries() -> anthropic.AsyncAnthropic:
    """The client, making exactly one attempt per call: for calls that must not be repeated
    blindly (a batch create has no idempotency key, so a retried timeout can make two)."""
    return get_client().with_options(max_retries=0, middleware=[])
