"""How large a request body may be, by path, and an ASGI guard that refuses an oversized upload.

``request_body_limit(path)`` is the limit the server itself enforces where the bytes arrive
(``chatapp/runtime/server.py``: daphne would otherwise receive and spool a whole body, of any
declared size, to memory or disk before the application saw the request): uploads get the
upload limit, imports the import limit, everything else ``DEFAULT_BODY_LIMIT``.

Django's ASGI handler reads a whole request body (into a spooled temporary file) before any
view runs, so a view cannot refuse a 40 MB upload without receiving all 40 MB first. This
guard sits in front of Django for the upload paths: a declared Content-Length over the limit
is answered 413 at once, and a body that grows past the limit without declaring its length
(chunked) is cut off and answered 413 as soon as it does.
"""

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

# Every other request (forms, JSON) is small: Django's own DATA_UPLOAD_MAX_MEMORY_SIZE is 1 MiB.
DEFAULT_BODY_LIMIT = 1024 * 1024
UPLOAD_PATHS = re.compile(
    r"^/api/(conversations/\d+/attachments|projects/\d+/documents|batch-documents)/$"
)
IMPORT_PATHS = re.compile(r"^/api/conversations/import/$")


def _upload_limit() -> int:
    from chatapp.web import api_attachments  # needs Django set up: looked up per request

    return api_attachments.upload_body_limit()


def _upload_message() -> str:
    from django.conf import settings

    from chatapp.attachments import intake

    return intake.too_large(settings.CHATAPP_MAX_UPLOAD_MB).message


def _import_limit() -> int:
    from chatapp.conversations import imports

    return imports.MAX_IMPORT_BYTES + 1  # one byte more, so the view says "larger than 10 MB"


def _import_message() -> str:
    from chatapp.conversations import imports

    return f"The file is larger than {imports.MAX_IMPORT_BYTES // 2**20} MB."


@dataclass(frozen=True)
class BodyLimit:
    """A path's limit on request bodies, and what a request over it is told."""

    paths: re.Pattern[str]
    limit: Callable[[], int]
    message: Callable[[], str]


# Paths with a larger body than DEFAULT_BODY_LIMIT, first match wins.
BODY_LIMITS: tuple[BodyLimit, ...] = (
    BodyLimit(UPLOAD_PATHS, _upload_limit, _upload_message),
    BodyLimit(IMPORT_PATHS, _import_limit, _import_message),
)


def request_body_limit(path: str) -> tuple[int, str]:
    """The most bytes a request body to ``path`` may have, and the words for one over it."""
    for rule in BODY_LIMITS:
        if rule.paths.match(path):
            return rule.limit(), rule.message()
    return DEFAULT_BODY_LIMIT, (
        f"The request is larger than {DEFAULT_BODY_LIMIT // 2**20} MB, the most this "
        "address accepts."
    )


Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class UploadSizeLimit:
    """413 for requests to ``paths`` whose body is larger than ``limit()`` bytes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        paths: re.Pattern[str],
        limit: Callable[[], int],
        message: Callable[[], str],
    ) -> None:
        self.app = app
        self.paths = paths
        self.limit = limit
        self.message = message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.paths.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(send)
            return
        received = 0
        cut_off = False

        async def counted_receive() -> Message:
            nonlocal received, cut_off
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django treats a disconnect while reading as an aborted request and sends
                    # nothing; the 413 below is then the only answer.
                    cut_off = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted_receive, send)
        if cut_off:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": self.message()}).encode()
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        })
        await send({"type": "http.response.body", "body": body})
