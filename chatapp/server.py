"""daphne, with WebSocket compression: `python -m chatapp.server` takes daphne's arguments.

Daphne's WebSocket layer (autobahn) implements permessage-deflate but daphne never accepts a
client's offer, so every delta frame went out as plain JSON: ~45 bytes of envelope around a few
characters of text, 3–7 times the text on the wire. Browsers offer permessage-deflate on every
socket; with it (and the compression context kept across a socket's messages) a reply's deltas
cost about their text. The server's compressor uses a 4 KiB window and memory level 5 (what the
`websockets` library, and so uvicorn, uses), about 40 KiB per socket that has sent a frame,
instead of zlib's 256 KiB defaults; JSON frames repeat within a few hundred bytes anyway.
"""

from typing import Any

from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)
from daphne.cli import CommandLineInterface
from daphne.server import Server

# zlib's window (log2 bytes) and memory level for what the server compresses.
SERVER_WINDOW_BITS = 12
SERVER_MEMORY_LEVEL = 5


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


class CompressingServer(Server):
    """daphne's Server whose WebSocket factory accepts permessage-deflate, and which never
    believes X-Forwarded-* itself: daphne would from anyone (``--proxy-headers``); the ASGI
    application does, from CHATAPP_TRUSTED_PROXIES only (config/proxies.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proxy_forwarded_address_header = None
        self.proxy_forwarded_port_header = None
        self.proxy_forwarded_proto_header = None

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
