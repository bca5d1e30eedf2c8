"""An offline stand-in for the Anthropic Messages API (see docs/offline-upstream.md).

A pure ASGI application: no Django, no `anthropic` import.  Run it with
`python -m chatapp.offline_upstream --host 127.0.0.1 --port 8765`, or in tests with
`chatapp.offline_upstream.testing.RunningUpstream`.
"""

from .app import OfflineUpstream, create_app

__all__ = ["OfflineUpstream", "create_app"]
