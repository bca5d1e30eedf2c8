"""Per-user rate limits on messages, uploads and cost estimates, counted in the cache.

A fixed window: each user may do an action N times per window (``policy.RateLimits``, from
settings ``CHATAPP_MESSAGE_RATE_LIMIT``, ``CHATAPP_UPLOAD_RATE_LIMIT``,
``CHATAPP_ESTIMATE_RATE_LIMIT``, ``CHATAPP_RATE_LIMIT_WINDOW_SECONDS``; passed in by the
edge). The count lives in Django's cache, which is Redis when
several processes serve the site, so the limit holds across all of them. A burst of up to
2N around a window boundary is possible; that is the price of one cache round trip per action.
"""

import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.core.cache import cache

from chatapp.errors import ChatappError
from chatapp.operations import metrics
from chatapp.safety.policy import RateLimits


@dataclass(frozen=True)
class Action:
    noun: str  # in "You have sent too many messages"
    verb: str


ACTIONS = {
    "message": Action("messages", "sent"),
    "upload": Action("files", "uploaded"),
    # Each estimate is a count_tokens call upstream, which the API rate-limits per key.
    "estimate": Action("cost estimates", "asked for"),
    # Counted per client address (nobody is logged in): each sends a mail.
    "password_reset": Action("password reset requests", "made"),
}


class RateLimited(ChatappError):
    """Too many of one action; ``code`` and ``message`` are what the user is told."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, action: str, retry_after: int) -> None:
        what = ACTIONS[action]
        self.retry_after = retry_after
        metrics.rate_limited(action)
        super().__init__(
            f"You have {what.verb} too many {what.noun} in a short time. "
            f"Wait {retry_after} s and try again; nothing was lost."
        )


def spend_sync(user_id: int | str, action: str, limits: RateLimits) -> None:
    """Count one ``action`` for the user (or a client address), or raise ``RateLimited`` if
    that is one too many."""
    limit = limits.limit(action)
    if limit <= 0:
        return
    window = limits.window_seconds
    now = time.time()
    window_start = int(now // window) * window
    key = f"chatapp:rate:{action}:{user_id}:{window_start}"
    # add() starts the count atomically; incr() is atomic in Redis and in the local cache.
    if cache.add(key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # the window's key expired between add() and incr()
            cache.add(key, 1, timeout=window + 1)
            count = 1
    if count > limit:
        raise RateLimited(action, max(1, int(window_start + window - now + 0.999)))


async def spend(user_id: int, action: str, limits: RateLimits) -> None:
    """``spend_sync`` for async code: the cache call runs off the event loop."""
    await sync_to_async(spend_sync)(user_id, action, limits)
