"""The offline upstream's measuring aids: write times of streamed text (stamps) and a wait
before the first token, both opt-in and both undone by reset."""

from __future__ import annotations

import time
import urllib.error

import anthropic
import pytest

from chatapp.offline_upstream.testing import RunningUpstream

MODEL = "claude-sonnet-4-6"


async def stream_text(up: RunningUpstream, question: str) -> tuple[str, float, float]:
    """(reply text, monotonic time the request was sent, time its first text arrived)."""
    async with anthropic.AsyncAnthropic(base_url=up.base_url, api_key="test", max_retries=0) as sdk:
        sent = time.monotonic()
        first = 0.0
        request = {"model": MODEL, "max_tokens": 1024,
                   "messages": [{"role": "user", "content": question}]}
        async with sdk.messages.stream(**request) as stream:
            async for _text in stream.text_stream:
                first = first or time.monotonic()
        return (await stream.get_final_message()).content[0].text, sent, first


async def test_nothing_is_recorded_unless_asked_for(upstream):
    await stream_text(upstream, "plain [[tokens:20]]")
    assert upstream.stamps() == []
    assert upstream.state()["stamps"] is False


async def test_each_text_delta_is_stamped_with_its_write_time_and_the_text_so_far(upstream):
    upstream.record_stamps()
    before = time.monotonic()
    text, _sent, _first = await stream_text(upstream, "stamp me [[tokens:40]]")
    after = time.monotonic()

    [stream] = upstream.stamps()
    assert stream["prompt"] == "stamp me [[tokens:40]]"
    assert stream["request_id"].startswith("req_")
    times = [at for at, _chars in stream["writes"]]
    chars = [chars for _at, chars in stream["writes"]]
    assert before <= stream["received"] <= times[0]
    assert times == sorted(times) and times[-1] <= after
    assert chars == sorted(set(chars)) and chars[-1] == len(text)
    assert len(chars) > 10  # one stamp per delta, not one per reply


async def test_turning_stamps_off_or_resetting_forgets_them(upstream):
    upstream.record_stamps()
    await stream_text(upstream, "first [[tokens:10]]")
    upstream.record_stamps(False)
    assert upstream.stamps() == []
    await stream_text(upstream, "second [[tokens:10]]")
    assert upstream.stamps() == []

    upstream.record_stamps()
    await stream_text(upstream, "third [[tokens:10]]")
    upstream.reset()
    assert upstream.stamps() == [] and upstream.state()["stamps"] is False


async def test_the_first_token_can_be_made_to_wait(upstream):
    upstream.set_pace(0)
    upstream.set_first_token(0.2)
    _text, sent, first = await stream_text(upstream, "think first [[tokens:10]]")
    assert first - sent >= 0.2
    assert upstream.state()["first_token_seconds"] == 0.2

    upstream.reset()
    assert upstream.state()["first_token_seconds"] == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [("/_control/stamps", {"enabled": "yes"}), ("/_control/stamps", {}),
     ("/_control/pace", {"first_token_seconds": -1}), ("/_control/pace", {})],
)
def test_bad_control_values_are_refused(upstream, path, body):
    with pytest.raises(urllib.error.HTTPError) as raised:
        upstream.call("POST", path, body)
    assert raised.value.code == 400
