"""Running and steering the offline upstream from tests.

    with RunningUpstream(tokens_per_second=2000) as up:
        client = anthropic.AsyncAnthropic(base_url=up.base_url, api_key="test")
        up.add_faults([{"kind": "status", "status": 529}])

Every control method goes over HTTP to the /_control endpoints, so `UpstreamControl(base_url)`
steers a separately started server (`python -m chatapp.offline_upstream`) just the same.  The
methods are synchronous (stdlib urllib): calling them from async tests is fine, as the server
runs on its own thread and loop.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import uvicorn

from .app import create_app

STARTUP_TIMEOUT_SECONDS = 10.0


class UpstreamControl:
    """A client for the control endpoints of an offline upstream at `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def add_faults(self, faults: Iterable[dict[str, Any]]) -> None:
        """Queue faults; each following POST /v1/messages consumes one, in order."""
        self.call("POST", "/_control/faults", list(faults))

    def reset(self) -> None:
        """Clear faults, cache, request log and clock; pace back to the configured default."""
        self.call("POST", "/_control/reset", {})

    def requests(self) -> list[dict[str, Any]]:
        """The /v1 requests received: method, path, query, headers, JSON body; newest last."""
        return self.call("GET", "/_control/requests")["requests"]

    def set_pace(self, tokens_per_second: float) -> None:
        """Change the stream pace, running streams included (0 = unpaced)."""
        self.call("POST", "/_control/pace", {"tokens_per_second": tokens_per_second})

    def set_count_seconds(self, seconds: float) -> None:
        """How long each count_tokens call takes from now on (reset: 0)."""
        self.call("POST", "/_control/pace", {"count_seconds": seconds})

    def advance_clock(self, seconds: float) -> None:
        """Move the prompt cache's clock forward (to expire or age entries without sleeping)."""
        self.call("POST", "/_control/clock", {"advance_seconds": seconds})

    def set_batch_seconds(self, seconds: float) -> None:
        """How long batches created from now on take: their requests finish evenly spread
        over this many seconds of the upstream's clock (see `advance_clock`)."""
        self.call("POST", "/_control/batches", {"processing_seconds": seconds})

    def drop_next_results_after(self, lines: int) -> None:
        """Cut the next batch results download after this many lines (connection lost)."""
        self.call("POST", "/_control/batches", {"drop_results_after_lines": lines})

    def set_first_token(self, seconds: float) -> None:
        """Wait this long before the first token of replies started from now on."""
        self.call("POST", "/_control/pace", {"first_token_seconds": seconds})

    def record_stamps(self, enabled: bool = True) -> None:
        """Record the write time of every streamed text delta from now on (see stamps.py)."""
        self.call("POST", "/_control/stamps", {"enabled": enabled})

    def stamps(self) -> list[dict[str, Any]]:
        """Recorded streams: `request_id`, `prompt` (the last user text), `received` (monotonic
        seconds when the request arrived), `writes` as [monotonic seconds, characters of text
        written so far] per text delta."""
        return self.call("GET", "/_control/stamps")["streams"]

    def set_context_window(self, model: str, tokens: int) -> None:
        """Give ``model`` a smaller context window (until reset): a longer prompt gets the
        API's 400 ``prompt is too long``, so long-conversation tests stay small."""
        self.call("POST", "/_control/models", {"model": model, "context_window": tokens})

    def state(self) -> dict[str, Any]:
        """Current and default pace, queued faults, clock reading, batch processing time."""
        return self.call("GET", "/_control/state")


class RunningUpstream(UpstreamControl):
    """The offline upstream served by uvicorn on a background thread, on a free loopback port."""

    def __init__(
        self,
        tokens_per_second: float | None = None,
        host: str = "127.0.0.1",
        batch_seconds: float | None = None,
        event_ms: str | None = None,
    ) -> None:
        self.app = create_app(tokens_per_second, batch_seconds, event_ms=event_ms)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        port = self._socket.getsockname()[1]
        super().__init__(f"http://{host}:{port}")
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="offline-upstream",
            daemon=True,
        )

    def start(self) -> RunningUpstream:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the offline upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        # Streams a failed test abandoned are cancelled after timeout_graceful_shutdown.
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        self._socket.close()

    def __enter__(self) -> RunningUpstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
