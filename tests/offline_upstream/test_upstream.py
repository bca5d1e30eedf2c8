"""The offline upstream, exercised through the real `anthropic` SDK over loopback.

Expected token counts are worked out by hand from the documented counter (docs/offline-upstream.md):
text ceil(chars / 4) on claude-sonnet-4-6 (ceil(chars / 3) from 4.7 on), +3 per message.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import urllib.error
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic import Omit
from PIL import Image
from pypdf import PdfWriter

from chatapp.offline_upstream.replies import split_tokens
from chatapp.offline_upstream.testing import RunningUpstream

MODEL = "claude-sonnet-4-6"  # 4 chars per token, minimum cacheable prefix 1,024 tokens
RECORDED = Path(__file__).parents[1] / "fixtures" / "recorded-streams"
QUESTION = "What does the offline upstream do?"
# The version SDKs sent before 2.0: requests with it keep the old, lenient rules.
LEGACY_VERSION = "2023-06-01"


def user(text: str | list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "user", "content": text}


def make_client(up: RunningUpstream, **options: Any) -> anthropic.AsyncAnthropic:
    options.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(base_url=up.base_url, api_key="test", **options)


@pytest.fixture
async def client(upstream: RunningUpstream):
    async with make_client(upstream) as sdk:
        yield sdk


async def collect_stream(stream: Any) -> tuple[str, list[Any]]:
    """Iterate a create(stream=True) stream: (text so far, events)."""
    text, events = "", []
    async for event in stream:
        events.append(event)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            text += event.delta.text
    return text, events


# --- streaming and plain messages ---------------------------------------------------------


async def test_stream_helper_gives_text_final_message_and_usage(client):
    async with client.messages.stream(
        model=MODEL, max_tokens=1024, messages=[user(QUESTION)]
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()

    assert len(pieces) > 10
    assert final.content[0].text == "".join(pieces)
    assert final.id.startswith("msg_")
    assert final.model == MODEL
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == 9 + 3  # ceil(34 / 4) + the message overhead
    assert final.usage.output_tokens == len(split_tokens(final.content[0].text, 4))
    assert final.usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert final.usage.service_tier == "standard"


async def test_create_stream_true_splits_usage_between_start_and_delta(client):
    stream = await client.messages.create(
        model=MODEL, max_tokens=1024, messages=[user(QUESTION)], stream=True
    )
    text, events = await collect_stream(stream)

    types = [event.type for event in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start, delta = events[0], events[-2]
    assert start.message.usage.input_tokens == 12
    assert start.message.usage.output_tokens == 1
    assert start.message.content == [] and start.message.stop_reason is None
    assert delta.delta.stop_reason == "end_turn" and delta.delta.stop_sequence is None
    assert delta.usage.output_tokens == len(split_tokens(text, 4))


async def test_wire_format_headers_pings_and_small_deltas(client):
    async with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=4096, messages=[user("Go on [[tokens:300]]")], stream=True
    ) as response:
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["request-id"].startswith("req_")
        lines = [line async for line in response.iter_lines()]

    names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names.count("ping") >= 2  # one early, then periodically
    data = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data:")]
    deltas = [d["delta"]["text"] for d in data if d["type"] == "content_block_delta"]
    assert all(1 <= len(split_tokens(text, 4)) <= 3 for text in deltas)
    usage = data[0]["message"]["usage"]
    assert set(usage) >= {
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
        "cache_creation", "output_tokens", "service_tier",
    }


async def test_non_streamed_create_matches_the_stream(client):
    request = {"model": MODEL, "max_tokens": 1024, "messages": [user(QUESTION)]}
    message = await client.messages.create(**request)
    async with client.messages.stream(**request) as stream:
        streamed = await stream.get_final_message()

    assert message.content[0].text == streamed.content[0].text
    assert message.usage.output_tokens == streamed.usage.output_tokens
    assert message.usage.input_tokens == streamed.usage.input_tokens
    assert message.stop_reason == "end_turn"


async def test_replies_are_deterministic_and_read_the_request(client):
    png = _png(56, 28)
    history = [
        user([
            {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                            "data": "notes"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": png}},
            {"type": "text", "text": "First question"},
        ]),
        {"role": "assistant", "content": "An answer."},
        user("Second <script>alert(1)</script> question " + "x" * 200),
    ]
    first = await client.messages.create(model=MODEL, max_tokens=2048, messages=history)
    again = await client.messages.create(model=MODEL, max_tokens=2048, messages=history)
    other = await client.messages.create(model=MODEL, max_tokens=2048, messages=[user("Hi")])

    text = first.content[0].text
    assert text == again.content[0].text
    assert text != other.content[0].text
    assert 'You asked: "Second <script>alert(1)</script> question xxx' in text
    assert "question " + "x" * 78 + '…"' in text  # the quote stops at 120 characters
    assert "**claude-sonnet-4-6**" in text
    assert "3 turns" in text and "1 document block" in text and "1 image block" in text
    assert "```python\n" in text


async def test_tokens_phrase_sets_the_reply_length(client):
    message = await client.messages.create(
        model=MODEL, max_tokens=4096, messages=[user("Write a lot [[tokens:700]]")]
    )
    assert message.usage.output_tokens == 700
    assert len(split_tokens(message.content[0].text, 4)) == 700
    assert message.stop_reason == "end_turn"


async def test_the_show_request_phrase_names_the_requests_settings(client):
    shown = await client.messages.create(
        # Only the old API version still takes sampling parameters (see
        # test_strict.py for 2026-10-21, which refuses them).
        model="claude-haiku-4-5", max_tokens=300, extra_body={"temperature": 0.25},
        extra_headers={"anthropic-version": LEGACY_VERSION},
        system=[{"type": "text", "text": "Answer like a pirate."}],
        messages=[user("Who are you? [[show_request]]")],
    )
    assert ('Request settings: system prompt "Answer like a pirate."; temperature 0.25; '
            "max_tokens 300.") in shown.content[0].text
    plain = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=300, messages=[user("Who are you? [[show_request]]")]
    )
    assert "system prompt none; temperature default;" in plain.content[0].text
    unasked = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=300, messages=[user("Who are you?")]
    )
    assert "Request settings" not in unasked.content[0].text


async def test_max_tokens_cuts_the_reply(client):
    full = await client.messages.create(model=MODEL, max_tokens=1024, messages=[user(QUESTION)])
    cut = await client.messages.create(model=MODEL, max_tokens=10, messages=[user(QUESTION)])

    assert cut.stop_reason == "max_tokens"
    assert cut.usage.output_tokens == 10
    assert full.content[0].text.startswith(cut.content[0].text)


async def test_stop_sequences_end_the_reply_before_the_sequence(client):
    full = await client.messages.create(model=MODEL, max_tokens=1024, messages=[user(QUESTION)])
    stopped = await client.messages.create(
        model=MODEL, max_tokens=1024, messages=[user(QUESTION)], stop_sequences=["```"]
    )

    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == "```"
    assert stopped.content[0].text == full.content[0].text.split("```")[0]


# --- token counting -----------------------------------------------------------------------


def _png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _pdf(pages: int) -> str:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("model", "content", "expected"),
    [
        (MODEL, "hello world!", 3 + 3),  # ceil(12 / 4) + overhead
        ("claude-opus-4-7", "hello world!", 4 + 3),  # the newer tokenizer: ceil(12 / 3)
        # 1000×1000 px: ⌈1000/28⌉² = 36² = 1,296 tokens.
        (MODEL, [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                              "data": _png(1000, 1000)}}], 1296 + 3),
        # 4000×3000 on a standard-tier model: downscaled to 1238×928 (1.15 MP) → 45 × 34.
        (MODEL, [{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                              "data": _png(4000, 3000)}}], 45 * 34 + 3),
        # Two blank PDF pages: no text, 30 × 38 tokens of page image each.
        (MODEL, [{"type": "document", "source": {"type": "base64",
                                                 "media_type": "application/pdf",
                                                 "data": _pdf(2)}}], 2 * 1140 + 3),
    ],
    ids=["text", "new-tokenizer", "image", "downscaled-image", "pdf"],
)
async def test_count_tokens_follows_the_documented_counter(client, model, content, expected):
    counted = await client.messages.count_tokens(model=model, messages=[user(content)])
    assert counted.input_tokens == expected


async def test_count_tokens_equals_message_input_usage(client):
    request = {
        "model": MODEL,
        "system": [{"type": "text", "text": "You are terse."}],
        "tools": [{"name": "lookup", "description": "Look up a word",
                   "input_schema": {"type": "object", "properties": {}}}],
        "messages": [
            user([{"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                               "data": _png(300, 200)}},
                  {"type": "text", "text": "What is in the picture?"}]),
            {"role": "assistant", "content": "A white rectangle."},
            user("And now?"),
        ],
    }
    counted = await client.messages.count_tokens(**request)
    message = await client.messages.create(max_tokens=256, **request)

    assert counted.input_tokens == message.usage.input_tokens
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.cache_creation_input_tokens == 0


# --- models -------------------------------------------------------------------------------


async def test_models_list_paginates_like_the_api(client):
    page = await client.models.list(limit=2)
    assert [model.id for model in page.data] == ["claude-fable-5-2", "claude-fable-5-1"]
    assert page.has_more and page.last_id == "claude-fable-5-1"

    second = await page.get_next_page()
    assert second.first_id == "claude-opus-5-5"

    everything = [model.id async for model in client.models.list(limit=3)]
    # Active and deprecated models (Opus 4.5); the retired Sonnet 4.5 only when asked for.
    assert len(everything) == 13 and everything[-1] == "claude-haiku-4-5"

    before = await client.models.list(limit=2, before_id="claude-opus-5-5")
    assert [model.id for model in before.data] == ["claude-fable-5-2", "claude-fable-5-1"]
    assert before.has_more is False


async def test_models_retrieve(client):
    haiku = await client.models.retrieve("claude-haiku-4-5")
    assert haiku.display_name == "Claude Haiku 4.5"
    assert haiku.max_input_tokens == 200_000 and haiku.max_tokens == 64_000
    assert haiku.capabilities.thinking.types.enabled.supported
    assert not haiku.capabilities.thinking.types.adaptive.supported

    with pytest.raises(anthropic.NotFoundError) as raised:
        await client.models.retrieve("claude-nope")
    error = raised.value.body["error"]
    assert error == {"type": "not_found_error", "message": "model: claude-nope"}


# --- validation ---------------------------------------------------------------------------

BASE = {"model": MODEL, "max_tokens": 1024, "messages": [user("hi")]}


def _cached(text: str, ttl: str = "5m") -> dict[str, Any]:
    return {"type": "text", "text": text, "cache_control": {"type": "ephemeral", "ttl": ttl}}


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({**BASE, "model": "claude-nope"}, anthropic.NotFoundError, "model: claude-nope"),
        ({"model": MODEL, "messages": [user("hi")]}, anthropic.BadRequestError,
         "max_tokens: Field required"),
        ({**BASE, "messages": []}, anthropic.BadRequestError,
         "messages: at least one message is required"),
        ({**BASE, "messages": [{"role": "robot", "content": "hi"}]},
         anthropic.BadRequestError,
         "messages.0.role: Input should be 'user', 'assistant' or 'system'"),
        # Mid-conversation system messages: Opus 4.8 and later, right after a user message.
        ({**BASE, "messages": [user("hi"), {"role": "system", "content": "Be brief."}]},
         anthropic.BadRequestError,
         "messages.1.role: role 'system' is not supported on this model"),
        ({**BASE, "model": "claude-sonnet-5-5",
          "messages": [{"role": "system", "content": "Be brief."}, user("hi")]},
         anthropic.BadRequestError, 'messages: first message must use the "user" role'),
        ({**BASE, "model": "claude-sonnet-5-5",
          "messages": [user("hi"), {"role": "assistant", "content": "Hello."},
                       {"role": "system", "content": "Be brief."}, user("hi")]},
         anthropic.BadRequestError,
         "messages.2: a system message must come right after a user message"),
        ({**BASE, "messages": [{"role": "assistant", "content": "hi"}, user("hi")]},
         anthropic.BadRequestError, 'messages: first message must use the "user" role'),
        ({**BASE, "messages": [user([_cached(str(i)) for i in range(5)])]},
         anthropic.BadRequestError,
         "A maximum of 4 blocks with cache_control may be provided. Found 5."),
        ({**BASE, "messages": [user([_cached("a", "5m"), _cached("b", "1h")])]},
         anthropic.BadRequestError,
         "messages.0.content.1.cache_control.ttl: a ttl='1h' cache_control block must not come "
         "after a ttl='5m' cache_control block. Note that blocks are processed in the "
         "following order: `tools`, `system`, `messages`."),
        ({**BASE, "max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 512}},
         anthropic.BadRequestError,
         "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
        ({**BASE, "max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 2000}},
         anthropic.BadRequestError, "`max_tokens` must be greater than `thinking.budget_tokens`"),
        ({**BASE, "model": "claude-opus-4-7", "max_tokens": 4000,
          "thinking": {"type": "enabled", "budget_tokens": 2000}},
         anthropic.BadRequestError, '"thinking.type.enabled" is not supported for this model.'),
        ({**BASE, "max_tokens": 200_000}, anthropic.BadRequestError,
         "max_tokens: 200000 > 128000, which is the maximum allowed number of output tokens "
         "for claude-sonnet-4-6"),
        ({**BASE, "messages": [user("hi"), {"role": "assistant", "content": "Sure"}]},
         anthropic.BadRequestError,
         "This model does not support assistant message prefill."),
        ({**BASE, "messages": [user([{"type": "image", "source": {
            "type": "base64", "media_type": "image/jpeg", "data": _png(10, 10)}}])]},
         anthropic.BadRequestError,
         "messages.0.content.0.image.source.base64: The image was specified using the "
         "image/jpeg media type, but the image appears to be a image/png image"),
    ],
    ids=[
        "unknown-model", "no-max-tokens", "no-messages", "bad-role",
        "system-message-on-sonnet-4-6", "system-message-first", "system-message-after-reply",
        "assistant-first",
        "five-breakpoints", "5m-before-1h", "small-budget", "budget-over-max", "enabled-on-4-7",
        "max-tokens-over-model", "prefill", "wrong-media-type",
    ],
)
async def test_invalid_requests_get_the_api_errors(client, body, error, message):
    with pytest.raises(error) as raised:
        await client.post("/v1/messages", body=body, cast_to=object)
    assert raised.value.body["error"]["message"].startswith(message)
    assert raised.value.body["type"] == "error"
    assert raised.value.body["request_id"] == raised.value.request_id


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**BASE, "temperature": 1.5}, "temperature: Input should be less than or equal to 1"),
        ({**BASE, "model": "claude-opus-4-7", "temperature": 0.5},
         "`temperature` is deprecated for this model."),
        ({**BASE, "max_tokens": 4000, "temperature": 0.5, "thinking": {"type": "adaptive"}},
         "`temperature` may only be set to 1 when thinking is enabled."),
    ],
    ids=["temperature-over-1", "temperature-on-4-7", "temperature-with-thinking"],
)
async def test_the_legacy_version_checks_temperature_per_model(client, body, message):
    # Under anthropic-version 2023-06-01 a temperature is still taken, within these rules.
    with pytest.raises(anthropic.BadRequestError) as raised:
        await client.post("/v1/messages", body=body, cast_to=object,
                          options={"headers": {"anthropic-version": LEGACY_VERSION}})
    assert raised.value.body["error"]["message"].startswith(message)


@pytest.mark.parametrize(
    ("headers", "error", "message"),
    [
        ({"Authorization": Omit()}, anthropic.AuthenticationError, "x-api-key header is required"),
        ({"anthropic-version": Omit()}, anthropic.BadRequestError,
         "anthropic-version: header is required"),
    ],
    ids=["no-key", "no-version"],
)
async def test_missing_headers_are_rejected(upstream, headers, error, message):
    async with make_client(upstream, default_headers=headers) as sdk:
        with pytest.raises(error) as raised:
            await sdk.messages.create(**BASE)
    assert raised.value.body["error"]["message"] == message


async def test_an_x_api_key_header_is_accepted_too(upstream):
    headers = {"Authorization": Omit(), "x-api-key": "legacy-key"}
    async with make_client(upstream, default_headers=headers) as sdk:
        message = await sdk.messages.create(**BASE)
    assert message.stop_reason == "end_turn"


# --- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (413, anthropic.ContentTooLargeError, "request_too_large"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
async def test_status_faults_raise_the_sdk_error(client, upstream, status, error, error_type):
    upstream.add_faults([{"kind": "status", "status": status}])
    with pytest.raises(error) as raised:
        await client.messages.create(**BASE)
    assert raised.value.status_code == status
    assert raised.value.body["error"]["type"] == error_type


async def test_a_rate_limit_carries_retry_after_and_ratelimit_headers(client, upstream):
    upstream.add_faults([{"kind": "status", "status": 429, "retry_after": 7}])
    with pytest.raises(anthropic.RateLimitError) as raised:
        await client.messages.create(**BASE)
    headers = raised.value.response.headers
    assert headers["retry-after"] == "7"
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert headers["anthropic-ratelimit-input-tokens-limit"] == "50000"


async def test_the_sdk_honours_retry_after_and_then_succeeds(upstream):
    upstream.add_faults([{"kind": "status", "status": 429, "retry_after": 1}])
    async with make_client(upstream, max_retries=1) as sdk:
        started = time.monotonic()
        message = await sdk.messages.create(**BASE)
        waited = time.monotonic() - started

    assert message.stop_reason == "end_turn"
    assert waited >= 0.9  # the SDK slept for the server's retry-after, not its own backoff
    retries = [r["headers"]["x-stainless-retry-count"] for r in upstream.requests()]
    assert retries == ["0", "1"]


async def test_faults_are_consumed_one_per_request_in_order(client, upstream):
    upstream.add_faults([{"kind": "status", "status": 529}, {"kind": "status", "status": 500}])
    with pytest.raises(anthropic.OverloadedError):
        await client.messages.create(**BASE)
    with pytest.raises(anthropic.InternalServerError):
        await client.messages.create(**BASE)
    assert (await client.messages.create(**BASE)).stop_reason == "end_turn"


async def test_an_error_event_fails_the_stream_after_some_text(client, upstream):
    upstream.add_faults([
        {"kind": "error_event", "after_tokens": 12, "error_type": "overloaded_error"}
    ])
    received = ""
    with pytest.raises(anthropic.APIStatusError) as raised:
        async with client.messages.stream(**BASE) as stream:
            async for text in stream.text_stream:
                received += text
    assert len(split_tokens(received, 4)) >= 12
    assert raised.value.body == {
        "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}
    }


async def test_an_error_event_fault_on_a_plain_request_is_a_status(client, upstream):
    upstream.add_faults([{"kind": "error_event", "error_type": "overloaded_error"}])
    with pytest.raises(anthropic.OverloadedError):
        await client.messages.create(**BASE)


async def test_a_drop_cuts_the_connection_mid_stream(client, upstream):
    upstream.add_faults([{"kind": "drop", "after_tokens": 10}])
    stream = await client.messages.create(**BASE, stream=True)
    received = ""
    with pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)):
        async for event in stream:
            if event.type == "content_block_delta":
                received += event.delta.text
            assert event.type != "message_stop"
    assert received


async def test_a_drop_on_a_plain_request_is_a_connection_error(client, upstream):
    upstream.add_faults([{"kind": "drop"}])
    with pytest.raises(anthropic.APIConnectionError):
        await client.messages.create(**BASE)


async def test_a_stall_mid_stream_trips_the_read_timeout(upstream):
    upstream.add_faults([{"kind": "stall", "after_tokens": 5, "seconds": 5}])
    async with make_client(upstream, timeout=httpx2.Timeout(5.0, read=0.3)) as sdk:
        stream = await sdk.messages.create(**BASE, stream=True)
        with pytest.raises((httpx2.ReadTimeout, anthropic.APITimeoutError)):
            await collect_stream(stream)


async def test_a_stall_before_the_headers_is_an_api_timeout(upstream):
    upstream.add_faults([{"kind": "stall", "seconds": 5}])
    async with make_client(upstream, timeout=httpx2.Timeout(5.0, read=0.3)) as sdk:
        with pytest.raises(anthropic.APITimeoutError):
            await sdk.messages.create(**BASE, stream=True)


async def test_a_refusal_streams_an_empty_block_and_stop_details(client, upstream):
    upstream.add_faults([{"kind": "refusal"}])
    async with client.messages.stream(**BASE) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "refusal"
    assert final.stop_details.category == "cyber"
    assert [block.text for block in final.content] == [""]


@pytest.mark.parametrize(
    ("phrase", "error"),
    [
        ("[[fault:overloaded]]", anthropic.OverloadedError),
        ("[[fault:rate_limit]]", anthropic.RateLimitError),
        ("[[fault:invalid]]", anthropic.BadRequestError),
    ],
)
async def test_magic_phrases_trigger_status_faults(client, phrase, error):
    with pytest.raises(error):
        await client.messages.create(**{**BASE, "messages": [user(f"Please {phrase}")]})


async def test_magic_phrases_trigger_stream_faults(client):
    messages = [user("Tell me [[fault:error_event]]")]
    with pytest.raises(anthropic.APIStatusError):
        async with client.messages.stream(**{**BASE, "messages": messages}) as stream:
            await stream.get_final_message()

    messages = [user("Tell me [[fault:refusal]]")]
    async with client.messages.stream(**{**BASE, "messages": messages}) as stream:
        assert (await stream.get_final_message()).stop_reason == "refusal"

    messages = [user("Go [[fault:drop]]")]
    stream = await client.messages.create(**{**BASE, "messages": messages}, stream=True)
    with pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)):
        await collect_stream(stream)


async def test_only_the_last_user_message_triggers_a_magic_fault(client):
    messages = [user("[[fault:overloaded]]"), {"role": "assistant", "content": "x"}, user("ok")]
    message = await client.messages.create(**{**BASE, "messages": messages})
    assert message.stop_reason == "end_turn"


def test_reset_restores_the_configured_pace_and_clears_faults(upstream):
    upstream.set_pace(5)
    upstream.add_faults([{"kind": "refusal"}])
    upstream.reset()
    state = upstream.state()
    assert state["tokens_per_second"] == state["default_tokens_per_second"] == 2000
    assert state["pending_faults"] == 0


def test_a_malformed_fault_is_refused(upstream):
    with pytest.raises(urllib.error.HTTPError) as raised:
        upstream.add_faults([{"kind": "meteor"}])
    assert raised.value.code == 400


# --- replaying the recorded streams -------------------------------------------------------


def _recorded_facts(body: str) -> dict[str, Any]:
    """What the SDK should make of a recorded stream, read straight off its data lines."""
    data = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    final_delta = next(d for d in data if d["type"] == "message_delta")
    return {
        "text": "".join(
            d["delta"]["text"] for d in data
            if d["type"] == "content_block_delta" and d["delta"]["type"] == "text_delta"
        ),
        "stop_reason": final_delta["delta"]["stop_reason"],
        "input_tokens": data[0]["message"]["usage"]["input_tokens"],
        "output_tokens": final_delta["usage"]["output_tokens"],
    }


@pytest.mark.parametrize("name", sorted(path.name for path in RECORDED.glob("*.txt")))
async def test_replaying_a_recorded_stream(client, upstream, name):
    body = (RECORDED / name).read_text()
    expected = _recorded_facts(body)
    upstream.add_faults([{"kind": "replay", "body": body}])
    async with client.messages.stream(**BASE) as stream:
        final = await stream.get_final_message()

    text = "".join(block.text for block in final.content if block.type == "text")
    assert text == expected["text"]
    assert final.stop_reason == expected["stop_reason"]
    assert final.usage.input_tokens == expected["input_tokens"]
    assert final.usage.output_tokens == expected["output_tokens"]


async def test_a_replay_is_served_byte_for_byte(client, upstream):
    body = (RECORDED / "basic_response.txt").read_text()
    upstream.add_faults([{"kind": "replay", "body": body}])
    async with client.messages.with_streaming_response.create(**BASE, stream=True) as response:
        raw = await response.read()
    assert raw == body.encode()


# --- prompt caching -----------------------------------------------------------------------
# claude-sonnet-4-6: 4 chars per token, minimum cacheable prefix 1,024 tokens.
# SYSTEM: 4,400 chars = 1,100 tokens.  DOC: 3,000 chars = 750 tokens + 3 (message overhead).
SYSTEM = "S" * 4400
DOC = "D" * 3000


def _document(ttl: str | None = "5m", data: str = DOC) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "document", "source": {"type": "text", "media_type": "text/plain", "data": data}
    }
    if ttl:
        block["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return block


def _system(ttl: str | None = None, text: str = SYSTEM) -> list[dict[str, Any]]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if ttl:
        block["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return [block]


async def _usage(client: anthropic.AsyncAnthropic, **request: Any) -> dict[str, int]:
    """The input side of usage, after checking the sum rule against count_tokens."""
    request.setdefault("model", MODEL)
    message = await client.messages.create(max_tokens=64, **request)
    counted = await client.messages.count_tokens(**request)
    usage = message.usage
    whole = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
    assert whole == counted.input_tokens
    assert usage.cache_creation_input_tokens == (
        usage.cache_creation.ephemeral_5m_input_tokens
        + usage.cache_creation.ephemeral_1h_input_tokens
    )
    return {
        "input": usage.input_tokens,
        "read": usage.cache_read_input_tokens,
        "5m": usage.cache_creation.ephemeral_5m_input_tokens,
        "1h": usage.cache_creation.ephemeral_1h_input_tokens,
    }


def _ask(question: str = "Summarise it.", **document: Any) -> list[dict[str, Any]]:
    # "Summarise it." is 13 chars = 4 tokens.
    return [user([_document(**document), {"type": "text", "text": question}])]


async def test_a_5m_breakpoint_writes_then_reads(client):
    request = {"system": _system(text="S" * 2000), "messages": _ask()}  # 500 + 753 tokens
    assert await _usage(client, **request) == {"input": 4, "read": 0, "5m": 1253, "1h": 0}
    assert await _usage(client, **request) == {"input": 4, "read": 1253, "5m": 0, "1h": 0}


async def test_a_prefix_below_the_minimum_is_not_cached(client):
    request = {"system": _system(text="S" * 400), "messages": _ask(data="D" * 400)}
    expected = {"input": 100 + 103 + 4, "read": 0, "5m": 0, "1h": 0}
    assert await _usage(client, **request) == expected
    assert await _usage(client, **request) == expected


async def test_1h_then_5m_breakpoints_split_writes_by_ttl(client):
    request = {"system": _system("1h"), "messages": _ask()}
    assert await _usage(client, **request) == {"input": 4, "read": 0, "5m": 753, "1h": 1100}
    # A new question behind the same prefix reads both entries.
    again = {"system": _system("1h"), "messages": _ask("And the ending?")}  # 15 chars
    assert await _usage(client, **again) == {"input": 4, "read": 1853, "5m": 0, "1h": 0}


async def test_a_short_1h_prefix_leaves_its_tokens_to_the_next_breakpoint(client):
    # The system prefix (500 tokens) is too short to cache on its own: the 5m breakpoint
    # after it covers, and is billed for, everything up to itself.
    request = {"system": _system("1h", text="S" * 2000), "messages": _ask()}
    assert await _usage(client, **request) == {"input": 4, "read": 0, "5m": 1253, "1h": 0}


async def test_entries_expire_after_their_ttl(client, upstream):
    request = {"system": _system("1h"), "messages": _ask()}
    await _usage(client, **request)
    upstream.advance_clock(301)  # the 5m entry is gone, the 1h one lives on
    assert await _usage(client, **request) == {"input": 4, "read": 1100, "5m": 753, "1h": 0}
    upstream.advance_clock(3601)
    assert await _usage(client, **request) == {"input": 4, "read": 0, "5m": 753, "1h": 1100}


async def test_a_hit_refreshes_the_ttl(client, upstream):
    request = {"system": _system(text="S" * 2000), "messages": _ask()}
    await _usage(client, **request)
    upstream.advance_clock(200)
    assert (await _usage(client, **request))["read"] == 1253
    upstream.advance_clock(200)  # 400 s after the write, 200 s after the refreshing hit
    assert (await _usage(client, **request))["read"] == 1253
    upstream.advance_clock(301)
    assert (await _usage(client, **request))["read"] == 0


async def test_a_growing_conversation_reads_the_previous_turn(client):
    first = [user([_cached("Q" * 4400)])]  # 1,100 + 3 tokens, cached on the last block
    assert await _usage(client, messages=first) == {"input": 0, "read": 0, "5m": 1103, "1h": 0}

    second = [
        user([{"type": "text", "text": "Q" * 4400}]),
        {"role": "assistant", "content": "A" * 400},  # 100 + 3
        user([_cached("Next?")]),  # 2 + 3
    ]
    # The breakpoint moved to the new last block; looking back finds the first turn's entry.
    assert await _usage(client, messages=second) == {"input": 0, "read": 1103, "5m": 108, "1h": 0}


async def test_top_level_cache_control_caches_the_last_block(client):
    messages = [user([{"type": "text", "text": "Q" * 4400}])]
    auto = {"type": "ephemeral"}
    assert await _usage(client, messages=messages, cache_control=auto) == {
        "input": 0, "read": 0, "5m": 1103, "1h": 0
    }
    assert (await _usage(client, messages=messages, cache_control=auto))["read"] == 1103


async def test_the_cache_is_per_model(client):
    request = {"system": _system(text="S" * 2000), "messages": _ask()}
    await _usage(client, **request)
    assert (await _usage(client, model="claude-opus-4-8", **request))["read"] == 0


async def test_cache_usage_arrives_in_message_start(client):
    request = {"model": MODEL, "max_tokens": 64, "system": _system(), "messages": _ask()}
    await client.messages.create(**request)
    stream = await client.messages.create(**request, stream=True)
    _text, events = await collect_stream(stream)
    usage = events[0].message.usage
    assert usage.cache_read_input_tokens == 1853  # system + document
    assert usage.input_tokens == 4


async def test_cache_diagnostics_name_what_changed(client):
    request = {"model": MODEL, "max_tokens": 64, "system": _system("5m"), "messages": _ask()}
    # Opting in on a first turn: there is nothing to compare with yet.
    first = await client.messages.create(**request, diagnostics={"previous_message_id": None})
    assert first.diagnostics is None

    unknown = await client.messages.create(
        **request, diagnostics={"previous_message_id": "msg_unknown"}
    )
    assert unknown.diagnostics.cache_miss_reason.type == "previous_message_not_found"

    changed = {**request, "system": _system("5m", text="T" * 4400)}
    miss = await client.messages.create(**changed, diagnostics={"previous_message_id": first.id})
    assert miss.diagnostics.cache_miss_reason.type == "system_changed"
    assert miss.diagnostics.cache_miss_reason.cache_missed_input_tokens == 1853

    same = await client.messages.create(**request, diagnostics={"previous_message_id": first.id})
    assert same.diagnostics is None


async def test_cache_diagnostics_are_kept_only_for_requests_that_opt_in(client):
    request = {"model": MODEL, "max_tokens": 64, "system": _system("5m"), "messages": _ask()}
    unasked = await client.messages.create(**request)  # no `diagnostics`: nothing is kept
    changed = {**request, "system": _system("5m", text="T" * 4400)}
    later = await client.messages.create(**changed, diagnostics={"previous_message_id": unasked.id})
    assert later.diagnostics.cache_miss_reason.type == "previous_message_not_found"
    # That request opted in: it can be compared with from now on.
    again = await client.messages.create(**request, diagnostics={"previous_message_id": later.id})
    assert again.diagnostics.cache_miss_reason.type == "system_changed"


async def test_a_breakpoint_looks_back_about_twenty_blocks_and_no_further(client):
    # A cached prefix of 1,103 tokens (one long block), then 21 short blocks (2 + 3 each is not
    # cacheable on its own but adds to the prefix).
    long_question = {"type": "text", "text": "Q" * 4400}
    first = [user([_cached("Q" * 4400)])]
    await _usage(client, messages=first)
    short = [{"type": "text", "text": f"n{i:02d}"} for i in range(21)]  # 1 token each

    near = [user([long_question, *short[:19], _cached("end")])]  # 20 blocks after the entry
    assert (await _usage(client, messages=near))["read"] == 1103
    far = [user([long_question, *short, _cached("end")])]  # 22 blocks after: out of sight
    assert (await _usage(client, messages=far))["read"] == 0


# --- citations ------------------------------------------------------------------------------

LEASE_PAGES = [
    "This lease is made between the landlord and the tenant. The term is twelve months.",
    "The tenant shall pay the monthly rent of 1,200 euros on the first day of each month.",
]


def _text_pdf(pages: list[str]) -> str:
    from tests.files import make_pdf

    return base64.b64encode(make_pdf(pages)).decode()


def _cited_request(source: dict[str, Any], question: str, *, citations: bool = True):
    document = {"type": "document", "source": source, "title": "lease"}
    if citations:
        document["citations"] = {"enabled": True}
    return {**BASE, "messages": [user([document, {"type": "text", "text": question}])]}


async def test_a_pdf_is_cited_by_page_in_a_block_of_its_own(client):
    source = {"type": "base64", "media_type": "application/pdf", "data": _text_pdf(LEASE_PAGES)}
    request = _cited_request(source, "How much is the monthly rent?")
    async with client.messages.stream(**request) as stream:
        final = await stream.get_final_message()
    cited = [block for block in final.content if block.citations]
    assert len(final.content) == 3 and len(cited) == 1
    citation = cited[0].citations[0]
    assert citation.type == "page_location"
    assert (citation.start_page_number, citation.end_page_number) == (2, 3)  # end exclusive
    assert citation.cited_text == LEASE_PAGES[1]
    assert (citation.document_index, citation.document_title) == (0, "lease")
    assert cited[0].text == f"“{LEASE_PAGES[1]}”"
    # The blocks join into the reply's text, which still quotes the question first.
    assert "".join(block.text for block in final.content).startswith('You asked: "How much')


async def test_a_text_document_is_cited_by_characters(client):
    text = "Rent is due on the first. Notice is three months. Pets are not allowed."
    source = {"type": "text", "media_type": "text/plain", "data": text}
    final = await client.messages.create(**_cited_request(source, "What about the notice?"))
    [citation] = next(block for block in final.content if block.citations).citations
    assert citation.type == "char_location"
    assert text[citation.start_char_index : citation.end_char_index] == citation.cited_text
    assert citation.cited_text == "Notice is three months."


async def test_the_stream_sends_the_citation_before_the_cited_text(client):
    source = {"type": "text", "media_type": "text/plain", "data": "The term is one year."}
    stream = await client.messages.create(**_cited_request(source, "The term?"), stream=True)
    _text, events = await collect_stream(stream)
    deltas = [(e.index, e.delta.type) for e in events if e.type == "content_block_delta"]
    cited_index = next(index for index, kind in deltas if kind == "citations_delta")
    assert deltas[deltas.index((cited_index, "citations_delta")) + 1] == (cited_index,
                                                                           "text_delta")
    starts = [e.index for e in events if e.type == "content_block_start"]
    stops = [e.index for e in events if e.type == "content_block_stop"]
    assert starts == stops == [0, 1, 2]


async def test_no_citations_without_citable_documents(client):
    source = {"type": "text", "media_type": "text/plain", "data": "The term is one year."}
    final = await client.messages.create(
        **_cited_request(source, "The term?", citations=False)
    )
    assert len(final.content) == 1 and not final.content[0].citations


async def test_a_cited_reply_obeys_max_tokens_and_counts_every_block(client):
    source = {"type": "base64", "media_type": "application/pdf", "data": _text_pdf(LEASE_PAGES)}
    request = {**_cited_request(source, "The rent?"), "max_tokens": 12}
    final = await client.messages.create(**request)
    text = "".join(block.text for block in final.content)
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 12
    assert len(split_tokens(text, 4)) == 12


# --- concurrency --------------------------------------------------------------------------


async def test_fifty_paced_streams_run_side_by_side(upstream):
    upstream.set_pace(60)  # the default pace: 120 tokens take 2 s

    async def one(sdk: anthropic.AsyncAnthropic, index: int) -> tuple[float, float]:
        first_text = None
        async with sdk.messages.stream(
            **{**BASE, "messages": [user(f"Stream {index} [[tokens:120]]")]}
        ) as stream:
            async for event in stream:
                if event.type == "text" and first_text is None:
                    first_text = time.monotonic()
            final = await stream.get_final_message()
        assert final.usage.output_tokens == 120
        return first_text, time.monotonic()

    async with make_client(upstream) as sdk:
        spans = await asyncio.gather(*(one(sdk, index) for index in range(50)))

    # Side by side, not one after another: every stream was already under way before the
    # first one finished (an ordering of events, so a busy machine cannot make it flaky).
    assert max(first for first, _ in spans) < min(done for _, done in spans)


# --- thinking, tools, paused turns, prefill ------------------------------------------------

TOOLS = [{"name": "calculator", "description": "arithmetic",
          "input_schema": {"type": "object", "properties": {"expression": {"type": "string"}}}}]


async def test_thinking_comes_first_signed_and_must_come_back_unchanged(client):
    ask = [user("Think first [[tool:calculator {\"expression\": \"1+1\"}]]")]
    async with client.messages.stream(model=MODEL, max_tokens=4000, tools=TOOLS,
                                      thinking={"type": "adaptive"}, messages=ask) as stream:
        deltas = [e.delta.type async for e in stream if e.type == "content_block_delta"]
        first = await stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
    assert {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"} <= set(deltas)
    assert first.stop_reason == "tool_use" and first.content[0].signature
    assert first.usage.output_tokens_details.thinking_tokens > 0
    turn = [b.to_dict() for b in first.content]
    answer = {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": turn[2]["id"], "content": "2"}]}
    second = await client.messages.create(
        model=MODEL, max_tokens=4000, tools=TOOLS, thinking={"type": "adaptive"},
        messages=[*ask, {"role": "assistant", "content": turn}, answer],
    )
    assert second.stop_reason == "end_turn" and "- calculator: 2" in second.content[1].text
    turn[0]["thinking"] += " (edited)"
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        await client.messages.create(
            model=MODEL, max_tokens=4000, tools=TOOLS, thinking={"type": "adaptive"},
            messages=[*ask, {"role": "assistant", "content": turn}, answer],
        )


async def test_redacted_and_omitted_thinking(client):
    redacted = await client.messages.create(
        model=MODEL, max_tokens=4000, thinking={"type": "adaptive"},
        messages=[user("Secret [[redacted_thinking]]")])
    assert redacted.content[0].type == "redacted_thinking" and redacted.content[0].data
    omitted = await client.messages.create(
        model=MODEL, max_tokens=4000, thinking={"type": "adaptive", "display": "omitted"},
        messages=[user("Quiet")])
    assert omitted.content[0].type == "thinking" and omitted.content[0].thinking == ""


async def test_tool_phrases_make_parallel_calls(client):
    message = await client.messages.create(
        model=MODEL, max_tokens=500, tools=TOOLS,
        messages=[user('A [[tool:calculator {"expression": "2*3"}]] and '
                       '[[tool:current_datetime {"timezone": "UTC"}]]')])
    uses = [b for b in message.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["calculator", "current_datetime"]
    assert uses[0].input == {"expression": "2*3"} and uses[0].id != uses[1].id


async def test_a_paused_turn_is_continued_when_sent_back(client):
    ask = [user("Search [[pause_turn]]")]
    paused = await client.messages.create(model=MODEL, max_tokens=500, messages=ask)
    assert paused.stop_reason == "pause_turn"
    assert paused.content[-1].type == "server_tool_use"
    turn = {"role": "assistant", "content": [b.to_dict() for b in paused.content]}
    resumed = await client.messages.create(model=MODEL, max_tokens=500, messages=[*ask, turn])
    assert resumed.stop_reason == "end_turn" and resumed.content[0].text


async def test_a_prefill_gets_the_rest_of_the_same_reply(client):
    ask = [user("Continue me [[tokens:80]]")]
    whole = await client.messages.create(model="claude-haiku-4-5", max_tokens=500, messages=ask)
    text = whole.content[0].text
    prefix = text[:100].rstrip()
    rest = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=500,
        messages=[*ask, {"role": "assistant", "content": prefix}])
    assert prefix + rest.content[0].text == text
