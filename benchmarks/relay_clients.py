"""Clients of the relay benchmark, as a browser would be: a session from the login form,
conversations made through the JSON API, one WebSocket per conversation. Each socket counts
the bytes it receives off the TCP connection and notes when each delta's text arrived."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 60


class Session:
    """A logged-in browser session (cookies) on one site."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        page = self._http.open(f"{base_url}/accounts/login/", timeout=TIMEOUT).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = {"username": username, "password": password, "csrfmiddlewaretoken": token}
        request = urllib.request.Request(f"{base_url}/accounts/login/",
                                         data=urllib.parse.urlencode(form).encode(),
                                         headers={"Referer": base_url})
        self._http.open(request, timeout=TIMEOUT)
        if "sessionid" not in self.cookie_header():
            raise RuntimeError("the benchmark user could not log in")

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)

    def _cookie(self, name: str) -> str:
        return next(c.value for c in self.cookies if c.name == name)

    def new_conversation(self) -> int:
        request = urllib.request.Request(
            f"{self.base_url}/api/conversations/", data=b"{}", method="POST",
            headers={"Content-Type": "application/json", "X-CSRFToken": self._cookie("csrftoken"),
                     "Referer": self.base_url},
        )
        return json.loads(self._http.open(request, timeout=TIMEOUT).read())["id"]

    def new_conversations(self, count: int) -> list[int]:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda _: self.new_conversation(), range(count)))


class CountingConnection(ClientConnection):
    """A client connection that counts the bytes read off its TCP socket."""

    received_bytes = 0

    def data_received(self, data: bytes) -> None:
        self.received_bytes += len(data)
        super().data_received(data)


def frame_bytes(payload: int) -> int:
    """A server frame's size on the wire (unmasked): header by RFC 6455 §5.2 plus payload."""
    return payload + (2 if payload < 126 else 4 if payload < 65536 else 10)


async def open_socket(session: Session, ws_base: str, conversation_id: int) -> CountingConnection:
    """A socket to a conversation, past its `ready` frame. No client pings: a browser sends none."""
    ws = await connect(
        f"{ws_base}/ws/conversations/{conversation_id}/",
        additional_headers={"Cookie": session.cookie_header()},
        # The page's own origin: a browser's socket goes to the server that served the page
        # (the app checks scheme, host and port; with two processes each has its own port).
        origin="http" + ws_base.removeprefix("ws"), ping_interval=None, max_size=None,
        open_timeout=TIMEOUT,
        create_connection=CountingConnection,
    )
    while json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] != "ready":
        pass
    return ws


@dataclass
class Reply:
    """One reply as a client saw it."""

    prompt: str
    sent: float = 0.0
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (time, chars so far)
    text_chars: int = 0
    wire_bytes: int = 0
    payload_bytes: int = 0
    framed_bytes: int = 0
    delta_framed_bytes: int = 0
    delta_wire_bytes: int = 0  # read off TCP from message_started to the last delta
    frames: int = 0
    status: str = ""
    done: float = 0.0

    @property
    def ttft(self) -> float | None:
        return self.arrivals[0][0] - self.sent if self.arrivals else None


async def ask(ws: CountingConnection, prompt: str) -> Reply:
    """Send one message and read until its reply completes, noting when its text arrives."""
    reply = Reply(prompt)
    reply_id = None
    started_bytes = 0
    start_bytes = ws.received_bytes
    reply.sent = time.monotonic()
    await ws.send(json.dumps({"type": "user_message", "text": prompt}))
    while True:
        try:
            raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
        except TimeoutError:  # counted as incomplete in its level, with what it had got
            reply.status = f"nothing for {TIMEOUT} s after {reply.frames} frames"
            reply.done = time.monotonic()
            break
        now = time.monotonic()
        frame = json.loads(raw)
        size = len(raw.encode())
        reply.payload_bytes += size
        reply.framed_bytes += frame_bytes(size)
        reply.frames += 1
        kind = frame["type"]
        if kind == "message_started":
            reply_id, started_bytes = frame["message_id"], ws.received_bytes
        elif kind == "delta" and frame["message_id"] == reply_id:
            reply.delta_wire_bytes = ws.received_bytes - started_bytes
            reply.delta_framed_bytes += frame_bytes(size)
            reply.text_chars += len(frame["text"])
            reply.arrivals.append((now, reply.text_chars))
        elif kind == "message_completed" and frame["message_id"] == reply_id:
            reply.status, reply.done = frame["status"], now
            break
        elif kind == "error":
            raise RuntimeError(f"the app refused a message: {frame}")
    reply.wire_bytes = ws.received_bytes - start_bytes
    return reply


def prompt(tag: str, tokens: int) -> str:
    """A message the upstream answers with exactly `tokens` tokens, findable by its tag."""
    return f"relay benchmark {tag} [[tokens:{tokens}]]"
