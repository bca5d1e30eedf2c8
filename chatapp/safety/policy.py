"""What the safety package is told by the deployment (built from settings by
``chatapp/policies/safety.py`` at the edges, per request or per connection)."""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ContentPolicy:
    """The content checks a deployment wants (``content_checks.py``, ``flags.py``).

    - ``actions``: the action per kind (flag, redact, withhold or off), built by
      ``content_checks.build_policy`` from ``CHATAPP_CONTENT_ACTIONS``;
    - ``keep_originals``: ``CHATAPP_CONTENT_KEEP_ORIGINALS``, whether redacted or withheld text
      is kept for review;
    - ``phone_region``: ``CHATAPP_PHONE_REGION``, the region of phone numbers written without
      a country code.
    """

    actions: Mapping[str, str]
    keep_originals: bool
    phone_region: str


@dataclass(frozen=True)
class RateLimits:
    """How many of each action one user (or client address) may do per window
    (``ratelimits.py``); 0 means no limit.

    - ``message``: ``CHATAPP_MESSAGE_RATE_LIMIT``;
    - ``upload``: ``CHATAPP_UPLOAD_RATE_LIMIT``;
    - ``estimate``: ``CHATAPP_ESTIMATE_RATE_LIMIT``;
    - ``password_reset``: ``CHATAPP_PASSWORD_RESET_RATE_LIMIT``;
    - ``window_seconds``: ``CHATAPP_RATE_LIMIT_WINDOW_SECONDS``.
    """

    message: int
    upload: int
    estimate: int
    password_reset: int
    window_seconds: int

    def limit(self, action: str) -> int:
        return getattr(self, action)
