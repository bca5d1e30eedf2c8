"""SIGTERM to a server process: its replies finish within the grace period or are checkpointed
as interrupted; none is left "streaming"."""

import signal
import threading
import time
from contextlib import suppress

from tests.servers import Servers, frames_until, send


def test_sigterm_lets_short_replies_finish_and_interrupts_long_ones(upstream):
    upstream.set_pace(100)
    servers = Servers(upstream, CHATAPP_SHUTDOWN_GRACE_SECONDS="1.5")
    try:
        short_chat, long_chat = servers.new_conversation(), servers.new_conversation()
        short_ws, _ = servers.socket(short_chat)
        long_ws, _ = servers.socket(long_chat)
        send(long_ws, type="user_message", text="A long story [[tokens:3000]]")
        long_id = frames_until(long_ws, "delta")[-1]["message_id"]
        send(short_ws, type="user_message", text="Briefly [[tokens:40]]")
        short_id = frames_until(short_ws, "delta")[-1]["message_id"]

        servers.signal(0, signal.SIGTERM)
        servers.processes[0].wait(timeout=20)

        short, long = servers.database.message(short_id), servers.database.message(long_id)
        assert short["status"] == "complete" and short["output_tokens"] == 40
        assert long["status"] == "interrupted" and long["error_code"] == "interrupted"
        assert long["text"] and 0 < long["output_tokens"] < 3000
        (billed,) = servers.database.row(
            "SELECT count(*) FROM chatapp_usagerecord WHERE message_id = ?", long_id
        )
        assert billed == 1
    finally:
        servers.stop()


def test_sigterm_during_an_http_request_still_stops_the_process(upstream):
    """A request caught by the stop (here an estimate, its count_tokens call slow) can never
    finish once the event loop has stopped; the process stops all the same, within seconds,
    instead of hanging until killed."""
    upstream.set_count_seconds(60)
    servers = Servers(upstream, CHATAPP_SHUTDOWN_GRACE_SECONDS="1")
    try:
        threading.Thread(target=_estimate, args=(servers,), daemon=True).start()
        _until(lambda: any(r["path"] == "/v1/messages/count_tokens" for r in upstream.requests()))

        servers.signal(0, signal.SIGTERM)
        assert servers.processes[0].wait(timeout=20) == 0  # grace + 5 s at the most
    finally:
        upstream.set_count_seconds(0)
        servers.stop()


def _estimate(servers: Servers) -> None:
    with suppress(Exception):  # the answer never comes: the server stops under it
        servers.post("/api/estimate/", {"text": "How long is this?"}, timeout=90)


def _until(condition, timeout: float = 30) -> None:
    """Polls the upstream's request log until ``condition`` holds (the request has reached it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the request never reached the upstream"
        time.sleep(0.05)
