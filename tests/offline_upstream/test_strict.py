"""The offline upstream is as strict as the Claude API under `anthropic-version: 2026-10-21`
(which SDK 2.x sends) and with the 5.x models: each rule here fails when it is taken out.

Facts: /work/shared/anthropic-api.md, section "API version 2026-10-21 and the 5.x generation".
"""

from __future__ import annotations

import base64
import io
from typing import Any

import anthropic
import httpx2
import pytest
from PIL import Image

from tests.upstream_fixtures import assistant, user

LEGACY_VERSION = "2023-06-01"


async def refused(call: Any) -> dict[str, Any]:
    """The error object of a request the upstream answers 400."""
    with pytest.raises(anthropic.BadRequestError) as raised:
        await call
    assert raised.value.status_code == 400
    return raised.value.body["error"]


def _png(width: int = 8, height: int = 8) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def image(data: str | None = None) -> dict[str, Any]:
    return {"type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": data or _png()}}


def text_document(text: str, citations: bool) -> dict[str, Any]:
    return {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                           "data": text},
            "title": "Notes", "citations": {"enabled": citations}}


# --- sampling parameters ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("temperature", 1.0), ("top_p", 0.9), ("top_k", 5)])
async def test_sampling_parameters_are_refused_at_any_value(sdk, name, value):
    error = await refused(sdk.messages.create(
        model="claude-haiku-4-5", max_tokens=100, messages=[user("hi")],
        extra_body={name: value}))
    assert error == {"type": "invalid_request_error",
                     "message": f"{name}: Extra inputs are not permitted"}


async def test_the_legacy_version_still_takes_a_temperature(sdk):
    message = await sdk.messages.create(
        model="claude-haiku-4-5", max_tokens=500, messages=[user("hi")],
        extra_body={"temperature": 0.5}, extra_headers={"anthropic-version": LEGACY_VERSION})
    assert message.stop_reason == "end_turn"


# --- documents and citations -----------------------------------------------------------------


async def test_a_document_in_an_assistant_turn_is_refused(sdk):
    doc = text_document("The rent is due on the first.", citations=False)
    error = await refused(sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=100,
        messages=[user("Read this"), assistant([doc]), user("And now?")]))
    assert error["message"].startswith("messages.1.content.0: `document` blocks are not permitted")


async def test_citations_on_a_text_block_in_a_user_turn_are_refused(sdk):
    cited = {"type": "text", "text": "As the notes say.", "citations": [{
        "type": "char_location", "cited_text": "x", "document_index": 0,
        "document_title": None, "start_char_index": 0, "end_char_index": 1}]}
    error = await refused(sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[user([cited])]))
    assert error["message"].startswith("messages.0.content.0.citations: citations are not")
    # An empty list is no citation at all: taken.
    plain = {"type": "text", "text": "As the notes say.", "citations": []}
    await sdk.messages.create(model="claude-sonnet-4-6", max_tokens=100,
                                 messages=[user([plain])])


async def test_citations_inside_a_search_result_in_a_user_turn_are_refused(sdk):
    result = {"type": "search_result", "source": "https://example.com", "title": "Example",
              "content": [{"type": "text", "text": "Found.", "citations": [{
                  "type": "char_location", "cited_text": "x", "document_index": 0,
                  "document_title": None, "start_char_index": 0, "end_char_index": 1}]}]}
    error = await refused(sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=100,
        messages=[user([result, {"type": "text", "text": "Summarise"}])]))
    assert "citations are not permitted" in error["message"]


async def test_documents_cannot_mix_citations_on_and_off(sdk):
    mixed = [text_document("First.", citations=True), text_document("Second.", citations=False),
             {"type": "text", "text": "Compare them"}]
    error = await refused(sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[user(mixed)]))
    assert error["message"].startswith("Citations must be enabled for all documents or for none")
    same = [text_document("First.", citations=True), text_document("Second.", citations=True),
            {"type": "text", "text": "Compare them"}]
    await sdk.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[user(same)])


# --- media limits ----------------------------------------------------------------------------


async def test_an_image_over_ten_megabytes_of_base64_is_refused(upstream):
    # Raw HTTP: the SDK would take seconds to copy a 10 MB body through its types.
    size = 10 * 1024 * 1024 + 4
    body = {"model": "claude-sonnet-4-6", "max_tokens": 100,
            "messages": [user([image("A" * size), {"type": "text", "text": "What is it?"}])]}
    async with httpx2.AsyncClient(base_url=upstream.base_url, timeout=30) as http:
        response = await http.post("/v1/messages", json=body, headers={
            "x-api-key": "test", "anthropic-version": "2026-10-21"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "messages.0.content.0.image.source.base64: image exceeds 10 MB maximum: "
        f"{size} bytes > 10485760 bytes")


async def test_too_much_media_on_a_200k_model(sdk):
    images = [image() for _ in range(101)]
    error = await refused(sdk.messages.create(
        model="claude-haiku-4-5", max_tokens=100,
        messages=[user([*images, {"type": "text", "text": "Describe"}])]))
    assert error["message"] == "Too much media: 0 document pages + 101 images > 100"
    await sdk.messages.create(
        model="claude-haiku-4-5", max_tokens=100,
        messages=[user([*images[:100], {"type": "text", "text": "Describe"}])])


async def test_too_much_media_counts_pages_and_images_on_a_1m_model(sdk):
    from tests.files import make_pdf

    pdf = {"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf",
        "data": base64.b64encode(make_pdf(["Page one.", "Page two."])).decode()}}
    error = await refused(sdk.messages.create(
        model="claude-sonnet-4-6", max_tokens=100,
        messages=[user([pdf, *[image() for _ in range(599)], {"type": "text", "text": "Go"}])]))
    assert error["message"] == "Too much media: 2 document pages + 599 images > 600"


# --- prefill and forced tools ----------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-5",
                                   "claude-sonnet-5-5", "claude-fable-5-1", "claude-haiku-5-5"])
async def test_prefill_is_refused_from_the_4_6_generation_on(sdk, model):
    error = await refused(sdk.messages.create(
        model=model, max_tokens=2000, messages=[user("Hi"), assistant("Sure,")]))
    assert error["message"].startswith("This model does not support assistant message prefill.")


@pytest.mark.filterwarnings("ignore:The model 'claude-opus-4-5' is deprecated")
@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-opus-4-5"])
async def test_older_models_still_take_a_prefill(sdk, model):
    message = await sdk.messages.create(
        model=model, max_tokens=500, messages=[user("Hi"), assistant("You asked")])
    assert message.stop_reason == "end_turn"


TOOLS = [{"name": "calculator", "description": "arithmetic",
          "input_schema": {"type": "object", "properties": {"expression": {"type": "string"}}}}]


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1"])
@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "calculator"}])
async def test_forced_tool_choice_is_refused_where_thinking_cannot_be_off(sdk, model, choice):
    error = await refused(sdk.messages.create(
        model=model, max_tokens=2000, tools=TOOLS, tool_choice=choice,
        messages=[user("What is 2+2?")]))
    assert error["message"].startswith(f"tool_choice: `{choice['type']}` is not supported")


@pytest.mark.parametrize("model", ["claude-fable-5-2", "claude-opus-5", "claude-sonnet-4-6"])
async def test_other_models_take_a_forced_tool_choice(sdk, model):
    message = await sdk.messages.create(
        model=model, max_tokens=2000, tools=TOOLS, tool_choice={"type": "any"},
        messages=[user("What is 2+2?")])
    # Accepted, and a tool is called, as a forced choice asks (the calculator, for arithmetic).
    assert message.stop_reason == "tool_use" and message.content[-1].name == "calculator"


# --- thinking types and efforts per model ------------------------------------------------------

DISABLED = {"type": "disabled"}
BUDGET = {"type": "enabled", "budget_tokens": 1024}


@pytest.mark.parametrize(
    ("model", "thinking", "effort", "message"),
    [
        ("claude-haiku-5-5", DISABLED, "xhigh", '"thinking.type.disabled" is only supported'),
        ("claude-opus-5", DISABLED, "max", '"thinking.type.disabled" is only supported'),
        ("claude-sonnet-5-5", DISABLED, None, '"thinking.type.disabled" is not supported'),
        ("claude-sonnet-5-5", {"type": "between_tools"}, "xhigh",
         '"thinking.type.between_tools" is only supported'),
        ("claude-opus-5-5", DISABLED, None, '"thinking.type.disabled" is not supported'),
        ("claude-opus-5-5", BUDGET, None, '"thinking.type.enabled" is not supported'),
        ("claude-fable-5-1", DISABLED, None, '"thinking.type.disabled" is not supported'),
        ("claude-fable-5-1", BUDGET, None, '"thinking.type.enabled" is not supported'),
        ("claude-opus-4-7", BUDGET, None, '"thinking.type.enabled" is not supported'),
        ("claude-haiku-4-5", {"type": "adaptive"}, None,
         "adaptive thinking is not supported on this model"),
        ("claude-haiku-4-5", {"type": "enabled", "budget_tokens": 1000}, None,
         "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
        ("claude-haiku-4-5", {"type": "enabled", "budget_tokens": 4000}, None,
         "`max_tokens` must be greater than `thinking.budget_tokens`"),
        ("claude-sonnet-4-6", {"type": "adaptive"}, "extreme",
         "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"),
    ],
    ids=["haiku-5-5-disabled-xhigh", "opus-5-disabled-max", "sonnet-5-5-disabled",
         "sonnet-5-5-between-tools-xhigh", "opus-5-5-disabled", "opus-5-5-budget",
         "fable-5-1-disabled", "fable-5-1-budget", "opus-4-7-budget", "haiku-4-5-adaptive",
         "haiku-4-5-small-budget", "haiku-4-5-budget-over-max", "unknown-effort"],
)
async def test_thinking_a_model_does_not_take_is_refused(sdk, model, thinking, effort, message):
    extra = {"output_config": {"effort": effort}} if effort else {}
    error = await refused(sdk.messages.create(
        model=model, max_tokens=4000, thinking=thinking, messages=[user("Hi")], **extra))
    assert error["message"].startswith(message)


@pytest.mark.parametrize(
    ("model", "thinking", "effort"),
    [
        ("claude-haiku-5-5", DISABLED, "high"),
        ("claude-haiku-5-5", DISABLED, None),  # default effort medium
        ("claude-opus-5", DISABLED, "low"),
        ("claude-sonnet-5-5", {"type": "between_tools"}, "medium"),
        ("claude-sonnet-5-5", {"type": "between_tools"}, None),  # default effort high
        ("claude-opus-5-5", {"type": "adaptive"}, "low"),
        ("claude-fable-5-1", {"type": "adaptive"}, "max"),
        ("claude-haiku-4-5", {"type": "enabled", "budget_tokens": 1024}, None),
        ("claude-sonnet-4-6", {"type": "enabled", "budget_tokens": 1024}, None),
    ],
)
async def test_thinking_a_model_takes_is_answered(sdk, model, thinking, effort):
    extra = {"output_config": {"effort": effort}} if effort else {}
    message = await sdk.messages.create(
        model=model, max_tokens=4000, thinking=thinking, messages=[user("Hi")], **extra)
    assert message.stop_reason == "end_turn"
    assert (message.content[0].type == "thinking") == (thinking["type"] != "disabled"
                                                       and thinking["type"] != "between_tools")


async def _thinking_tokens(sdk, model: str, effort: str | None) -> int:
    extra = {"output_config": {"effort": effort}} if effort else {}
    message = await sdk.messages.create(model=model, max_tokens=4000,
                                           messages=[user("How deep?")], **extra)
    return message.usage.output_tokens_details.thinking_tokens


@pytest.mark.parametrize(("model", "default"), [
    ("claude-opus-5-5", "medium"), ("claude-haiku-5-5", "medium"),
    ("claude-sonnet-5-5", "high"), ("claude-opus-5", "high"), ("claude-fable-5-1", "high"),
])
async def test_each_model_thinks_at_its_default_effort(sdk, model, default):
    unset = await _thinking_tokens(sdk, model, None)
    assert unset == await _thinking_tokens(sdk, model, default)
    other = "high" if default == "medium" else "medium"
    assert unset != await _thinking_tokens(sdk, model, other)


# --- models: lifecycle and facts --------------------------------------------------------------


async def test_a_retired_model_is_listed_as_retired_and_answers_no_request(sdk):
    sonnet = await sdk.models.retrieve("claude-sonnet-4-5")
    assert sonnet.lifecycle == "retired"
    assert sonnet.retires_at.isoformat().startswith("2026-11-30")
    assert sonnet.deprecated_at is not None
    listed = [m.id async for m in sdk.models.list(limit=100)]
    assert "claude-sonnet-4-5" not in listed
    retired = [m.id async for m in sdk.models.list(limit=100, lifecycle=["retired"])]
    assert retired == ["claude-sonnet-4-5"]
    with pytest.raises(anthropic.NotFoundError) as raised:
        await sdk.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                                     messages=[user("hi")])
    assert raised.value.body["error"] == {"type": "not_found_error",
                                          "message": "model: claude-sonnet-4-5"}


async def test_opus_4_5_is_deprecated_with_its_end_of_life_and_still_answers(sdk):
    opus = await sdk.models.retrieve("claude-opus-4-5")
    assert opus.lifecycle == "deprecated"
    assert opus.retires_at.isoformat().startswith("2027-01-22")
    assert "claude-opus-4-5" in [m.id async for m in sdk.models.list(limit=100)]
    # The SDK knows the same end of life and warns about it.
    with pytest.warns(DeprecationWarning, match="end-of-life on January 22nd, 2027"):
        message = await sdk.messages.create(model="claude-opus-4-5", max_tokens=500,
                                               messages=[user("hi")])
    assert message.stop_reason == "end_turn"


async def test_the_fable_models_are_in_the_catalogue(sdk):
    for model_id in ("claude-fable-5-1", "claude-fable-5-2"):
        fable = await sdk.models.retrieve(model_id)
        assert fable.lifecycle == "active" and fable.line == "fable"
        assert fable.max_input_tokens == 1_000_000 and fable.max_tokens == 128_000
        assert not fable.capabilities.thinking.types.disabled.supported
        assert fable.capabilities.thinking.types.adaptive.supported


async def test_haiku_5_5_is_in_the_high_image_tier(sdk):
    # 2000 × 2000 px: the high tier keeps it (⌈2000/28⌉² = 5184, capped at 4784 tokens); the
    # standard tier would scale it to 1568 px first (≤ 1568 tokens).
    counted = await sdk.messages.count_tokens(
        model="claude-haiku-5-5", messages=[user([image(_png(2000, 2000))])])
    assert counted.input_tokens == 4784 + 3


async def test_haiku_5_5_caches_a_prefix_from_512_tokens(sdk):
    system = [{"type": "text", "text": "S" * 1700, "cache_control": {"type": "ephemeral"}}]
    message = await sdk.messages.create(
        model="claude-haiku-5-5", max_tokens=4000, system=system, messages=[user("hi")])
    assert message.usage.cache_creation_input_tokens == 567  # ⌈1700 / 3⌉ ≥ 512


# --- Message Batches ---------------------------------------------------------------------------


async def test_a_batch_holds_at_most_ten_thousand_requests(sdk):
    params = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [user("hi")]}
    requests = [{"custom_id": f"r{i}", "params": params} for i in range(10_001)]
    error = await refused(sdk.messages.batches.create(requests=requests))
    assert error["message"] == (
        "requests: List should have at most 10000 items after validation, not 10001")
    batch = await sdk.messages.batches.create(requests=requests[:10_000])
    assert batch.request_counts.processing == 10_000
