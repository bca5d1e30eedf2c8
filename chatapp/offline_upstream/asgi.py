"""Small ASGI helpers: reading requests, sending JSON and SSE, watching for disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[str, str]]

JSON_CONTENT_TYPE = "application/json"


class ConnectionDropped(Exception):
    """Raised on purpose to make the server cut the TCP connection mid-response.

    An ASGI app has no way to close its connection; a server closes it when the app raises
    after the response started, which is exactly the "peer went away" a drop fault wants.
    """


class _HideDeliberateDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


def quiet_deliberate_drops() -> None:
    """Keep uvicorn from logging a traceback for every drop fault (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDeliberateDrops) for f in logger.filters):
        logger.addFilter(_HideDeliberateDrops())


def header_map(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _encode(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def start_response(send: Send, status: int, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _encode(headers)})


async def send_body(send: Send, data: bytes, *, more: bool = False) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


def dump_json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def send_json(send: Send, status: int, body: Any, headers: Headers | None = None) -> None:
    data = dump_json(body)
    all_headers = [("content-type", JSON_CONTENT_TYPE), ("content-length", str(len(data)))]
    await start_response(send, status, all_headers + (headers or []))
    await send_body(send, data)


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_until_disconnect(receive: Receive, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` but cancel it as soon as the client goes away.

    Without this, a paced or stalled response whose client left would keep its task (and
    its sleeps) alive until the end; with it, abandoned streams stop like they do upstream.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    with contextlib.suppress(asyncio.CancelledError):
        await task
