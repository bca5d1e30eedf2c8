"""Helpers for talking to the real ASGI application over a WebSocket in tests."""

import contextlib
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.asgi import application

ORIGIN = b"http://127.0.0.1:8000"
TIMEOUT = 10


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(user, conversation_id: int, *, origin: bytes = ORIGIN, path: str = ""):
    """A connected communicator through origin check, session auth and routing.

    ``path`` overrides the conversation socket's path (for other sockets).
    """
    headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(_session_cookie)(user)))
    communicator = WebsocketCommunicator(
        application, path or f"/ws/conversations/{conversation_id}/", headers=headers
    )
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected


async def close_code(communicator: WebsocketCommunicator) -> int | None:
    """The code the server closed with; the application instance is then shut down."""
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close"
    # Cancelling channels_redis's blocking read can surface as a redis TimeoutError when the
    # instance shuts down: that is the layer's teardown, not the behaviour under test.
    with contextlib.suppress(RedisTimeoutError):
        await communicator.disconnect(code=output.get("code", 1000), timeout=TIMEOUT)
    return output.get("code")


async def next_frame(communicator: WebsocketCommunicator) -> dict[str, Any]:
    return json.loads(await communicator.receive_from(timeout=TIMEOUT))


async def frames_until(communicator, frame_type: str) -> list[dict[str, Any]]:
    """Every frame up to and including the first of ``frame_type``."""
    frames = []
    while True:
        frame = await next_frame(communicator)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames
        assert frame["type"] != "error", f"unexpected error frame: {frame}"


async def send(communicator, **frame) -> None:
    await communicator.send_to(text_data=json.dumps(frame))


def streamed_text(frames: list[dict[str, Any]], message_id: int) -> str:
    """The reply's text as a browser would rebuild it: reply_state, then deltas in seq order."""
    text, seq = "", 0
    for frame in frames:
        if frame.get("message_id") != message_id:
            continue
        if frame["type"] == "reply_state":
            text, seq = frame["text"], frame["seq"]
        elif frame["type"] == "delta":
            assert frame["seq"] == seq + 1, f"gap or repeat: {frame['seq']} after {seq}"
            text, seq = text + frame["text"], frame["seq"]
    return text
