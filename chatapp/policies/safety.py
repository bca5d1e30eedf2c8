"""The safety package's policies, from settings (called by the edges, per request or socket)."""

from django.conf import settings

from chatapp.safety.content_checks import actions_for
from chatapp.safety.policy import ContentPolicy, RateLimits


def content_policy() -> ContentPolicy:
    """``PolicyError`` when ``CHATAPP_CONTENT_ACTIONS`` names an unknown kind or action."""
    return ContentPolicy(
        actions=actions_for(settings.CHATAPP_CONTENT_ACTIONS),
        keep_originals=settings.CHATAPP_CONTENT_KEEP_ORIGINALS,
        phone_region=settings.CHATAPP_PHONE_REGION,
    )


def rate_limits() -> RateLimits:
    return RateLimits(
        message=settings.CHATAPP_MESSAGE_RATE_LIMIT,
        upload=settings.CHATAPP_UPLOAD_RATE_LIMIT,
        estimate=settings.CHATAPP_ESTIMATE_RATE_LIMIT,
        password_reset=settings.CHATAPP_PASSWORD_RESET_RATE_LIMIT,
        window_seconds=settings.CHATAPP_RATE_LIMIT_WINDOW_SECONDS,
    )
