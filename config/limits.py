"""An ASGI guard that refuses an oversized upload before its body is read.

Django's ASGI handler reads a whole request body (into a spooled temporary file) before any
view runs, so a view cannot refuse a 40 MB upload without receiving all 40 MB first. This
guard sits in front of Django for the upload paths: a declared Content-Length over the limit
is answered 413 at once, and a body that grows past the limit without declaring its length
(chunked) is cut off and answered 413 as soon as it does.
"""

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

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
