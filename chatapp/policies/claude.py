"""The SDK client's config from settings (installed as its source in chatapp/apps.py)."""

from django.conf import settings

from chatapp.claude.policy import ClientConfig

# The key the offline upstream (the demo's stand-in for the API) is called with.
OFFLINE_API_KEY = "offline-demo-key"


def client_config() -> ClientConfig:
    offline_key = OFFLINE_API_KEY if settings.OFFLINE_UPSTREAM else ""
    return ClientConfig(
        api_key=settings.ANTHROPIC_API_KEY or offline_key,
        base_url=settings.ANTHROPIC_BASE_URL or None,
        timeout_seconds=settings.ANTHROPIC_TIMEOUT_SECONDS,
        connect_timeout_seconds=settings.ANTHROPIC_CONNECT_TIMEOUT_SECONDS,
        max_retries=settings.ANTHROPIC_MAX_RETRIES,
    )
