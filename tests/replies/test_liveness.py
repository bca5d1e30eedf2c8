"""Several daphne processes on PostgreSQL and Redis serve one site: a reply generated in one
process streams to sockets held by another, a reconnect elsewhere resumes by seq, and a
process killed mid-reply leaves its reply interrupted, not lost and not stuck."""

import json
import signal

import pytest

from tests.replies.test_crash_billing import wait_for_checkpoint
from tests.servers import Servers, frames_until, receive, send

pytestmark = [pytest.mark.services]


def rebuild(frames, message_id, text="", seq=0):
    """The reply's text as the browser rebuilds it; fails on a gap or a repeat."""
    for frame in frames:
        if frame.get("message_id") != message_id:
            continue
        if frame["type"] == "reply_state":
            assert frame["seq"] >= seq, "a reply_state older than what was applied"
            text, seq = frame["text"], frame["seq"]
        elif frame["type"] == "delta":
            assert frame["seq"] == seq + 1, f"gap or repeat: {frame['seq']} after {seq}"
            text, seq = text + frame["text"], frame["seq"]
    return text, seq


@pytest.fixture
def two_processes(upstream):
    servers = Servers(upstream, count=2)
    yield servers
    servers.stop()


def test_a_reply_from_one_process_streams_to_and_resumes_on_another(two_processes, upstream):
    servers = two_processes
    upstream.set_pace(300)
    chat = servers.new_conversation()
    on_a, _ = servers.socket(chat, index=0)
    on_b, _ = servers.socket(chat, index=1)

    send(on_a, type="user_message", text="Explain it all [[tokens:900]]")
    seen_by_b = frames_until(on_b, "delta")
    seen_by_b += [receive(on_b) for _ in range(3)]
    reply_id = seen_by_b[-1]["message_id"]
    text, seq = rebuild(seen_by_b, reply_id)
    assert seq >= 2  # generated in A, streamed through Redis to the socket held by B

    on_b.close()  # the tab loses its connection, then comes back, to B again
    again, hello = servers.socket(chat, index=1)
    state = hello[0]
    assert state["type"] == "reply_state" and state["seq"] >= seq
    assert state["text"].startswith(text)
    rest = frames_until(again, "message_completed", reply_id)
    resumed, _ = rebuild([state, *rest], reply_id)

    stored = servers.database.message(reply_id)
    assert rest[-1]["status"] == "complete" and stored["status"] == "complete"
    assert resumed == stored["text"]


def test_killing_the_generating_process_leaves_the_reply_interrupted(two_processes, upstream):
    servers = two_processes
    upstream.set_pace(150)
    chat = servers.new_conversation()
    on_a, _ = servers.socket(chat, index=0)
    on_b, _ = servers.socket(chat, index=1)

    send(on_a, type="user_message", text="A very long answer [[tokens:5000]]")
    started = frames_until(on_b, "delta")
    reply_id = started[-1]["message_id"]
    started += frames_until(on_b, "delta")
    wait_for_checkpoint(servers, reply_id, output_at_least=5)  # with the usage so far

    servers.signal(0, signal.SIGKILL)  # no goodbye: only the heartbeat stops
    ended = frames_until(on_b, "message_completed", reply_id)

    assert ended[-1]["status"] == "interrupted"
    stored = servers.database.message(reply_id)
    assert stored["status"] == "interrupted" and stored["error_code"] == "interrupted"
    assert stored["text"]  # what was written is kept, from the live state in Redis
    text, _ = rebuild(started + ended, reply_id)
    assert stored["text"].startswith(text)
    # The call it was streaming is billed from its last checkpoint, as an estimate.
    assert ended[-1]["cost_usd"] and ended[-1]["options"]["cost_estimated"] is True
    count, billed, breakdown = servers.database.row(
        "SELECT count(*), sum(cost_usd), max(cost_breakdown::text) FROM chatapp_usagerecord "
        "WHERE message_id = ?", reply_id,
    )
    assert count == 1 and str(billed.normalize()) == ended[-1]["cost_usd"]
    assert json.loads(breakdown)["estimated"] is True
    (spent,) = servers.database.row("SELECT sum(spent_usd) FROM chatapp_monthlyspend")
    assert spent == billed  # the month is not short
