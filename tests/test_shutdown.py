"""SIGTERM to a server process: its replies finish within the grace period or are checkpointed
as interrupted; none is left "streaming"."""

import signal

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
