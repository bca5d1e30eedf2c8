"""The one door to Anthropic, through the real SDK against the offline upstream."""

from pathlib import Path

import pytest

from chatapp.claude.messages import complete, count_tokens, list_models, stream_reply
from chatapp.claude.types import StreamFinished, StreamStarted, TextDelta, UpstreamError

RECORDED = Path(__file__).parents[1] / "fixtures" / "recorded-streams"
REQUEST = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 200,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
}


async def collect(request=REQUEST):
    return [event async for event in stream_reply(request)]


def text_of(events):
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize(
    ("name", "text", "stop_reason", "input_tokens", "output_tokens"),
    [
        ("basic_response.txt", "Hello there!", "end_turn", 11, 6),
        ("tool_use_response.txt", "I'll check the current weather in Paris for you.",
         "tool_use", 377, 65),
        ("server_tool_use_response.txt", "Let me search for that.", "end_turn", 42, 40),
        ("refusal_response.txt", "", "refusal", 20, 120),
    ],
)
async def test_recorded_streams_are_relayed_exactly(
    claude, name, text, stop_reason, input_tokens, output_tokens
):
    claude.add_faults([{"kind": "replay", "body": (RECORDED / name).read_text()}])
    events = await collect()
    started, finished = events[0], events[-1]
    assert isinstance(started, StreamStarted) and isinstance(finished, StreamFinished)
    assert text_of(events) == text
    assert started.usage.input_tokens == input_tokens  # input side from message_start
    assert finished.usage.input_tokens == input_tokens
    assert finished.usage.output_tokens == output_tokens  # output side from message_delta
    assert finished.stop_reason == stop_reason


async def test_tool_input_fragments_are_assembled(claude):
    body = (RECORDED / "tool_use_response.txt").read_text()
    claude.add_faults([{"kind": "replay", "body": body}])
    finished = (await collect())[-1]
    tool_use = finished.content[1]
    assert tool_use["type"] == "tool_use" and tool_use["name"] == "get_weather"
    assert tool_use["input"] == {"location": "Paris"}


async def test_refusal_keeps_its_details_and_thinking_tokens(claude):
    claude.add_faults([{"kind": "replay", "body": (RECORDED / "refusal_response.txt").read_text()}])
    finished = (await collect())[-1]
    assert finished.stop_details["category"] == "cyber"
    assert finished.usage.thinking_tokens == 67


async def test_request_id_and_cache_usage_are_reported(claude):
    events = await collect()
    started = events[0]
    assert started.request_id.startswith("req_")
    assert started.usage.cache_read_tokens == 0 and started.usage.cache_write_tokens == 0


@pytest.mark.parametrize(
    ("fault", "code", "retryable"),
    [
        ({"kind": "status", "status": 429, "retry_after": 1}, "rate_limited", True),
        ({"kind": "status", "status": 529}, "overloaded", True),
        ({"kind": "status", "status": 500}, "upstream_error", True),
        ({"kind": "status", "status": 400}, "invalid_request", False),
        ({"kind": "status", "status": 401}, "authentication", False),
    ],
)
async def test_http_errors_become_plain_upstream_errors(claude, fault, code, retryable):
    claude.add_faults([fault])
    with pytest.raises(UpstreamError) as raised:
        await collect()
    assert raised.value.code == code and raised.value.retryable is retryable
    assert raised.value.message and raised.value.request_id.startswith("req_")


async def test_an_error_event_after_200_keeps_the_partial_reply(claude):
    claude.add_faults([{"kind": "error_event", "after_tokens": 10,
                        "error_type": "overloaded_error"}])
    seen = []
    with pytest.raises(UpstreamError) as raised:
        async for event in stream_reply({**REQUEST, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi [[tokens:100]]"}]}
        ]}):
            seen.append(event)
    assert raised.value.code == "overloaded"
    partial = raised.value.partial_content[0]["text"]
    assert partial and partial == text_of(seen)
    assert raised.value.partial_usage.input_tokens > 0 and raised.value.partial_usage.estimated


async def test_a_dropped_connection_is_an_unreachable_upstream(claude):
    claude.add_faults([{"kind": "drop", "after_tokens": 5}])
    with pytest.raises(UpstreamError) as raised:
        await collect({**REQUEST, "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi [[tokens:100]]"}]}
        ]})
    assert raised.value.code == "upstream_unreachable"


async def test_an_unreachable_upstream_is_said_plainly(settings):
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.ANTHROPIC_MAX_RETRIES = 0
    with pytest.raises(UpstreamError) as raised:
        await collect()
    assert raised.value.code == "upstream_unreachable"
    assert "connection" in raised.value.message.lower()


async def test_no_api_key_is_explained(settings):
    settings.ANTHROPIC_API_KEY = ""
    settings.OFFLINE_UPSTREAM = False
    with pytest.raises(UpstreamError, match="ANTHROPIC_API_KEY"):
        await collect()


async def test_complete_count_and_list(claude):
    completion = await complete(REQUEST)
    assert "Hello" in completion.text and completion.usage.output_tokens > 0
    assert completion.request_id.startswith("req_")
    assert await count_tokens(REQUEST) == completion.usage.input_tokens
    ids = [model["id"] for model in await list_models()]
    assert "claude-sonnet-4-6" in ids
