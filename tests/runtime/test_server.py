"""The server `make run` starts (`python -m chatapp.runtime.server`: daphne) compresses WebSocket
frames
for clients that offer permessage-deflate, as browsers do, and still serves those that don't."""

import gc
import json
import socket
import time

import pytest
from websockets.sync.client import connect

from chatapp.runtime.server import settle_startup_heap
from tests.servers import Servers, receive, send


class CountingSocket(socket.socket):
    """A TCP socket that counts the bytes read off it."""

    received = 0

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        self.received += len(data)
        return data


@pytest.fixture(scope="module")
def server(offline_upstream):
    servers = Servers(offline_upstream)
    yield servers
    servers.stop()


@pytest.fixture
def servers(server, upstream):
    # Paced so that a reply is many small delta frames, as from Claude.
    upstream.set_pace(200)
    return server


def _ask(servers: Servers, *, compression: str | None) -> tuple[str | None, int, int, int]:
    """One 80-token reply on a fresh socket: the extension the server accepted, the reply's
    text length, its frames' uncompressed size on the wire, and the bytes read off TCP."""
    conversation = servers.new_conversation()
    sock = CountingSocket()
    sock.connect(("127.0.0.1", servers.ports[0]))
    cookies = "; ".join(f"{c.name}={c.value}" for c in servers.cookies)
    with connect(
        f"ws://127.0.0.1:{servers.ports[0]}/ws/conversations/{conversation}/",
        sock=sock,
        compression=compression,
        open_timeout=20,
        additional_headers={"Cookie": cookies, "Origin": servers.url()},
    ) as ws:
        while receive(ws)["type"] != "ready":
            pass
        before = sock.received
        send(ws, type="user_message", text="Tell me a story [[tokens:80]]")
        text, plain = "", 0
        while True:
            raw = ws.recv(timeout=20).encode()
            # RFC 6455: 2 header bytes below 126 bytes of payload, 4 below 64 KiB.
            plain += len(raw) + (2 if len(raw) < 126 else 4)
            frame = json.loads(raw)
            text += frame.get("text", "") if frame["type"] == "delta" else ""
            if frame["type"] == "message_completed":
                break
        read = sock.received - before
    return ws.response.headers.get("Sec-WebSocket-Extensions"), len(text), plain, read


def test_a_client_offering_deflate_gets_it_and_the_deltas_are_compressed(servers):
    extension, text, plain, read = _ask(servers, compression="deflate")
    assert extension.startswith("permessage-deflate")
    assert text > 200
    # Uncompressed, the reply's many small delta frames cost several times their text.
    assert plain > 2 * text
    assert read < plain / 2


def test_a_client_without_deflate_is_served_plain_frames(servers):
    extension, text, plain, read = _ask(servers, compression=None)
    assert extension is None
    assert text > 200 and read >= plain


def test_what_was_loaded_before_serving_is_kept_out_of_full_collections():
    gc.collect()
    started = time.process_time()
    gc.collect()
    walking_everything = time.process_time() - started
    try:
        settle_startup_heap()
        assert gc.get_freeze_count() > 100_000  # Django, the SDK, the app: all loaded here
        started = time.process_time()
        gc.collect()
        assert time.process_time() - started < walking_everything / 5
    finally:
        gc.unfreeze()
