"""ASGI entry point: HTTP → upload size guard → Django; WebSocket → origin check (scheme, host
and port: config/origins.py) → session auth → routes."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from chatapp.attachments import intake  # noqa: E402
from chatapp.web import api_attachments  # noqa: E402
from chatapp.web.routing import websocket_urlpatterns  # noqa: E402
from config.limits import UPLOAD_PATHS, UploadSizeLimit  # noqa: E402
from config.origins import SameOriginOnly  # noqa: E402
from config.proxies import TrustedProxies  # noqa: E402

# An upload over the limit is answered 413 before its body is read (config/limits.py). Under
# `python -m chatapp.runtime.server` the server refuses it even earlier, before spooling it; this
# guard
# covers other ASGI servers.
http_app = UploadSizeLimit(
    django_asgi_app,
    paths=UPLOAD_PATHS,
    limit=api_attachments.upload_body_limit,
    message=lambda: intake.too_large(settings.CHATAPP_MAX_UPLOAD_MB).message,
)

# The client's address from X-Forwarded-For only behind CHATAPP_TRUSTED_PROXIES
# (config/proxies.py): the login lockout counts by address.
application = TrustedProxies(
    ProtocolTypeRouter(
        {
            "http": http_app,
            "websocket": SameOriginOnly(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
