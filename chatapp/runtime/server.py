"""daphne, with WebSocket compression: `python -m chatapp.runtime.server` takes daphne's arguments.

Daphne's WebSocket layer (autobahn) implements permessage-deflate but daphne never accepts a
client's offer, so every delta frame went out as plain JSON: ~45 bytes of envelope around a few
characters of text, 3–7 times the text on the wire. Browsers offer permessage-deflate on every
socket; with it (and the compression context kept across a socket's messages) a reply's deltas
cost about their text. The server's compressor uses a 4 KiB window and memory level 5 (what the
`websockets` library, and so uvicorn, uses), about 40 KiB per socket that has sent a frame,
instead of zlib's 256 KiB defaults; JSON frames repeat within a few hundred bytes anyway.

Request bodies are limited where their bytes arrive. daphne (twisted's HTTP channel) writes a
whole body to memory or a temporary file before the application sees the request, so a limit
in the ASGI application came too late: a POST declaring 2 GB was received and spooled to disk
first. ``BodyLimitedRequest`` checks the declared Content-Length (and, for a chunked body, the
bytes so far) against ``config.limits.request_body_limit`` for the path and answers 413 at once,
without spooling anything.
"""

import gc
import json
from typing import Any
from urllib.parse import unquote, urlsplit

from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server

from config.limits import request_body_limit

# zlib's window (log2 bytes) and memory level for what the server compresses.
SERVER_WINDOW_BITS = 12
SERVER_MEMORY_LEVEL = 5
# After a 413 the rest of the body is read and dropped for at most this long (a client still
# sending would otherwise get a connection reset instead of the answer), then cut off.
REFUSED_BODY_LINGER_SECONDS = 5.0


def accept_deflate(offers: list[Any]) -> PerMessageDeflateOfferAccept | None:
    """Accept the client's first permessage-deflate offer (None: no compression)."""
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            limit = offer.request_max_window_bits  # the client may cap our window further
            return PerMessageDeflateOfferAccept(
                offer,
                # Ask the client to keep to the same window, if it lets us ask.
                request_max_window_bits=SERVER_WINDOW_BITS if offer.accept_max_window_bits else 0,
                window_bits=min(SERVER_WINDOW_BITS, limit) if limit else SERVER_WINDOW_BITS,
                mem_level=SERVER_MEMORY_LEVEL,
            )
    return None


def _request_path(target: bytes) -> str:
    """The path of a request line's target (origin form or absolute URL), without the query."""
    return unquote(urlsplit(target.decode("latin-1")).path)


def too_large_response(message: str) -> bytes:
    """A complete HTTP/1.1 413 answer that closes the connection."""
    body = json.dumps({"error": message}).encode()
    head = (
        "HTTP/1.1 413 Content Too Large\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class BodyLimitedRequest(WebRequest):
    """daphne's request, refusing a body over its path's limit before any of it is kept.

    twisted calls ``gotLength`` once the headers are in (None: chunked) and
    ``handleContentChunk`` for each piece of body; the stock request spools every piece."""

    refused = False
    body_limit = 0
    body_received = 0
    too_large_message = ""

    def gotLength(self, length: int | None) -> None:
        # HTTP/1.1's channel knows the request line by now; another channel (HTTP/2 over TLS)
        # may not: then the default limit, the smallest.
        target = getattr(self.channel, "_path", b"")
        self.body_limit, self.too_large_message = request_body_limit(_request_path(target))
        if length is not None and length > self.body_limit:
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return  # dropped: the connection is closing
        self.body_received += len(data)
        if self.body_received > self.body_limit:
            self._refuse()
            return
        super().handleContentChunk(data)

    def process(self) -> Any:
        if not self.refused:  # a refused body that still arrived whole is not served
            return super().process()
        return None

    def check_timeouts(self) -> None:
        if not self.refused:
            super().check_timeouts()

    def _refuse(self) -> None:
        self.refused = True
        if self.content is not None:
            self.content.close()  # a chunked body's spool so far: gone
        self.content = None
        # No "100 Continue" after the answer (twisted sends it right after gotLength).
        self.requestHeaders.removeHeader(b"Expect")
        transport = self.channel.transport
        transport.write(too_large_response(self.too_large_message))
        # Half-close: the answer goes out, what the client still sends is read and dropped
        # (closing with unread bytes would reset the connection before it reads the 413).
        transport.loseWriteConnection()
        from twisted.internet import reactor  # daphne installed the asyncio reactor first

        reactor.callLater(REFUSED_BODY_LINGER_SECONDS, _abort, transport)


def _abort(transport: Any) -> None:
    if transport.connected:
        transport.abortConnection()


class BodyLimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BodyLimitedRequest
        return protocol


def settle_startup_heap() -> None:
    """Keep the garbage collector off what the process loaded to serve.

    A full collection walks every object the collector tracks: once Django, the SDK and
    pydantic's schemas are loaded that is ~240,000 objects, ~100–190 ms of one core with
    everything else stopped, and a burst of replies allocates enough to run several
    (docs/benchmarks.md, issue 18). What is loaded before serving lives as long as the
    process, so it goes to the permanent generation: full collections walk only what was
    made since. Cycles among those objects were collected just before, so nothing is kept
    that would have been freed.
    """
    gc.collect()
    gc.freeze()


class CompressingServer(Server):
    """daphne's Server whose WebSocket factory accepts permessage-deflate, whose requests
    refuse an oversized body before spooling it (``BodyLimitedRequest``), and which never
    believes X-Forwarded-* itself: daphne would from anyone (``--proxy-headers``); the ASGI
    application does, from CHATAPP_TRUSTED_PROXIES only (config/proxies.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proxy_forwarded_address_header = None
        self.proxy_forwarded_port_header = None
        self.proxy_forwarded_proto_header = None

    def run(self) -> None:
        from twisted.internet import reactor

        from chatapp.policies.replies import process_policy
        from chatapp.replies import shutdown

        # A stop that an HTTP request caught could otherwise hang the process for good.
        reactor.addSystemEventTrigger(
            "before", "shutdown",
            lambda: shutdown.start_exit_deadline(process_policy().shutdown_grace_seconds),
        )
        settle_startup_heap()  # the application is imported by now (daphne's CLI did it)
        super().run()

    @property
    def http_factory(self) -> Any:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: Any) -> None:
        # Server.run() builds daphne's own factory; ours replaces it before it listens.
        self._http_factory = BodyLimitedHTTPFactory(self)

    @property
    def ws_factory(self) -> Any:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: Any) -> None:
        # Server.run() builds the factory and then sets its own options; ours are added here,
        # before the reactor accepts the first connection.
        # failByDrop=False: a socket that breaks a rule (a message over daphne's 1 MiB limit)
        # is closed with its code (1009 "message too big"), not dropped (the browser's 1006).
        factory.setProtocolOptions(perMessageCompressionAccept=accept_deflate, failByDrop=False)
        self._ws_factory = factory


class ChatappCommandLine(CommandLineInterface):
    server_class = CompressingServer


def main() -> None:
    ChatappCommandLine.entrypoint()


if __name__ == "__main__":
    main()
