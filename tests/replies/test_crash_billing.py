"""A server process killed mid-reply (SIGKILL: no goodbye) still bills the call it was
streaming: its last checkpoint stored the usage known so far, and the start-up recovery
records it as an estimate, priced, in the user's month (issue 24 item 7)."""

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal

from tests.servers import ROOT, TIMEOUT, Servers, _wait_for, frames_until, send

RECOVER = (
    "from chatapp.policies.replies import process_policy; "
    "from chatapp.replies.recovery import mark_orphaned_replies; "
    "print(mark_orphaned_replies(process_policy()))"
)


def checkpointed_usage(servers, reply_id):
    """The usage the reply's last checkpoint stored, once one has (None before)."""
    (options,) = servers.database.row(
        "SELECT options FROM chatapp_message WHERE id = ?", reply_id
    )
    options = json.loads(options) if isinstance(options, str) else options
    return options.get("checkpoint_usage")


def wait_for_checkpoint(servers, reply_id, output_at_least):
    """Until a checkpoint holds the input usage and at least this much output."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        kept = checkpointed_usage(servers, reply_id)
        if kept and kept["calls"][0]["output_tokens"] >= output_at_least:
            return kept
        time.sleep(0.05)
    raise AssertionError("no checkpoint with usage was written")


def api(servers, path):
    return json.loads(servers.http.open(f"{servers.url()}{path}", timeout=TIMEOUT).read())


def kill_mid_reply_and_recover(servers):
    """A long reply on process 0, SIGKILL once a checkpoint holds some usage, then the start-up
    recovery `make run` does (chatapp/runtime/launcher.py), then the process again, on the same
    database. Returns (conversation id, reply id, the usage the last checkpoint held)."""
    chat = servers.new_conversation()
    ws, _ = servers.socket(chat)
    send(ws, type="user_message", text="A very long answer [[tokens:5000]]")
    reply_id = frames_until(ws, "delta")[-1]["message_id"]
    kept = wait_for_checkpoint(servers, reply_id, output_at_least=5)

    servers.signal(0, signal.SIGKILL)
    servers.processes[0].wait(timeout=TIMEOUT)
    recovered = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", RECOVER],
        env=servers.env, cwd=ROOT, check=True, capture_output=True, text=True,
    )
    assert recovered.stdout.split()[-1] == "1"  # one reply marked interrupted
    servers.processes[0] = servers.spawn(servers.ports[0])
    _wait_for(servers.ports[0], servers.processes[0])
    return chat, reply_id, kept["calls"][0]


def test_a_killed_reply_is_billed_from_its_last_checkpoint(upstream):
    upstream.set_pace(150)
    servers = Servers(upstream)
    try:
        chat, reply_id, kept = kill_mid_reply_and_recover(servers)

        status, input_tokens, output_tokens, cost, breakdown = servers.database.row(
            "SELECT status, input_tokens, output_tokens, cost_usd, cost_breakdown "
            "FROM chatapp_message WHERE id = ?", reply_id,
        )
        breakdown = json.loads(breakdown) if isinstance(breakdown, str) else breakdown
        cost = Decimal(str(cost))
        assert status == "interrupted"
        assert breakdown["estimated"] is True and cost > 0
        # At least what the checkpoint knew: the input from message_start, the output so far.
        assert input_tokens == kept["input_tokens"] > 0
        assert kept["output_tokens"] <= output_tokens < 5000

        records = "FROM chatapp_usagerecord WHERE message_id = ? AND purpose = 'reply'"
        count, billed = servers.database.row(f"SELECT count(*), sum(cost_usd) {records}", reply_id)
        (record_breakdown,) = servers.database.row(f"SELECT cost_breakdown {records}", reply_id)
        record_breakdown = (json.loads(record_breakdown) if isinstance(record_breakdown, str)
                            else record_breakdown)
        assert count == 1 and Decimal(str(billed)) == cost
        assert record_breakdown["estimated"] is True
        # The month is not short: its spend, as the composer reads it, holds the estimate.
        assert Decimal(api(servers, "/api/budget/")["spent_usd"]) == cost

        shown = next(m for m in api(servers, f"/api/conversations/{chat}/")["messages"]
                     if m["id"] == reply_id)
        assert Decimal(shown["cost_usd"]) == cost and shown["status"] == "interrupted"
        assert shown["options"]["cost_estimated"] is True  # the footer shows "≈ … (estimate)"
        assert "checkpoint_usage" not in shown["options"]
    finally:
        servers.stop()
