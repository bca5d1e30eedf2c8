"""The SDK client: its own retry loop is kept, and a reply task is told when it retries.

Failures come from the offline upstream's fault switches, through the real SDK.
"""

import anthropic
import pytest

from chatapp.claude import client as claude_client
from chatapp.claude import messages as claude_messages
from chatapp.claude.types import UpstreamError

REQUEST = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "Hello"}],
}


async def reply(on_retry):
    return [event async for event in claude_messages.stream_reply(dict(REQUEST), on_retry)]


def streamed(claude):
    return [r for r in claude.requests() if r["path"] == "/v1/messages"]


async def test_each_retry_is_announced_with_the_wait_the_api_asked_for(claude, settings):
    settings.ANTHROPIC_MAX_RETRIES = 2
    claude.add_faults([{"kind": "status", "status": 429, "retry_after": 0.2}])
    told = []
    await reply(lambda seconds, status: told.append((seconds, status)))
    assert told == [(0.2, 429)]
    assert len(streamed(claude)) == 2


async def test_without_retry_after_the_backoff_is_announced_and_the_last_failure_is_not(
    claude, settings
):
    settings.ANTHROPIC_MAX_RETRIES = 2
    claude.add_faults([{"kind": "status", "status": 529}] * 3)
    told = []
    with pytest.raises(UpstreamError) as raised:
        await reply(lambda seconds, status: told.append((seconds, status)))
    # Two retries, each announced with the backoff's bound; the third failure is the answer.
    assert told == [(0.5, 529), (1.0, 529)]
    assert raised.value.code == "overloaded"
    assert len(streamed(claude)) == 3


async def test_a_timed_out_attempt_is_announced_as_a_connection_failure(claude, settings):
    settings.ANTHROPIC_MAX_RETRIES = 1
    settings.ANTHROPIC_TIMEOUT_SECONDS = 0.5
    claude.add_faults([{"kind": "stall", "seconds": 5}])
    told = []
    events = await reply(lambda seconds, status: told.append((seconds, status)))
    assert told == [(0.5, None)]
    assert type(events[-1]).__name__ == "StreamFinished"


async def test_an_error_the_sdk_does_not_retry_is_not_announced(claude, settings):
    settings.ANTHROPIC_MAX_RETRIES = 2
    claude.add_faults([{"kind": "status", "status": 400, "message": "messages: bad"}])
    told = []
    with pytest.raises(UpstreamError):
        await reply(lambda seconds, status: told.append((seconds, status)))
    assert told == [] and len(streamed(claude)) == 1


async def test_the_client_without_retries_makes_one_attempt(claude, settings):
    settings.ANTHROPIC_MAX_RETRIES = 2
    claude.add_faults([{"kind": "status", "status": 529}])
    with pytest.raises(anthropic.InternalServerError):
        await claude_client.without_retries().messages.create(**REQUEST)
    assert len(streamed(claude)) == 1
