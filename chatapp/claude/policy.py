"""How the SDK's client is built: a frozen ``ClientConfig`` and where it comes from.

The client is process-wide wiring used by every caller of ``chatapp.claude`` (replies, uploads,
budgets, batch jobs), so the config is not passed per call: the app hands in, once, the function
that builds it from settings (``chatapp/apps.py`` installs
``chatapp.policies.claude.client_config``), and ``client.get_client`` asks it at each call, so
a changed setting takes effect on the next call. No SDK import here: installing the source
costs nothing at start-up.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientConfig:
    """``api_key``: ANTHROPIC_API_KEY (the offline demo's key with OFFLINE_UPSTREAM; "" when
    none is configured); ``base_url``: ANTHROPIC_BASE_URL (None: Anthropic's);
    ``timeout_seconds``, ``connect_timeout_seconds``: ANTHROPIC_TIMEOUT_SECONDS,
    ANTHROPIC_CONNECT_TIMEOUT_SECONDS; ``max_retries``: ANTHROPIC_MAX_RETRIES."""

    api_key: str
    base_url: str | None
    timeout_seconds: float
    connect_timeout_seconds: float
    max_retries: int


ConfigSource = Callable[[], ClientConfig]
_source: ConfigSource | None = None


def install(source: ConfigSource) -> None:
    """Where the client's config comes from (the app does this once, in ``ready()``)."""
    global _source
    _source = source


def client_config() -> ClientConfig:
    if _source is None:
        raise RuntimeError("chatapp.claude.policy.install() was not called (chatapp/apps.py)")
    return _source()
